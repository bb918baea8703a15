"""The per-day sequence shared by the nightly and backfill flows: extract -> validate -> load per entity.

Only ordering, logging and the run ledger live here; every step is a task.

A parallel backfill prepares (extracts and validates) the days of a chunk at once on its task runner, then
loads them one day after another, in order, in this process. A day's extract depends on the days loaded
before it (a file already loaded by an earlier day is a duplicate; a SQL window starts at the previous
day's watermark), so each prepared delivery is checked against the warehouse just before its load and
extracted again, in order, if an earlier day of the chunk changed what it depends on. So a parallel backfill
loads exactly what a serial one does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from prefect.futures import PrefectFuture, wait

from loyalty.contract import ENTITIES
from loyalty.db import get_engine
from loyalty.delivery import CheckedDelivery, LoadSummary
from loyalty.settings import Settings
from tasks.extract import basis_unchanged, extract_entity, extraction_basis
from tasks.load import load_entity, record_run_end, record_run_start
from tasks.validate import validate_entity


@dataclass
class DayOutcome:
    day: date
    summaries: list[LoadSummary] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def touched_days(self) -> list[date]:
        """Business days whose weekly metrics moved: those of loaded responses, transactions and outreach
        (an outreach changes the status of the cases open that week and after).

        A customer's business day is the day the account was created, often long before; a new customer
        row changes no past week's figures, so it does not reopen those weeks.
        """
        metric_entities = {"transactions", "survey_responses", "outreach"}
        return sorted({d for s in self.summaries if s.entity in metric_entities for d in s.business_days})


@dataclass
class Prepared:
    """A delivery extracted and validated ahead of its load, and what the warehouse said when it was read."""

    checked: PrefectFuture
    basis: dict[str, str | None]


def prepare_days(settings: Settings, days: list[date], entities: list[str] | None = None) -> dict[tuple, Prepared]:
    """Submit extract -> validate of every (day, entity) to the flow's task runner; wait until all are done.

    Waiting for all before the first load keeps the warehouse unchanged while any of them reads it.
    """
    prepared: dict[tuple, Prepared] = {}
    for day in days:
        for entity in entities or list(ENTITIES):
            basis = extraction_basis(settings, entity, day)
            delivery = extract_entity.submit(settings, entity, day)
            prepared[(day, entity)] = Prepared(validate_entity.submit(delivery, settings), basis)
    wait([p.checked for p in prepared.values()])
    return prepared


def _take_prepared(
    settings: Settings,
    day: date,
    entity: str,
    prepared: Prepared | None,
    logger: logging.Logger | logging.LoggerAdapter,
) -> CheckedDelivery | None:
    """The prepared delivery if it is still what an extract would give now; else None (extract in order)."""
    if prepared is None:
        return None
    try:
        checked = prepared.checked.result()
    except Exception as exc:  # extracted again in order, with the task's retries, and recorded there if it fails
        logger.warning("%s %s: preparing failed (%s); extracting again in order", entity, day, type(exc).__name__)
        return None
    if not basis_unchanged(checked.delivery, prepared.basis, extraction_basis(settings, entity, day)):
        logger.info("%s %s: an earlier day changed what this delivery depends on; extracting again", entity, day)
        return None
    return checked


def load_delivery_day(
    settings: Settings,
    day: date,
    run_id: str,
    logger: logging.Logger | logging.LoggerAdapter,
    entities=None,
    prepared: dict[tuple, Prepared] | None = None,
) -> DayOutcome:
    """Run one delivery day for each entity; a failing entity is recorded and the others still load."""
    engine = get_engine(settings.warehouse_url)
    outcome = DayOutcome(day=day)
    for entity in entities or list(ENTITIES):
        record_run_start(engine, run_id, entity, day, settings.source_kind)
        try:
            checked = _take_prepared(settings, day, entity, (prepared or {}).get((day, entity)), logger)
            if checked is None:
                checked = validate_entity(extract_entity(settings, entity, day), settings)
            delivery = checked.delivery
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
