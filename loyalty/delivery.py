"""What one day's intake carries between the steps of the nightly flow: rows, files and provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd


@dataclass
class FileRecord:
    """One landing file seen for a delivery day, and what became of it."""

    path: str
    sha256: str
    size_bytes: int
    file_format: str
    status: str = "pending"  # loaded | duplicate | rejected
    reason: str | None = None
    duplicate_of: str | None = None
    warnings: list[str] = field(default_factory=list)
    rows_in: int | None = None
    rows_loaded: int | None = None
    rows_quarantined: int | None = None


@dataclass
class Delivery:
    """The raw rows of one entity for one delivery day, before validation."""

    entity: str
    delivery_day: date
    source: str
    rows: pd.DataFrame
    malformed: list[dict[str, Any]] = field(default_factory=list)
    files: list[FileRecord] = field(default_factory=list)
    window_start: datetime | None = None
    window_end: datetime | None = None

    @property
    def rows_in(self) -> int:
        return len(self.rows) + len(self.malformed)


@dataclass
class CheckedDelivery:
    """A delivery after validation: typed valid rows and quarantined rows with reasons."""

    delivery: Delivery
    valid: pd.DataFrame
    rejected: pd.DataFrame

    @property
    def rows_in(self) -> int:
        return len(self.valid) + len(self.rejected)


@dataclass(frozen=True)
class LoadSummary:
    entity: str
    delivery_day: date
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    files_seen: int
    files_loaded: int
    files_duplicate: int
    files_rejected: int
    business_days: tuple[date, ...]
    quarantined_by_reason: dict[str, int]
    # Rows failing each reason code (a row may fail several; quarantined_by_reason counts its first only).
    failed_rules: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "delivery_day": self.delivery_day.isoformat(),
            "rows_in": self.rows_in,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "files_seen": self.files_seen,
            "files_loaded": self.files_loaded,
            "files_duplicate": self.files_duplicate,
            "files_rejected": self.files_rejected,
            "business_days": [d.isoformat() for d in self.business_days],
            "quarantined_by_reason": dict(self.quarantined_by_reason),
            "failed_rules": dict(self.failed_rules),
        }
