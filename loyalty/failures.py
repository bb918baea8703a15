"""One short, readable line for the failures of a run: each distinct error once, with the days and entities
it hit. A run's state message is what the UI's run page and the failure alert show, so it must stay short
(about 300 characters) however many days failed; the full list goes to a table artifact (``failure_rows``).

Pure: no Prefect, no database. Messages carry no row values (the steps that produce them already say only
names, counts and paths).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

MAX_MESSAGE = 300
_MAX_ERROR_TEXT = 110


@dataclass(frozen=True)
class Failure:
    """One failed delivery (day, entity), or one failed step with no day (``day`` None, ``entity`` its name)."""

    day: date | None
    entity: str
    message: str

    @property
    def error(self) -> str:
        """The error with its own day taken out, so the same error on different days is one error."""
        text = self.message.splitlines()[0] if self.message else "unknown error"
        return text.replace(self.day.isoformat(), "<day>") if self.day else text


def day_ranges(days: Iterable[date]) -> str:
    """``2026-11-16..2026-11-18, 2026-11-20``: consecutive days as one range."""
    ordered = sorted(set(days))
    parts: list[str] = []
    run_start = prev = None
    for d in ordered:
        if prev is not None and d == prev + timedelta(days=1):
            prev = d
            continue
        if run_start is not None:
            parts.append(run_start.isoformat() if run_start == prev else f"{run_start}..{prev}")
        run_start = prev = d
    if run_start is not None:
        parts.append(run_start.isoformat() if run_start == prev else f"{run_start}..{prev}")
    return ", ".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarise_failures(what: str, failures: list[Failure], artifact_key: str | None = None) -> str:
    """``what: N failed (D days). <error> [entities; days]; ...`` in at most :data:`MAX_MESSAGE` characters.

    Errors are listed most frequent first (then by first appearance); those that do not fit are counted.
    """
    if not failures:
        return f"{what}: nothing failed"
    groups: dict[str, list[Failure]] = {}
    for f in failures:
        groups.setdefault(f.error, []).append(f)
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))  # stable: ties keep first appearance
    days = {f.day for f in failures if f.day}
    head = f"{what}: {len(failures)} failed" + (f" on {len(days)} days" if days else "") + "."
    tail = f" Full list: artifact {artifact_key}." if artifact_key else ""
    parts: list[str] = []
    for number, (error, group) in enumerate(ordered):
        entities = ", ".join(dict.fromkeys(f.entity for f in group))
        group_days = day_ranges(f.day for f in group if f.day)
        where = f"{entities}; {_clip(group_days, 60)}" if group_days else entities
        part = f" {_clip(error, _MAX_ERROR_TEXT)} [{len(group)}x: {_clip(where, 80)}]"
        rest = len(ordered) - number - 1
        more = f" +{rest} more distinct errors." if rest else ""
        if len(head) + sum(map(len, parts)) + len(part) + len(more) + len(tail) > MAX_MESSAGE and parts:
            parts.append(f" +{len(ordered) - number} more distinct errors.")
            break
        parts.append(part)
    return _clip(head + "".join(parts) + tail, MAX_MESSAGE)


def failure_rows(failures: list[Failure]) -> list[dict[str, str]]:
    """Every failure as a table row, in day then entity order, for the run's failures artifact."""
    return [
        {"delivery day": f.day.isoformat() if f.day else "", "entity": f.entity, "error": _clip(f.message, 500)}
        for f in sorted(failures, key=lambda f: (f.day or date.min, f.entity))
    ]
