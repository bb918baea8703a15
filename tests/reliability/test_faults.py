"""Faults a night can bring, each asserting an invariant: nothing half-written, nothing lost, exact counts.

Database faults run on SQLite and on the real PostgreSQL server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from loyalty.db import get_engine
from loyalty.settings import PROJECT_ROOT
from tests.helpers import run_day, table_snapshot, write_csv

DAY = date(2026, 11, 20)
TX_HEADER = ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel", "region"]


def _big_delivery(landing, rows: int = 12000) -> None:
    write_csv(
        landing / "transactions" / f"{DAY.isoformat()}_pos.csv",
        TX_HEADER,
        [[f"T{i}", f"C{i % 500}", "2026-11-20T10:00:00Z", f"{i % 97}.5", "GBP", "online", "North"] for i in range(rows)]
        + [["", "C1", "2026-11-20T10:00:00Z", "1", "GBP", "online", ""]],  # one invalid row
    )


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    import loyalty.warehouse as warehouse
    from loyalty.settings import Settings
    from tests.helpers import run_day

    real_insert = warehouse._insert
    calls = {"n": 0}

    def insert_then_die(conn, table, columns, rows):
        real_insert(conn, table, columns, rows[:5000])  # rows are written inside the open transaction ...
        calls["n"] += 1
        os.kill(os.getpid(), signal.SIGKILL)  # ... and the process dies before COMMIT

    warehouse._insert = insert_then_die
    settings = Settings(warehouse_url=sys.argv[1], landing_dir=sys.argv[2])
    run_day(settings, date(2026, 11, 20), run_id="doomed", entities=["transactions"])
    """
)


def test_kill_9_during_a_load_leaves_no_partial_day_and_the_next_run_is_exact(settings, landing):
    _big_delivery(landing)
    result = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, settings.warehouse_url, str(landing)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from transactions")).scalar() == 0
        assert conn.execute(sa.text("select count(*) from quarantine")).scalar() == 0
        assert conn.execute(sa.text("select count(*) from file_ledger")).scalar() == 0
        # The ledger says the run started and never finished: it is visibly not a success.
        assert conn.execute(sa.text("select status from run_ledger where run_id = 'doomed'")).scalar() == "running"

    summary = run_day(settings, DAY, run_id="next", entities=["transactions"])["transactions"]
    assert (summary.rows_in, summary.rows_loaded, summary.rows_quarantined) == (12001, 12000, 1)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from transactions")).scalar() == 12000


def test_two_runs_of_the_same_day_at_once_end_as_one_run(settings, landing, tmp_path):
    _big_delivery(landing, rows=3000)
    errors: list[BaseException] = []

    def run(run_id: str) -> None:
        try:
            run_day(settings, DAY, run_id=run_id, entities=["transactions"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"run-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    together = {t: table_snapshot(settings.warehouse_url, t) for t in ("transactions", "quarantine", "file_ledger")}
    run_day(settings, DAY, run_id="alone", entities=["transactions"])
    for name, frame in together.items():
        pd.testing.assert_frame_equal(frame, table_snapshot(settings.warehouse_url, name), obj=name)
    assert len(together["transactions"]) == 3000 and len(together["quarantine"]) == 1


@pytest.mark.flow
def test_unreachable_warehouse_retries_then_names_the_target(prefect_harness, landing, monkeypatch):
    from loyalty.settings import reset_settings

    monkeypatch.setenv("LOYALTY_WAREHOUSE_URL", "postgresql+psycopg://loyalty:hunter2@127.0.0.1:1/warehouse")
    monkeypatch.setenv("LOYALTY_LANDING_DIR", str(landing))
    reset_settings()
    from flows.nightly_etl import nightly_etl

    state = nightly_etl(delivery_day=DAY, return_state=True)
    reset_settings()
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "cannot reach database postgresql+psycopg://loyalty:***@127.0.0.1:1/warehouse" in message
    assert "hunter2" not in message


@pytest.mark.flow
def test_unreachable_source_fails_each_entity_and_the_ledger_says_so(prefect_harness, project_env, monkeypatch):
    from loyalty.settings import reset_settings

    monkeypatch.setenv("LOYALTY_SOURCE_KIND", "sql")
    monkeypatch.setenv("LOYALTY_SOURCE_URL", "postgresql+psycopg://reader:s3cret@127.0.0.1:1/crm")
    reset_settings()
    from flows.nightly_etl import nightly_etl

    state = nightly_etl(delivery_day=DAY, return_state=True)
    assert state.is_failed()
    with get_engine(project_env.warehouse_url).connect() as conn:
        ledger = conn.execute(sa.text("select entity, status, error from run_ledger")).all()
        rows = sum(
            conn.execute(sa.text(f"select count(*) from {t}")).scalar()
            for t in ("customers", "transactions", "survey_responses")
        )
    assert {r.entity: r.status for r in ledger} == {
        "customers": "failed",
        "transactions": "failed",
        "survey_responses": "failed",
        "outreach": "failed",
    }
    for r in ledger:
        assert "cannot reach database postgresql+psycopg://reader:***@127.0.0.1:1/crm" in r.error
        assert "s3cret" not in r.error
    assert rows == 0
