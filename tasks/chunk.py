"""The intake of a chunk of delivery days: extract -> validate -> load, per entity, in three task runs.

This is the one function both flows run (the nightly run is a chunk of one day, a backfill a chunk after
another) and the tests call. Inside a flow run each step is a Prefect task run named with its entity and days
(``extract-transactions-2026-11-16..2026-11-22``); outside one (tests, scripts) the same steps run as plain
functions.

Per entity and chunk the files are read once, the rows of every day are validated in one suite run, and the
days' partitions are replaced in one transaction together with their run-ledger records (one statement per
table; loyalty/warehouse.py:write_partitions), or, when that fails, day after day, each in its own. What a
day's extract depends on from earlier days of the chunk (files they load, the end of their SQL window) is
carried forward by the extract itself, so a chunk loads exactly what the same days run one by one would.

With ``parallel`` (a Dask task runner), the entities of a chunk are extracted and validated at the same time
on the runner; the loads then run in this process. Entities do not depend on each other's intake.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from loyalty.contract import ENTITIES
from loyalty.db import get_engine
from loyalty.delivery import CheckedDelivery, LoadSummary
from loyalty.settings import Settings
from loyalty.warehouse import INTAKE_ANALYZED, refresh_planner_statistics
from tasks.extract import extract_days
from tasks.load import LoadedDays, error_text, load_days, loaded_days, record_run_end, record_runs_start
from tasks.validate import validate_days

log = logging.getLogger(__name__)

#: The entities whose rows move weekly metrics. A customer row's business day is the day the account was
#: created, often long before; a new or corrected customer changes no past week's figures, so it reopens none.
METRIC_ENTITIES = ("transactions", "survey_responses", "outreach")


def parallel_intake(settings: Settings, runner: str) -> bool:
    """Whether a backfill prepares a chunk's entities in parallel: on Dask, and only for file sources (a SQL
    source is read through a limited number of source slots, one window after another)."""
    return runner == "dask" and settings.source_kind == "files"


@dataclass
class ChunkOutcome:
    """What a chunk's intake did: per-day summaries and failures by (day, entity)."""

    days: list[date]
    summaries: list[LoadSummary] = field(default_factory=list)
    failures: dict[tuple[date, str], str] = field(default_factory=dict)

    @property
    def touched_days(self) -> list[date]:
        """Business days whose weekly metrics moved: those of loaded responses and transactions."""
        return sorted({d for s in self.summaries if s.entity in METRIC_ENTITIES for d in s.business_days})

    def of_day(self, day: date) -> tuple[list[LoadSummary], dict[str, str]]:
        summaries = [s for s in self.summaries if s.delivery_day == day]
        return summaries, {entity: m for (d, entity), m in self.failures.items() if d == day}

    def day_rows(self) -> list[dict]:
        """One row per delivery day, for the per-day table artifact."""
        rows = []
        for day in self.days:
            summaries, failures = self.of_day(day)
            rows.append(
                {
                    "delivery day": day.isoformat(),
                    "status": "failed: " + ", ".join(failures) if failures else "loaded",
                    "rows in": sum(s.rows_in for s in summaries),
                    "loaded": sum(s.rows_loaded for s in summaries),
                    "quarantined": sum(s.rows_quarantined for s in summaries),
                }
            )
        return rows


def _in_flow_run() -> bool:
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


def intake_chunk(
    settings: Settings,
    days: list[date],
    run_id: str,
    entities: list[str] | None = None,
    *,
    parallel: bool = False,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> ChunkOutcome:
    """Extract, validate and load ``days`` for each entity; a failing entity or day is recorded, others load."""
    logger = logger or log
    days = sorted(days)
    entities = list(entities or ENTITIES)
    engine = get_engine(settings.warehouse_url)
    record_runs_start(engine, run_id, entities, days, settings.source_kind)
    # PostgreSQL: plan this chunk's lookups on the rows the earlier chunks loaded (loyalty/warehouse.py).
    if analyzed := refresh_planner_statistics(engine, INTAKE_ANALYZED):
        logger.info("planner statistics refreshed before the chunk: %s", ", ".join(analyzed))
    outcome = ChunkOutcome(days=days)
    as_tasks = _in_flow_run()
    prepared = {}
    if as_tasks and parallel:
        for entity in entities:
            # Prefect resolves a future passed as an argument; its typed overloads do not say so.
            extracted = extract_days.submit(settings, entity, days)
            prepared[entity] = validate_days.submit(extracted, settings, entity, days)  # type: ignore[call-overload]
    for entity in entities:
        try:
            checked: list[CheckedDelivery]
            if entity in prepared:
                checked = prepared[entity].result()
            elif as_tasks:
                checked = validate_days(extract_days(settings, entity, days), settings, entity, days)
            else:
                checked = validate_days.fn(extract_days.fn(settings, entity, days), settings)
            loaded: LoadedDays = loaded_days(
                load_days(checked, settings, run_id, return_state=True)
                if as_tasks
                else load_days.fn(checked, settings, run_id)
            )
        except Exception as exc:
            message = error_text(exc)
            for day in days:
                record_run_end(engine, run_id, entity, day, error=message)
                outcome.failures[(day, entity)] = message
            logger.error("%s %s: FAILED, nothing written for these days: %s", entity, _span(days), message)
            continue
        for day, message in loaded.failures.items():
            outcome.failures[(day, entity)] = message
            logger.error("%s %s: FAILED, nothing written for this day: %s", entity, day, message)
        files = {c.delivery.delivery_day: c.delivery.files for c in checked}
        for summary in loaded.summaries:
            outcome.summaries.append(summary)
            for record in files.get(summary.delivery_day, []):
                if record.status != "loaded":
                    logger.warning(
                        "%s %s: file %s %s (%s)",
                        entity,
                        summary.delivery_day,
                        record.path,
                        record.status,
                        record.reason,
                    )
            logger.info(
                "%s %s: in=%d loaded=%d quarantined=%d (files: %d loaded, %d duplicate, %d rejected)",
                entity,
                summary.delivery_day,
                summary.rows_in,
                summary.rows_loaded,
                summary.rows_quarantined,
                summary.files_loaded,
                summary.files_duplicate,
                summary.files_rejected,
            )
    outcome.summaries.sort(key=lambda s: (s.delivery_day, entities.index(s.entity)))
    return outcome


def _span(days: list[date]) -> str:
    return days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]}"


def failure_message(flow_name: str, failures: dict[str, str]) -> str:
    return f"{flow_name}: {len(failures)} failed: " + "; ".join(f"{k}: {v}" for k, v in failures.items())
