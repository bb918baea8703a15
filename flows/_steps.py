"""The per-day sequence shared by the nightly and backfill flows: extract -> validate -> load per entity.

Only ordering, logging and the run ledger live here; every step is a task.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from loyalty.contract import ENTITIES
from loyalty.db import get_engine
from loyalty.delivery import LoadSummary
from loyalty.settings import Settings
from tasks.extract import extract_entity
from tasks.load import load_entity, record_run_end, record_run_start
from tasks.validate import validate_entity


@dataclass
class DayOutcome:
    day: date
    summaries: list[LoadSummary] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def touched_days(self) -> list[date]:
        return sorted({d for s in self.summaries for d in s.business_days})


def load_delivery_day(
    settings: Settings, day: date, run_id: str, logger: logging.Logger | logging.LoggerAdapter, entities=None
) -> DayOutcome:
    """Run one delivery day for each entity; a failing entity is recorded and the others still load."""
    engine = get_engine(settings.warehouse_url)
    outcome = DayOutcome(day=day)
    for entity in entities or list(ENTITIES):
        record_run_start(engine, run_id, entity, day, settings.source_kind)
        try:
            delivery = extract_entity(settings, entity, day)
            checked = validate_entity(delivery, settings)
            summary = load_entity(checked, settings, run_id)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            record_run_end(engine, run_id, entity, day, error=message)
            outcome.failures[entity] = message
            logger.error("%s %s: FAILED, nothing written for this day: %s", entity, day, message)
            continue
        record_run_end(
            engine,
            run_id,
            entity,
            day,
            summary,
            files=[f.path for f in delivery.files],
            window=(delivery.window_start, delivery.window_end),
        )
        outcome.summaries.append(summary)
        for record in delivery.files:
            if record.status != "loaded":
                logger.warning("%s %s: file %s %s (%s)", entity, day, record.path, record.status, record.reason)
        logger.info(
            "%s %s: in=%d loaded=%d quarantined=%d (files: %d loaded, %d duplicate, %d rejected)",
            entity,
            day,
            summary.rows_in,
            summary.rows_loaded,
            summary.rows_quarantined,
            summary.files_loaded,
            summary.files_duplicate,
            summary.files_rejected,
        )
    return outcome


def failure_message(flow_name: str, failures: dict[str, str]) -> str:
    return f"{flow_name}: {len(failures)} failed: " + "; ".join(f"{k}: {v}" for k, v in failures.items())
