"""The nightly flow: extract -> validate -> load per entity for one delivery day, then the metrics of the
weeks the load touched."""

from __future__ import annotations

import uuid
from datetime import date

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows._names import named_by, nightly_run_name
from flows._ops import artifact_key, publish_validation, refuse_ignored_job_variables
from flows._params import Entities, OptionalDay
from loyalty.db import get_engine
from loyalty.delivery import LoadSummary
from loyalty.failures import Failure, summarise_failures
from loyalty.quality import validation_rows
from loyalty.rundate import resolve_delivery_day
from loyalty.settings import get_settings
from tasks.chunk import intake_chunk
from tasks.interrupted import on_run_stopped, sweep_interrupted
from tasks.limits import ensure_source_limit
from tasks.load import prepare_warehouse
from tasks.metrics import recompute_metrics, weeks_to_recompute


@task(name="publish-counts", cache_policy=NO_CACHE)
def publish_counts(day: date, summaries: list[LoadSummary], failures: dict[str, str]) -> None:
    rows = [
        {
            "entity": s.entity,
            "rows in": s.rows_in,
            "loaded": s.rows_loaded,
            "quarantined": s.rows_quarantined,
            "files loaded": s.files_loaded,
            "files duplicate": s.files_duplicate,
            "files rejected": s.files_rejected,
        }
        for s in summaries
    ] + [{"entity": entity, "rows in": "FAILED", "loaded": error[:200]} for entity, error in failures.items()]
    create_table_artifact(
        key="nightly-etl-counts",
        table=rows,
        description=f"Nightly ETL for delivery day {day.isoformat()}: rows in, loaded and quarantined per entity.",
    )


@flow(
    name="nightly-etl",
    flow_run_name=named_by(nightly_run_name),
    on_cancellation=[on_run_stopped],
    on_crashed=[on_run_stopped],
)
def nightly_etl(delivery_day: OptionalDay = None, entities: Entities = None, recompute: bool = True) -> list[dict]:
    """Load one delivery day. Without a date: yesterday in the business time zone, from the scheduled start.

    Args:
        delivery_day: The delivery day to load (YYYY-MM-DD). Empty: the day before the scheduled start, in
            the business time zone.
        entities: Only these source entities. Empty: all of them.
        recompute: Recompute the weekly metrics of the weeks the load touched.
    """
    refuse_ignored_job_variables()
    logger = get_run_logger()
    settings = get_settings()
    day = resolve_delivery_day(delivery_day, settings.business_zone)
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    prepare_warehouse(settings)
    sweep_interrupted(settings, run_id, logger)
    ensure_source_limit(settings)
    outcome = intake_chunk(settings, [day], run_id, entities, logger=logger)
    failures = {entity: message for (_day, entity), message in outcome.failures.items()}
    publish_counts(day, outcome.summaries, failures)
    publish_validation(
        artifact_key("validation", day), f"Delivery day {day}", validation_rows(outcome.summaries, outcome.failures)
    )
    if recompute and outcome.touched_days:
        weeks = weeks_to_recompute(
            get_engine(settings.warehouse_url),
            outcome.touched_days,
            through=day,
            max_weeks=settings.recompute_max_weeks,
        )
        recompute_metrics(settings, weeks)
        logger.info("metrics recomputed for %s", ", ".join(weeks))
    if failures:
        listed = [Failure(day, entity, message) for entity, message in failures.items()]
        raise RuntimeError(summarise_failures(f"nightly-etl {day}", listed))
    return [s.as_dict() for s in outcome.summaries]
