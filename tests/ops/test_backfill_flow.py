"""The backfill flow under the session's Prefect test harness: chunks, progress, artifacts, resuming, Dask.

Each test runs on SQLite and on PostgreSQL (the ``project_env`` fixture), the Dask one on SQLite only.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest
import sqlalchemy as sa

from loyalty import progress
from loyalty.contract import ENTITIES
from loyalty.db import get_engine
from loyalty.schema import METRIC_TABLES, drop_all, migrate
from tests.helpers import table_snapshot
from tests.ops.opsdata import WAREHOUSE_TABLES, days_from, write_small_landing

pytestmark = pytest.mark.flow

DAYS = days_from(date(2026, 11, 16), 5)  # Monday .. Friday of 2026-W47


def _snapshot(url: str) -> dict:
    return {t: table_snapshot(url, t) for t in [*WAREHOUSE_TABLES, *METRIC_TABLES]}


def _assert_same(left: dict, right: dict) -> None:
    for table in left:
        assert left[table].equals(right[table]), table


def _reset(url: str) -> None:
    engine = get_engine(url)
    drop_all(engine)
    migrate(engine)


def _artifacts(flow_run_id: UUID) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in found}


def _child_flow_run_names(parent_id: UUID) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id]))
        )
    return sorted(r.name for r in runs)


def _task_run_names(parent_id: UUID) -> list[str]:
    """Names of the task runs of the parent's chunk subflows."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        chunks = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id]))
        )
        names = []
        for chunk in chunks:
            names += [t.name for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [chunk.id]}))]
    return sorted(names)


def test_backfill_runs_in_chunks_with_progress_and_artifacts(prefect_harness, project_env):
    write_small_landing(project_env.landing_dir, DAYS)
    from flows.backfill import backfill

    seen: list[tuple[int, int]] = []
    with progress.watching(lambda p: seen.append((p.done, p.total))):
        state = backfill(start=DAYS[0], end=DAYS[-1], chunk_days=2, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    # 5 days x (2 customers + 2 or 3 sales + 1 response); the bad currencies and the re-sent sale quarantined.
    assert (result["days"], result["days_skipped"], result["rows_in"]) == (5, 0, 26)
    assert (result["rows_loaded"], result["rows_quarantined"]) == (20, 6)
    assert result["weeks"] == ["2026-W47"]
    assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)]  # progress moves once a chunk's days are all loaded

    run_id = state.state_details.flow_run_id
    assert _child_flow_run_names(run_id) == [
        "backfill-chunk-2026-11-16-to-2026-11-17",
        "backfill-chunk-2026-11-18-to-2026-11-19",
        "backfill-chunk-2026-11-20-to-2026-11-20",
    ]
    # Three task runs per entity and chunk, named with the entity and the chunk's days; none per day.
    expected = sorted(
        f"{step}-{entity}-{days}"
        for step in ("extract", "validate", "load")
        for entity in ENTITIES  # every contract entity, outreach included (no files of it here: an empty step)
        for days in ("2026-11-16..2026-11-17", "2026-11-18..2026-11-19", "2026-11-20")
    )
    assert _task_run_names(run_id) == expected
    artifacts = _artifacts(run_id)
    assert artifacts["backfill-progress-2026-11-16-to-2026-11-20"].type == "progress"
    assert float(artifacts["backfill-progress-2026-11-16-to-2026-11-20"].data) == 100.0
    table = artifacts["backfill-days"]
    assert table.type == "table"
    assert '"delivery day": "2026-11-20"' in str(table.data).replace("'", '"')

    files = table_snapshot(project_env.warehouse_url, "file_ledger")
    resent = files.loc[files["path"] == "transactions/2026-11-18_pos_resend.csv"]
    assert resent[["status", "duplicate_of"]].values.tolist() == [["duplicate", "transactions/2026-11-16_pos.csv"]]
    if project_env.warehouse_url.startswith("postgresql"):  # the metrics were planned on fresh statistics
        with get_engine(project_env.warehouse_url).connect() as conn:
            analyzed = conn.execute(
                sa.text(
                    "select relname from pg_stat_user_tables where schemaname = current_schema()"
                    " and coalesce(last_analyze, last_autoanalyze) is not null"
                    " and relname in ('transactions', 'survey_responses', 'customers')"
                )
            ).scalars()
            assert sorted(analyzed) == ["customers", "survey_responses", "transactions"]


def test_resumed_backfill_skips_done_days_and_equals_a_full_run(prefect_harness, project_env):
    write_small_landing(project_env.landing_dir, DAYS)
    url = project_env.warehouse_url
    from flows.backfill import backfill

    backfill(start=DAYS[0], end=DAYS[-1])
    full = _snapshot(url)

    _reset(url)
    backfill(start=DAYS[0], end=DAYS[2], recompute=False)  # "crashed" after three days, before its metrics
    resumed = backfill(start=DAYS[0], end=DAYS[-1], skip_done=True)
    assert resumed["days_skipped"] == 3
    _assert_same(_snapshot(url), full)

    # A changed file makes its day, and every day after it, run again.
    sales = project_env.landing_dir / "transactions" / f"{DAYS[1].isoformat()}_pos.csv"
    sales.write_text(sales.read_text() + "T99,C2a,2026-11-17T16:00:00Z,1.00,GBP,online,North\n")
    again = backfill(start=DAYS[0], end=DAYS[-1], skip_done=True)
    assert again["days_skipped"] == 1
    assert again["rows_loaded"] == 4 * 4 + 1  # days 2-5 (2 customers, 1 sale, 1 response a day) and T99


# SQLite only: Dask workers only read the warehouse (loads stay in the flow's process, in day order), and a
# LocalCluster costs about a minute here; SQLite is the engine every developer runs.
@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_dask_backfill_loads_exactly_what_a_serial_one_does(prefect_harness, project_env, monkeypatch):
    days = DAYS[:3]  # the three days whose outcome depends on day order
    write_small_landing(project_env.landing_dir, days)
    url = project_env.warehouse_url
    from flows.backfill import backfill
    from loyalty.settings import reset_settings

    backfill(start=days[0], end=days[-1], task_runner="serial")
    serial = _snapshot(url)

    _reset(url)
    monkeypatch.setenv("LOYALTY_DASK_WORKERS", "2")
    reset_settings()
    state = backfill(start=days[0], end=days[-1], task_runner="dask", chunk_days=3, return_state=True)
    assert state.is_completed(), state.message
    # Day 3's re-delivered file is read before day 1 is loaded; the chunk's extract carries day 1's loaded
    # files forward, so it is the same "duplicate" file the serial run records.
    _assert_same(_snapshot(url), serial)
