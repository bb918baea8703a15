"""Runs of deployments served by `loyalty serve`, as the UI shows them: a run given job variables fails at once
saying why (served runs cannot apply them); a run without them completes and carries its validation artifact
(counts and reason codes, no row values); SIGTERM stops the command cleanly.

REAL SERVER: the session's ``prefect_server``, with ``loyalty serve`` as a subprocess serving prefect.yaml's
deployments to it. About a minute and a half on this 2-core machine (each served run starts an interpreter).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from prefect.states import Scheduled

from cli.server import read_deployments
from loyalty.db import get_engine
from loyalty.schema import migrate
from loyalty.settings import PROJECT_ROOT
from tests.helpers import write_csv
from tests.ops.conftest import BIN, RealServer, wait_for
from tests.ops.opsdata import RESPONSE_HEADER, days_from, write_small_landing

pytestmark = pytest.mark.real_server

DAYS = days_from(date(2026, 11, 16), 2)
# Sunday 23:30 UTC in British summer time: already Monday 00:30 in London, the business zone.
LATER = datetime(2031, 6, 1, 23, 30, tzinfo=UTC)
CANARY = "canary-9d41@leak.example.com"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Served:
    server: RealServer
    process: subprocess.Popen
    output: Path
    warehouse_url: str
    runs: dict[str, UUID]


def _client(server: RealServer):  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import SyncPrefectClient

    return SyncPrefectClient(server.api_url)


def _wait_final(server: RealServer, run_id: UUID, timeout: float = 300):  # type: ignore[no-untyped-def]
    def final():  # type: ignore[no-untyped-def]
        with _client(server) as client:
            run = client.read_flow_run(run_id)
        return run if run.state and run.state.type.value in FINAL else None

    return wait_for(final, timeout, f"flow run {run_id} to finish")


@pytest.fixture(scope="module")
def served(prefect_server: RealServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from prefect.exceptions import ObjectNotFound

    root = tmp_path_factory.mktemp("served")
    write_small_landing(root / "landing", DAYS)
    write_csv(  # a bad response carrying a canary: it must reach no artifact or log
        root / "landing" / "survey_responses" / f"{DAYS[0].isoformat()}_web.csv",
        RESPONSE_HEADER,
        [["RW1", "C1a", f"{DAYS[0].isoformat()}T16:00:00Z", "web", "12", f"mail me at {CANARY}"]],
    )
    warehouse_url = f"sqlite:///{root / 'warehouse.db'}"
    migrate(get_engine(warehouse_url))
    with _client(prefect_server) as client:  # a deployment of the same name deployed by another test module
        for spec in read_deployments():
            try:
                found = client.read_deployment_by_name(f"{spec.name}/{spec.name}")
            except ObjectNotFound:
                continue
            client.delete_deployment(found.id)
    env = prefect_server.env(
        LOYALTY_WAREHOUSE_URL=warehouse_url,
        LOYALTY_LANDING_DIR=str(root / "landing"),
        LOYALTY_REPORTS_DIR=str(root / "reports"),
        LOYALTY_REPORTS_URL="http://127.0.0.1:9/reports",  # no reports server of its own on the fixed port
        PREFECT_LOGGING_LEVEL="INFO",  # so the run's INFO lines reach the API and are checked for the canary
    )
    output = root / "serve.log"
    with output.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603
            [str(BIN / "loyalty"), "serve"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def registered(name: str):  # type: ignore[no-untyped-def]
        def check():  # type: ignore[no-untyped-def]
            with _client(prefect_server) as client:
                try:
                    return client.read_deployment_by_name(f"{name}/{name}")
                except ObjectNotFound:
                    return None

        return wait_for(check, 120, f"loyalty serve to register {name}")

    try:
        deployment = registered("nightly-etl")
        report = registered("weekly-report")
        assert deployment.work_pool_name is None  # served: no work pool
        with _client(prefect_server) as client:
            runs = {
                # Created as the scheduler and the run form create them (random names), due days from now: the
                # runner leaves them waiting, so what names them is `loyalty serve`, not the flow.
                "later_nightly": client.create_flow_run_from_deployment(
                    deployment.id, state=Scheduled(scheduled_time=LATER)
                ).id,
                "later_report": client.create_flow_run_from_deployment(
                    report.id, parameters={"region": "North"}, state=Scheduled(scheduled_time=LATER)
                ).id,
                "with_env": client.create_flow_run_from_deployment(
                    deployment.id,
                    parameters={"delivery_day": DAYS[1].isoformat()},
                    job_variables={"env": {"LOYALTY_LANDING_DIR": "/nonexistent/landing"}},
                ).id,
                "plain": client.create_flow_run_from_deployment(
                    deployment.id, parameters={"delivery_day": DAYS[0].isoformat()}
                ).id,
            }
        yield Served(prefect_server, process, output, warehouse_url, runs)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_a_served_run_with_job_variables_fails_saying_why(served):
    run = _wait_final(served.server, served.runs["with_env"])
    assert run.state.type.value == "FAILED"
    message = run.state.message
    assert "this run has job variables (env) but its deployment is served by `loyalty serve`" in message
    assert "ignores job variables, so nothing was run" in message
    assert "`make deploy` + `make worker`" in message
    assert "/nonexistent" not in message  # names, never values (an env may hold secrets)
    with get_engine(served.warehouse_url).connect() as conn:
        rows = conn.execute(sa.text("select count(*) from run_ledger where run_id = :r"), {"r": str(run.id)})
        assert rows.scalar() == 0  # nothing ran, not even the sweep


def test_a_served_run_shows_its_validation_results_without_row_values(served):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId

    run = _wait_final(served.server, served.runs["plain"])
    assert run.state.type.value == "COMPLETED", run.state.message
    with _client(served.server) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    validation = next(a for a in artifacts if a.key == "validation-2026-11-16")
    assert validation.type == "table"
    rows = json.loads(validation.data) if isinstance(validation.data, str) else validation.data
    failing = {(r["entity"], r["reason code"]): (r["check"], r["rows failing"]) for r in rows if r["rows failing"]}
    assert failing == {
        ("transactions", "bad_format:currency"): ("expect_column_values_to_match_regex(currency)", 1),
        ("survey_responses", "out_of_range:nps"): ("expect_column_values_to_be_between(nps)", 1),
        ("survey_responses", "unknown_value:channel"): ("expect_column_values_to_be_in_set(channel)", 1),
    }
    for r in rows:  # rows in = loaded + quarantined, per entity and day
        assert r["rows in"] == r["loaded"] + r["quarantined"], r
    texts = [str(a.data) + str(a.description) for a in artifacts] + [entry.message for entry in logs]
    assert logs, "the served run's logs reach the API"
    assert not any(CANARY in t or "mail me" in t or "RW1" in t for t in texts)


def test_a_waiting_run_carries_its_days_name_before_it_starts(served):
    """Runs due in 2031 never start here: the names come from `loyalty serve` while they wait. 2031-06-01 23:30 UTC
    is Monday 2 June 00:30 in London: the nightly run's day is Sunday 1 June, the report's week is 2031-W22
    (26 May - 1 June), both in London dates, not UTC ones (UTC would say 31 May and 2031-W21)."""

    def named(run_id: UUID, prefix: str):  # type: ignore[no-untyped-def]
        def check():  # type: ignore[no-untyped-def]
            with _client(served.server) as client:
                run = client.read_flow_run(run_id)
            return run if run.name.startswith(prefix) else None

        return wait_for(check, 60, f"a run named {prefix}...")

    nightly = named(served.runs["later_nightly"], "nightly-etl-")
    report = named(served.runs["later_report"], "weekly-report-")
    assert nightly.name == "nightly-etl-2031-06-01"
    assert nightly.state.type.value == "SCHEDULED"
    assert report.name.startswith("weekly-report-2031-W22-north-"), report.name
    assert report.state.type.value == "SCHEDULED"
    # Every waiting run of the nightly deployment, the scheduler's own included, is named after its day.
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    def all_named():  # type: ignore[no-untyped-def]
        with _client(served.server) as client:
            deployment = client.read_deployment_by_name("nightly-etl/nightly-etl")
            waiting = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
                ),
            )
        london = ZoneInfo("Europe/London")
        expected = {
            r.id: f"nightly-etl-{(r.expected_start_time.astimezone(london).date() - timedelta(days=1)).isoformat()}"
            for r in waiting
        }
        return waiting if all(r.name == expected[r.id] for r in waiting) else None

    assert all_named() or wait_for(all_named, 30, "every waiting nightly run to be named")


def test_sigterm_stops_serve_cleanly(served):
    for key, run_id in served.runs.items():  # no run left for the runner to kill (the later ones wait for 2031)
        if not key.startswith("later"):
            _wait_final(served.server, run_id)
    os.kill(served.process.pid, signal.SIGTERM)
    assert served.process.wait(60) == 0
    output = served.output.read_text(errors="replace")
    assert "never awaited" not in output, output
    assert output.rstrip().splitlines()[-1] == "stopped", output
    with _client(served.server) as client:  # the runner paused the schedules on its way out
        nightly = client.read_deployment_by_name("nightly-etl/nightly-etl")
    assert nightly.paused or not any(s.active for s in nightly.schedules), nightly
