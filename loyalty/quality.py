"""What validation did to a delivery day, in counts only: the rules rows failed, per entity and day.

Three readers: the run's validation artifact in the Prefect UI (``validation_rows``), ``loyalty quarantine``
(``masked_record``: one quarantined row's values, masked as the report masks them) and ``loyalty replay``
(``read_day_state`` before and after a day is run again, ``day_changes`` between them).

A reason code names the rule a row failed (``out_of_range:nps``); :func:`expectation_of` names the check
behind it: a Great Expectations expectation of the entity's suite (``expect_column_values_to_be_between``), or
the intake's own checks that run before the suite (parsing values into contract types, the file parser,
duplicate ids). Nothing here returns a value from a row, except :func:`masked_record`, which is for the
operator's terminal only.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from loyalty.coerce import VERBATIM_COLUMNS
from loyalty.contract import ENTITIES, get_entity
from loyalty.delivery import LoadSummary
from loyalty.textsafe import display_line
from loyalty.validation import rules_for

#: Checks that are not expectations of the GX suite, by the first part of their reason code.
_INTAKE_CHECKS = {
    "duplicate_id_same_content": "unique id (in the delivery and across deliveries)",
    "duplicate_id_conflict": "unique id (in the delivery and across deliveries)",
    "csv_wrong_field_count": "file parser (CSV)",
    "csv_malformed": "file parser (CSV)",
    "jsonl_unparseable": "file parser (JSONL)",
    "jsonl_not_an_object": "file parser (JSONL)",
}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def reason_codes(reasons: str | None) -> list[str]:
    """The codes of a quarantine row's ``reasons`` (``;``-joined, in rule order)."""
    return [code for code in (reasons or "").split(";") if code]


def expectation_of(entity: str, code: str) -> str:
    """The check behind reason ``code``: a suite expectation with its column, or one of the intake's checks."""
    for rule in rules_for(get_entity(entity)):
        if rule.reason == code:
            return f"{_CAMEL.sub('_', rule.expectation).lower()}({rule.column})"
    if code in _INTAKE_CHECKS:
        return _INTAKE_CHECKS[code]
    kind, _, column = code.partition(":")
    return f"contract type of {column} (parsed before the suite)" if column else kind


def failed_rules(reasons: list[str]) -> dict[str, int]:
    """Rows failing each reason code, from the ``reasons`` of quarantined rows (a row may fail several)."""
    return dict(sorted(Counter(code for r in reasons for code in reason_codes(r)).items()))


def validation_rows(summaries: list[LoadSummary], failures: dict[tuple[date, str], str] | None = None) -> list[dict]:
    """Table rows for the validation artifact: per delivery day and entity, each failed rule with its count.

    Counts, days, entities, reason codes and check names only: never a value from a row.
    """
    out: list[dict] = []

    def row(day: date, entity: str, code: str, failing: int | None, check: str, counts: tuple) -> dict:
        return {
            "delivery day": day.isoformat(),
            "entity": entity,
            "reason code": display_line(code),
            "rows failing": failing,
            "check": check,
            "rows in": counts[0],
            "loaded": counts[1],
            "quarantined": counts[2],
        }

    for s in sorted(summaries, key=lambda s: (s.delivery_day, list(ENTITIES).index(s.entity))):
        counts = (s.rows_in, s.rows_loaded, s.rows_quarantined)
        if not s.failed_rules:
            check = "every rule passed" if s.rows_in else "no rows delivered"
            out.append(row(s.delivery_day, s.entity, "", 0, check, counts))
        for code, count in s.failed_rules.items():
            out.append(row(s.delivery_day, s.entity, code, count, expectation_of(s.entity, code), counts))
    for (day, entity), _message in sorted((failures or {}).items()):
        check = "not validated: the delivery failed (see the run's failures)"
        out.append(row(day, entity, "", None, check, (None, None, None)))
    return out


# --- one quarantined row on the operator's terminal -----------------------------------------------------------

SHOWN_CHARS = 40


def _clip(value: Any, width: int = SHOWN_CHARS) -> str:
    text = display_line(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def masked_record(entity: str, raw_record: str | None) -> str:
    """A quarantined row's raw values for a terminal, masked as the report masks them.

    Emails as ``j***@example.com``; free text (a comment; the outreach note, hidden everywhere) never shown,
    only its length; other values cut to 40 characters; controls and bidi escaped. A parser's raw line (a row
    that never became columns) is shown by its length only: it may hold anything.
    """
    from analytics.retain_list import mask_email

    try:
        record = json.loads(raw_record or "{}")
    except ValueError:
        return "(raw record unreadable)"
    if not isinstance(record, dict):
        return "(raw record unreadable)"
    columns = {c.name: c for c in get_entity(entity).columns}
    parts = []
    for name, value in record.items():
        column = columns.get(name)
        if column is None:  # {"text": line} or {"fields": [...]} of a line the parser could not read
            size = len(value) if isinstance(value, str | list) else len(json.dumps(value))
            parts.append(f"{_clip(name, 20)}=({size} {'fields' if isinstance(value, list) else 'chars'})")
            continue
        if value is None or value == "":
            continue
        if column.is_hidden:
            shown = f"(hidden, {len(str(value))} chars)"
        elif name in VERBATIM_COLUMNS:
            shown = f"(free text, {len(str(value))} chars)"
        elif column.is_personal:
            shown = _clip(mask_email(value if isinstance(value, str) else str(value)))
        elif isinstance(value, dict | list):
            shown = f"(nested {type(value).__name__})"
        else:
            shown = _clip(value)
        parts.append(f"{name}={shown}")
    return " ".join(parts)


# --- a delivery day before and after a replay -------------------------------------------------------------------


@dataclass
class DayState:
    """What the warehouse holds for one delivery day: per entity, rows loaded and quarantined, and the rows
    failing each reason code."""

    day: date
    loaded: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    rules: dict[str, dict[str, int]] = field(default_factory=dict)
    files: dict[str, dict[str, int]] = field(default_factory=dict)

    def rows_in(self, entity: str) -> int:
        return self.loaded.get(entity, 0) + self.quarantined.get(entity, 0)


def read_day_state(conn: sa.Connection, day: date) -> DayState:
    """The day's partitions as they are now (counts only, read in one transaction)."""
    from loyalty.db import load_sql

    state = DayState(day)
    for r in conn.execute(load_sql("replay/day_loaded_rows"), {"day": day}):
        state.loaded[r.entity] = int(r.count_rows)
    rules: dict[str, Counter] = {}
    for r in conn.execute(load_sql("replay/day_quarantine_reasons"), {"day": day}):
        state.quarantined[r.entity] = state.quarantined.get(r.entity, 0) + int(r.count_rows)
        counter = rules.setdefault(r.entity, Counter())
        for code in reason_codes(r.reasons):
            counter[code] += int(r.count_rows)
    state.rules = {entity: dict(sorted(c.items())) for entity, c in rules.items()}
    for r in conn.execute(load_sql("replay/day_files"), {"day": day}):
        state.files.setdefault(r.entity, {})[r.status] = int(r.count_files)
    return state


@dataclass(frozen=True)
class EntityChange:
    entity: str
    before: tuple[int, int, int]  # rows in, loaded, quarantined
    after: tuple[int, int, int]
    files_before: dict[str, int]
    files_after: dict[str, int]

    @property
    def changed(self) -> bool:
        return self.before != self.after or self.files_before != self.files_after


@dataclass(frozen=True)
class RuleChange:
    entity: str
    code: str
    before: int
    after: int

    @property
    def verdict(self) -> str:
        if not self.before:
            return "appeared"
        if not self.after:
            return "disappeared"
        return "fewer" if self.after < self.before else "more"


def day_changes(before: DayState, after: DayState) -> tuple[list[EntityChange], list[RuleChange]]:
    """Per entity, rows in/loaded/quarantined and files before and after; every reason code whose count moved."""
    present = {*before.loaded, *after.loaded, *before.quarantined, *after.quarantined, *before.files, *after.files}
    entities = [e for e in ENTITIES if e in present]
    counts = [
        EntityChange(
            e,
            (before.rows_in(e), before.loaded.get(e, 0), before.quarantined.get(e, 0)),
            (after.rows_in(e), after.loaded.get(e, 0), after.quarantined.get(e, 0)),
            before.files.get(e, {}),
            after.files.get(e, {}),
        )
        for e in entities
    ]
    rules = []
    for e in entities:
        old, new = before.rules.get(e, {}), after.rules.get(e, {})
        for code in sorted({*old, *new}):
            if old.get(code, 0) != new.get(code, 0):
                rules.append(RuleChange(e, code, old.get(code, 0), new.get(code, 0)))
    return counts, rules
