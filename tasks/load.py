"""Load: write one validated delivery into the warehouse, and keep the run ledger."""

from __future__ import annotations

import json
from datetime import date

import sqlalchemy as sa
from prefect import task
from prefect.cache_policies import NO_CACHE

from loyalty.db import check_connection, get_engine, masked_driver_errors
from loyalty.delivery import CheckedDelivery, LoadSummary
from loyalty.schema import migrate, run_ledger
from loyalty.settings import Settings
from loyalty.timeutil import utc_now_naive
from loyalty.warehouse import write_partition
from tasks.retry import backoff, retry_on_transient


@task(
    name="prepare-warehouse",
    retries=3,
    retry_delay_seconds=backoff(2),
    retry_condition_fn=retry_on_transient,
    timeout_seconds=300,
    cache_policy=NO_CACHE,
)
def prepare_warehouse(settings: Settings) -> list[int]:
    """Check the warehouse answers, then bring its schema up to date."""
    engine = get_engine(settings.warehouse_url)
    check_connection(engine)
    return migrate(engine)


@task(
    name="load-entity",
    task_run_name="load-{checked.delivery.entity}",
    retries=3,
    retry_delay_seconds=backoff(5),
    retry_condition_fn=retry_on_transient,
    timeout_seconds=1800,
    cache_policy=NO_CACHE,
)
def load_entity(checked: CheckedDelivery, settings: Settings, run_id: str) -> LoadSummary:
    """Replace the entity's delivery partition in one transaction (driver errors carry no row values out)."""
    with masked_driver_errors(checked.delivery.entity, checked.delivery.delivery_day):
        return write_partition(get_engine(settings.warehouse_url), checked, run_id, settings.business_tz)


def record_run_start(engine: sa.Engine, run_id: str, entity: str, day: date, source: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            run_ledger.delete().where(
                (run_ledger.c.run_id == run_id) & (run_ledger.c.entity == entity) & (run_ledger.c.delivery_day == day)
            )
        )
        conn.execute(
            run_ledger.insert().values(
                run_id=run_id,
                entity=entity,
                delivery_day=day,
                status="running",
                source=source,
                started_at=utc_now_naive(),
            )
        )


def record_run_end(
    engine: sa.Engine,
    run_id: str,
    entity: str,
    day: date,
    summary: LoadSummary | None = None,
    *,
    files: list[str] | None = None,
    window: tuple | None = None,
    error: str | None = None,
) -> None:
    values: dict = {
        "finished_at": utc_now_naive(),
        "status": "failed" if error else "succeeded",
        "error": error,
    }
    if summary is not None:
        values.update(
            rows_in=summary.rows_in,
            rows_loaded=summary.rows_loaded,
            rows_quarantined=summary.rows_quarantined,
            files_seen=summary.files_seen,
            files_loaded=summary.files_loaded,
            files_duplicate=summary.files_duplicate,
            files_rejected=summary.files_rejected,
        )
    if files is not None:
        values["files"] = json.dumps(files)
    if window is not None and window[0] is not None:
        values.update(window_start=window[0], window_end=window[1])
    with engine.begin() as conn:
        conn.execute(
            run_ledger.update()
            .where(
                (run_ledger.c.run_id == run_id) & (run_ledger.c.entity == entity) & (run_ledger.c.delivery_day == day)
            )
            .values(**values)
        )
