"""The backfill flow: the nightly steps for every delivery day of a range, in order, in chunks, then the
metrics of every week touched (once, not once a day), and optionally the weekly reports of those weeks.

Chunks of ``chunk_days`` days run as ``backfill-chunk`` subflows one after another. Each chunk is three task
runs per entity (extract, validate, load of all its days; see ``tasks/chunk.py``), named with the entity and
the days. On the ``dask`` task runner a chunk's entities are extracted and validated in parallel and then
loaded in day order; the result is the same as a serial backfill's.

Re-running a range is safe and is how a crashed or killed backfill is finished: each delivery day replaces
its own partitions in one transaction, so nothing is loaded twice and a half-written day never stays.
``skip_done`` only saves time: it skips the leading days that are already done (``tasks/resume.py``).

Progress: a progress artifact ``backfill-progress-<start>-to-<end>`` in the UI (``flows/_ops.py``), and
:mod:`loyalty.progress` for the CLI's bar. At the end, a table artifact ``backfill-days`` lists every day with
its counts, ``backfill-validation-<start>-to-<end>`` the rules rows failed per day and entity, and
``backfill-failures`` every failed delivery. A chunk with a failed delivery ends Failed, with a
short message naming each distinct error once (:mod:`loyalty.failures`).

A run that stops without finishing (cancelled, crashed, killed) leaves its ledger rows ``interrupted``, from
its hooks or from the next run's sweep (``tasks/interrupted.py``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_table_artifact
from prefect.states import Failed

from analytics.weeks import iso_week_label
from flows._names import backfill_run_name, chunk_run_name, named_by
from flows._ops import (
    RunProgress,
    artifact_key,
    move_progress,
    publish_failures,
    publish_validation,
    refuse_ignored_job_variables,
)
from flows._params import ChunkDays, Day, Entities, TaskRunnerChoice
from flows._runners import chunk_task_runner
from loyalty import progress
from loyalty.contract import ENTITIES
from loyalty.db import get_engine
from loyalty.failures import Failure, summarise_failures
from loyalty.quality import validation_rows
from loyalty.settings import Settings, get_settings
from tasks.chunk import intake_chunk, parallel_intake
from tasks.interrupted import on_run_stopped, sweep_interrupted
from tasks.limits import ensure_source_limit
from tasks.load import prepare_warehouse
from tasks.metrics import complete_weeks, recompute_metrics, weeks_to_recompute
from tasks.resume import first_business_day_of, leading_done_days


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _progress_what(start: date, end: date) -> str:
    return f"delivery days of backfill {start} .. {end}"


def _report_progress(done: int, total: int, artifact_id: str | None, what: str, label: str) -> None:
    if artifact_id:
        move_progress(UUID(artifact_id), what, done, total)
    progress.report(done, total, label)


@flow(name="backfill-chunk", flow_run_name=named_by(chunk_run_name))
def backfill_chunk(
    start: date,
    end: date,
    run_id: str,
    entities: Entities = None,
    parallel: bool = False,
    done_before: int = 0,
    total_days: int = 0,
    progress_artifact_id: str | None = None,
    progress_what: str = "delivery days",
) -> dict:
    """Load the delivery days start..end (one intake per entity); with ``parallel``, entities side by side.

    Ends Failed (its result still the chunk's outcome) when a delivery failed, so the UI never shows a chunk
    Completed whose days failed.
    """
    logger = get_run_logger()
    settings = get_settings()
    days = _days(start, end)
    outcome = intake_chunk(settings, days, run_id, entities, parallel=parallel, logger=logger)
    _report_progress(
        done_before + len(days), total_days or len(days), progress_artifact_id, progress_what, end.isoformat()
    )
    out = {
        "days": outcome.day_rows(),
        "touched": outcome.touched_days,
        "validation": validation_rows(outcome.summaries, outcome.failures),
        "failures": [Failure(day, entity, m) for (day, entity), m in outcome.failures.items()],
    }
    if out["failures"]:
        return Failed(message=summarise_failures(f"chunk {start}..{end}", out["failures"]), data=out)
    return out


def render_weekly_reports(settings: Settings, weeks: list[str], logger) -> list[Failure]:  # type: ignore[no-untyped-def]
    """Run the weekly report flow for each week (not sending it); failures by week."""
    from flows.weekly_report import weekly_report

    failures: list[Failure] = []
    for week in weeks:
        state = weekly_report(week=week, send=False, return_state=True)
        if not state.is_completed():
            failures.append(Failure(None, f"report {week}", (state.message or state.name).splitlines()[0][:300]))
    logger.info("weekly reports rendered for %d of %d weeks", len(weeks) - len(failures), len(weeks))
    return failures


def _log_chunk(logger: Any, chunk: list[date], out: dict) -> None:
    """One line per chunk in the parent run's logs, so its page tells the counts without opening each chunk."""
    loaded = [r for r in out["days"] if "rows in" in r]
    logger.info(
        "chunk %s .. %s: %s, in %s, loaded %s, quarantined %s%s",
        chunk[0],
        chunk[-1],
        "1 day" if len(chunk) == 1 else f"{len(chunk)} days",
        f"{sum(r['rows in'] for r in loaded):,}",
        f"{sum(r['loaded'] for r in loaded):,}",
        f"{sum(r['quarantined'] for r in loaded):,}",
        f"; {len(out['failures'])} failed entity-days (see the failures table)" if out["failures"] else "",
    )


@flow(
    name="backfill",
    flow_run_name=named_by(backfill_run_name),
    validate_parameters=True,
    on_cancellation=[on_run_stopped],
    on_crashed=[on_run_stopped],
)
def backfill(
    start: Day,
    end: Day,
    entities: Entities = None,
    recompute: bool = True,
    render_reports: bool = False,
    skip_done: bool = False,
    chunk_days: ChunkDays = None,
    task_runner: TaskRunnerChoice = None,
) -> dict:
    """Load every delivery day in [start, end] in chunks; re-running it is safe and finishes a crashed run.

    Args:
        start: First delivery day of the range (YYYY-MM-DD).
        end: Last delivery day of the range, included (YYYY-MM-DD).
        entities: Only these source entities. Empty: all of them.
        recompute: Recompute the weekly metrics of the weeks the load touched.
        render_reports: Render (not send) the weekly report of each complete week of the range.
        skip_done: Skip the leading days that earlier successful runs loaded from the same files.
        chunk_days: Delivery days per backfill-chunk subflow. Empty: LOYALTY_BACKFILL_CHUNK_DAYS.
        task_runner: Serial, or dask to extract and validate a chunk's days in parallel. Empty:
            LOYALTY_BACKFILL_TASK_RUNNER.
    """
    refuse_ignored_job_variables()
    if end < start:
        raise ValueError(f"backfill end {end} is before start {start}")
    logger = get_run_logger()
    settings = get_settings()
    days = _days(start, end)
    # First, so the UI shows the run's progress from its first second.
    run_progress = RunProgress(
        artifact_key("backfill-progress", start, "to", end), _progress_what(start, end), len(days)
    )
    size = chunk_days or settings.backfill_chunk_days
    if size < 1:
        raise ValueError(f"chunk_days must be at least 1, got {size}")
    runner_name = task_runner or settings.backfill_task_runner
    parallel = parallel_intake(settings, runner_name)
    if runner_name == "dask" and not parallel:
        logger.warning("a SQL source is read day after day (each window starts at the last watermark): serial")
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    prepare_warehouse(settings)
    sweep_interrupted(settings, run_id, logger)
    ensure_source_limit(settings)
    skipped = leading_done_days(settings, days, entities or list(ENTITIES)) if skip_done else []
    if skipped:
        logger.info(
            "skipping %d days (%s .. %s): earlier successful runs loaded every entity of them from the same files",
            len(skipped),
            skipped[0],
            skipped[-1],
        )
    artifact_id = str(run_progress.artifact_id)
    run_progress.report(len(skipped), "resume" if skipped else "start")
    day_rows = [
        {"delivery day": d.isoformat(), "status": "skipped: loaded by an earlier run from the same files"}
        for d in skipped
    ]
    touched: set[date] = set()
    failures: list[Failure] = []
    validation: list[dict] = []
    todo = days[len(skipped) :]
    with chunk_task_runner(settings, "dask" if parallel else "serial", logger) as runner:
        run_chunk = backfill_chunk.with_options(task_runner=runner) if runner else backfill_chunk
        for first in range(0, len(todo), size):
            chunk = todo[first : first + size]
            state = run_chunk(
                start=chunk[0],
                end=chunk[-1],
                run_id=run_id,
                entities=entities,
                parallel=parallel,
                done_before=len(skipped) + first,
                total_days=len(days),
                progress_artifact_id=artifact_id,
                progress_what=run_progress.what,
                return_state=True,
            )
            out = state.result(raise_on_failure=False)
            if not isinstance(out, dict):  # the chunk crashed before it had an outcome
                raise out if isinstance(out, BaseException) else RuntimeError(state.message or state.name)
            day_rows.extend(out["days"])
            _log_chunk(logger, chunk, out)
            touched.update(out["touched"])
            failures.extend(out["failures"])
            validation.extend(out["validation"])
    if skipped and (earliest := first_business_day_of(settings, skipped[0], skipped[-1])) is not None:
        touched.add(earliest)  # the crashed run may have stopped before its metrics
    create_table_artifact(
        key="backfill-days", table=day_rows, description=f"Backfill {start} .. {end}: every delivery day"
    )
    publish_validation(artifact_key("backfill-validation", start, "to", end), f"Backfill {start} .. {end}", validation)
    weeks = weeks_to_recompute(
        get_engine(settings.warehouse_url), sorted(touched), through=end, max_weeks=settings.recompute_max_weeks
    )
    if recompute and weeks:
        recompute_metrics(settings, weeks)
        logger.info("metrics recomputed for %d weeks: %s .. %s", len(weeks), weeks[0], weeks[-1])
    if render_reports:
        # The weeks of the range's delivery days. Not every week a late row reached back to: a CRM's first
        # delivery holds customers created years before, and that would be a hundred reports.
        today = datetime.now(settings.business_zone).date()
        weeks_touched = sorted({iso_week_label(d) for d in days})
        failures.extend(render_weekly_reports(settings, complete_weeks(weeks_touched, end, today), logger))
    if failures:
        key = artifact_key("backfill-failures", start, "to", end)
        publish_failures(key, f"Backfill {start} .. {end}", failures)
        return Failed(message=summarise_failures(f"backfill {start}..{end}", failures, key))
    loaded = [r for r in day_rows if "rows in" in r]
    return {
        "days": len(days),
        "days_skipped": len(skipped),
        "skipped": [skipped[0].isoformat(), skipped[-1].isoformat()] if skipped else [],
        "rows_in": sum(r["rows in"] for r in loaded),
        "rows_loaded": sum(r["loaded"] for r in loaded),
        "rows_quarantined": sum(r["quarantined"] for r in loaded),
        "weeks": weeks,
    }
