"""A backfill killed midway (kill -9) and started again finishes, and the warehouse equals an uninterrupted run's.

REAL SERVER: the ``loyalty backfill`` subprocesses report to the session's real Prefect server (without one,
each would start Prefect's temporary server, 15-18 s apiece).
"""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import date

import pytest
import sqlalchemy as sa

from loyalty.db import get_engine
from loyalty.schema import METRIC_TABLES
from loyalty.settings import PROJECT_ROOT
from tests.helpers import table_snapshot
from tests.ops.conftest import BIN, wait_for
from tests.ops.opsdata import WAREHOUSE_TABLES, days_from, write_small_landing

pytestmark = pytest.mark.real_server

DAYS = days_from(date(2026, 11, 16), 4)
RANGE = ["--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat(), "--chunk-days", "2"]


def _days_done(url: str) -> int:
    try:
        with get_engine(url).connect() as conn:
            return conn.execute(
                sa.text(
                    "select count(*) from (select delivery_day from run_ledger where status = 'succeeded'"
                    " group by delivery_day having count(distinct entity) = 3) as days"
                )
            ).scalar()
    except sa.exc.OperationalError:  # not created yet
        return 0


def test_a_killed_backfill_run_again_equals_an_uninterrupted_one(prefect_server, tmp_path):
    landing = tmp_path / "landing"
    write_small_landing(landing, DAYS)
    killed_url = f"sqlite:///{tmp_path / 'killed.db'}"
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    loyalty = str(BIN / "loyalty")

    def env(url: str) -> dict[str, str]:
        return prefect_server.env(LOYALTY_WAREHOUSE_URL=url, LOYALTY_LANDING_DIR=str(landing))

    # The uninterrupted run, alongside (its own warehouse): the comparison at the end waits for it.
    clean = subprocess.Popen(  # noqa: S603
        [loyalty, "backfill", *RANGE],
        env=env(clean_url),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process = subprocess.Popen(  # noqa: S603
        [loyalty, "backfill", *RANGE],
        env=env(killed_url),
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _days_done(killed_url) >= 1 or process.poll() is not None, 180, "a first day loaded", 0.1)
        assert process.poll() is None, "the backfill finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
    done = _days_done(killed_url)
    assert 1 <= done < len(DAYS), done

    resumed = prefect_server.run([loyalty, "backfill", *RANGE, "--skip-done"], env(killed_url))
    assert resumed.returncode == 0, resumed.stderr
    assert f"({done} skipped: " in resumed.stdout
    assert "loaded by earlier successful runs from the same files" in resumed.stdout
    # The killed run's process is gone: the resume was not refused as an overlap, the killed run is Crashed in
    # the API, and its rows left 'running' are now 'interrupted'.
    with get_engine(killed_url).connect() as conn:
        statuses = {r[0] for r in conn.execute(sa.text("select distinct status from run_ledger"))}
    assert "running" not in statuses, statuses

    _out, clean_errors = clean.communicate(timeout=300)
    assert clean.returncode == 0, clean_errors

    for table in [*WAREHOUSE_TABLES, *METRIC_TABLES]:
        assert table_snapshot(killed_url, table).equals(table_snapshot(clean_url, table)), table
