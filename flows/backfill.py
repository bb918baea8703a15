"""The backfill flow: the nightly steps for every delivery day of a range, in order, in one flow run, then
the metrics of every week touched (once, not once a day)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from prefect import flow, get_run_logger, runtime

from flows._steps import failure_message, load_delivery_day
from loyalty.db import get_engine
from loyalty.settings import get_settings
from tasks.load import prepare_warehouse
from tasks.metrics import recompute_metrics, weeks_to_recompute


def _run_name() -> str:
    p = runtime.flow_run.parameters
    return f"backfill-{p.get('start')}-to-{p.get('end')}"


@flow(name="backfill", flow_run_name=_run_name)
def backfill(
    start: date, end: date, entities: list[str] | None = None, recompute: bool = True, render_reports: bool = False
) -> dict:
    """Load every delivery day in [start, end]; re-running it is safe (each day replaces its own partition)."""
    if end < start:
        raise ValueError(f"backfill end {end} is before start {start}")
    logger = get_run_logger()
    settings = get_settings()
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    prepare_warehouse(settings)
    touched: set[date] = set()
    totals = {"days": 0, "rows_in": 0, "rows_loaded": 0, "rows_quarantined": 0}
    failures: dict[str, str] = {}
    day = start
    while day <= end:
        outcome = load_delivery_day(settings, day, run_id, logger, entities)
        touched.update(outcome.touched_days)
        failures.update({f"{day} {k}": v for k, v in outcome.failures.items()})
        totals["days"] += 1
        for s in outcome.summaries:
            totals["rows_in"] += s.rows_in
            totals["rows_loaded"] += s.rows_loaded
            totals["rows_quarantined"] += s.rows_quarantined
        day += timedelta(days=1)
    weeks = weeks_to_recompute(get_engine(settings.warehouse_url), sorted(touched))
    if recompute and weeks:
        recompute_metrics(settings, weeks)
        logger.info("metrics recomputed for %d weeks: %s .. %s", len(weeks), weeks[0], weeks[-1])
    if failures:
        raise RuntimeError(failure_message(f"backfill {start}..{end}", failures))
    return {**totals, "weeks": weeks}
