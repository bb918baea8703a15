"""Runs that ended without finishing: their ``running`` rows in ``run_ledger`` become ``interrupted``.

Two ways, because neither alone is enough: the flows' cancellation and crash hooks mark their own run at once
(a cancel from the UI, Ctrl-C, an exception that escapes the engine), and every nightly or backfill run, at its
start, marks the rows of runs that the Prefect API no longer knows as running (a ``kill -9``, a lost machine,
where no hook ran). A run the API cannot find (deleted, or from another server) counts as ended.
"""

from __future__ import annotations

import logging
from uuid import UUID

from loyalty.db import get_engine, load_sql
from loyalty.settings import Settings
from loyalty.timeutil import utc_now_naive

log = logging.getLogger(__name__)

ACTIVE = {"RUNNING", "PENDING", "CANCELLING", "PAUSED", "SCHEDULED"}


def mark_interrupted(settings: Settings, run_id: str, reason: str) -> int:
    """Mark the ``running`` rows of ``run_id`` interrupted; how many rows."""
    with get_engine(settings.warehouse_url).begin() as conn:
        result = conn.execute(
            load_sql("ledger/mark_run_interrupted"),
            {"run_id": run_id, "finished_at": utc_now_naive(), "reason": reason[:500]},
        )
    return result.rowcount or 0


def _state_of(run_id: str) -> str | None:
    """The Prefect state type of a flow run, or None when the API does not know it."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        flow_run_id = UUID(run_id)
    except ValueError:
        return None  # not a Prefect run id (a run without a flow run context)
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(flow_run_id)
        except ObjectNotFound:
            return None
    return run.state.type.value if run.state else None


def sweep_interrupted(settings: Settings, own_run_id: str, logger: logging.Logger | logging.LoggerAdapter) -> int:
    """Mark the running rows of every other run that is no longer active; how many rows."""
    with get_engine(settings.warehouse_url).connect() as conn:
        run_ids = [r.run_id for r in conn.execute(load_sql("ledger/running_run_ids"))]
    marked = 0
    for run_id in run_ids:
        if run_id == own_run_id:
            continue
        state = _state_of(run_id)
        if state in ACTIVE:
            continue
        rows = mark_interrupted(settings, run_id, f"run ended without finishing ({state or 'unknown to the API'})")
        logger.warning("run %s ended without finishing (%s): %d ledger rows now interrupted", run_id, state, rows)
        marked += rows
    return marked


def on_run_stopped(flow, flow_run, state) -> None:  # type: ignore[no-untyped-def]  # Prefect's hook signature
    """Cancellation and crash hook of the nightly and backfill flows: mark this run's running rows."""
    from loyalty.settings import get_settings

    try:
        rows = mark_interrupted(get_settings(), str(flow_run.id), f"run {state.name.lower()}")
    except Exception:  # a hook must not hide why the run stopped
        log.exception("could not mark run %s interrupted", flow_run.id)
        return
    log.warning("run %s %s: %d ledger rows marked interrupted", flow_run.name, state.name, rows)
