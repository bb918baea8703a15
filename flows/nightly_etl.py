"""The nightly flow: extract -> validate -> load, per entity, for one delivery day."""

from __future__ import annotations

import uuid
from datetime import date

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from loyalty.contract import ENTITIES
from loyalty.db import get_engine
from loyalty.delivery import LoadSummary
from loyalty.rundate import resolve_run_date
from loyalty.settings import get_settings
from tasks.extract import extract_entity
from tasks.load import load_entity, prepare_warehouse, record_run_end, record_run_start
from tasks.validate import validate_entity


def _run_name() -> str:
    day = resolve_run_date(runtime.flow_run.parameters.get("run_date"), get_settings().business_zone)
    return f"nightly-etl-{day.isoformat()}"


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


@flow(name="nightly-etl", flow_run_name=_run_name, log_prints=False)
def nightly_etl(run_date: date | None = None, entities: list[str] | None = None) -> list[dict]:
    """Load one delivery day. Without a date: yesterday in the business time zone, from the scheduled start."""
    logger = get_run_logger()
    settings = get_settings()
    day = resolve_run_date(run_date, settings.business_zone)
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    engine = get_engine(settings.warehouse_url)
    prepare_warehouse(settings)

    summaries: list[LoadSummary] = []
    failures: dict[str, str] = {}
    for entity in entities or list(ENTITIES):
        record_run_start(engine, run_id, entity, day, settings.source_kind)
        try:
            delivery = extract_entity(settings, entity, day)
            checked = validate_entity(delivery, settings)
            summary = load_entity(checked, settings, run_id)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            record_run_end(engine, run_id, entity, day, error=message)
            failures[entity] = message
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
        summaries.append(summary)
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
    publish_counts(day, summaries, failures)
    if failures:
        raise RuntimeError(
            f"nightly-etl {day}: {len(failures)} entit{'y' if len(failures) == 1 else 'ies'} failed: "
            + "; ".join(f"{k}: {v}" for k, v in failures.items())
        )
    return [s.as_dict() for s in summaries]
