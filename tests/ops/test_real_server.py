"""End to end against a real Prefect server: deploy prefect.yaml, run deployments through the API on a process
worker, and see a failure alert arrive at a webhook.

REAL SERVER: these tests start ``prefect server start`` (session fixture ``prefect_server``) and a
``loyalty worker`` (Prefect's process worker of the ``loyalty-process`` pool) as subprocesses: 1.5-2.5 minutes on this 2-core machine
(the server's start-up, ``prefect deploy`` importing every flow, and each flow run's own interpreter start-up).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import UUID

import pytest
import sqlalchemy as sa

from loyalty.contract import ENTITIES
from loyalty.db import get_engine
from loyalty.schema import migrate
from loyalty.settings import PROJECT_ROOT, Settings
from tests.ops.conftest import BIN, RealServer, free_port, wait_for
from tests.ops.opsdata import days_from, write_small_landing

pytestmark = pytest.mark.real_server

DAYS = days_from(date(2026, 11, 16), 3)
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
WEEKLY_FLOW = PROJECT_ROOT / "flows" / "weekly_report.py"


class _Hook(BaseHTTPRequestHandler):
    """The alert webhook: a tiny HTTP listener that keeps what is posted to it."""

    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            type(self).received.append(json.loads(body))
        except ValueError:
            type(self).received.append({"raw": body.decode(errors="replace")})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


@dataclass
class Deployed:
    server: RealServer
    warehouse_url: str
    runs: dict[str, UUID]
    alerts: list[dict]


def _client(server: RealServer):  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import SyncPrefectClient

    return SyncPrefectClient(server.api_url)


def _run_deployment(server: RealServer, name: str, parameters: dict, scheduled: datetime | None = None) -> UUID:
    from prefect.states import Scheduled

    with _client(server) as client:
        deployment = client.read_deployment_by_name(name)
        run = client.create_flow_run_from_deployment(
            deployment.id, parameters=parameters, state=Scheduled(scheduled_time=scheduled or datetime.now(UTC))
        )
    return run.id


def _wait_final(server: RealServer, run_id: UUID, timeout: float = 180):  # type: ignore[no-untyped-def]
    def final():  # type: ignore[no-untyped-def]
        with _client(server) as client:
            run = client.read_flow_run(run_id)
        return run if run.state and run.state.type.value in FINAL else None

    return wait_for(final, timeout, f"flow run {run_id} to finish")


@pytest.fixture(scope="module")
def deployed(prefect_server: RealServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """prefect.yaml deployed (``loyalty deploy``: the work pool, then ``prefect --no-prompt deploy --all``), the
    alert automations applied (twice) with a webhook listener as target, a process worker running, and every
    flow run of this module submitted through the API at once, so their start-ups overlap."""
    root = tmp_path_factory.mktemp("e2e")
    write_small_landing(root / "landing", DAYS)
    warehouse_url = f"sqlite:///{root / 'warehouse.db'}"
    migrate(get_engine(warehouse_url))  # runs below start together; none of them is the first to migrate
    _Hook.received = []
    hook = ThreadingHTTPServer(("127.0.0.1", free_port()), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    env = prefect_server.env(
        LOYALTY_WAREHOUSE_URL=warehouse_url,
        LOYALTY_LANDING_DIR=str(root / "landing"),
        LOYALTY_REPORTS_DIR=str(root / "reports"),
        LOYALTY_ALERT_WEBHOOK_URL=f"http://127.0.0.1:{hook.server_address[1]}/alerts",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
    )
    loyalty = str(BIN / "loyalty")
    for command in (["deploy"], ["automations"], ["automations"]):  # applying twice leaves one automation
        result = prefect_server.run([loyalty, *command], env)
        assert result.returncode == 0, f"loyalty {command[0]}: {result.stderr}{result.stdout}"
    server = prefect_server
    runs = {
        "backfill": _run_deployment(
            server, "backfill/backfill", {"start": DAYS[0].isoformat(), "end": DAYS[-1].isoformat()}
        ),
        # 02:00 on Monday 23 November in London (GMT): the nightly run loads Sunday 22 November.
        "nightly": _run_deployment(server, "nightly-etl/nightly-etl", {}, datetime(2026, 11, 23, 2, 0, tzinfo=UTC)),
        # end before start: the backfill refuses, the run fails, and an alert goes out
        "failing": _run_deployment(server, "backfill/backfill", {"start": "2026-11-20", "end": "2026-11-19"}),
    }
    if WEEKLY_FLOW.is_file() and "reports_dir" in Settings.model_fields:  # else it would write into state/
        runs["weekly"] = _run_deployment(
            server, "weekly-report/weekly-report", {}, datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
        )
    # Due in 2031, so the worker leaves it waiting: what names it is `loyalty worker`, not the flow.
    runs["later_backfill"] = _run_deployment(
        server, "backfill/backfill", {"start": "2026-11-01", "end": "2026-11-28"}, datetime(2031, 6, 1, tzinfo=UTC)
    )
    log = (root / "worker.log").open("wb")
    worker = subprocess.Popen(  # noqa: S603
        [str(BIN / "loyalty"), "worker"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        yield Deployed(server, warehouse_url, runs, _Hook.received)
        for key, run_id in runs.items():  # no run left behind for the worker to abandon
            if not key.startswith("later"):
                _wait_final(server, run_id)
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        hook.shutdown()
        hook.server_close()


def test_deploy_all_creates_the_deployments_with_their_schedules(deployed):
    with _client(deployed.server) as client:
        found = {d.name: d for d in client.read_deployments()}
    assert {"nightly-etl", "backfill"} <= set(found)
    assert {d.work_pool_name for d in found.values()} == {"loyalty-process"}
    nightly = [(s.schedule.cron, s.schedule.timezone) for s in found["nightly-etl"].schedules]
    assert nightly == [("0 2 * * *", "Europe/London")]
    assert found["backfill"].schedules == []
    assert {"start", "end", "entities", "render_reports", "skip_done"} <= set(
        found["backfill"].parameter_openapi_schema["properties"]
    )
    if not WEEKLY_FLOW.is_file():
        pytest.skip("weekly-report: flows/weekly_report.py is not there yet; the other deployments are checked")
    weekly = [(s.schedule.cron, s.schedule.timezone, s.parameters) for s in found["weekly-report"].schedules]
    assert weekly == [("0 6 * * 1", "Europe/London", {"send": True})]  # the schedule emails the report
    # the run form's default renders only: a re-render from the UI emails nobody unless asked to
    assert found["weekly-report"].parameter_openapi_schema["properties"]["send"]["default"] is False


def test_the_worker_names_a_run_waiting_for_its_time(deployed):
    def named():  # type: ignore[no-untyped-def]
        with _client(deployed.server) as client:
            run = client.read_flow_run(deployed.runs["later_backfill"])
        return run if run.name.startswith("backfill-") else None

    run = wait_for(named, 60, "loyalty worker to name the waiting backfill run")
    assert run.name == "backfill-2026-11-01-to-2026-11-28"
    assert run.state.type.value == "SCHEDULED"


def test_backfill_deployment_run_through_the_api(deployed):
    run_id = deployed.runs["backfill"]
    run = _wait_final(deployed.server, run_id)
    assert run.state.type.value == "COMPLETED", run.state.message
    assert run.name == "backfill-2026-11-16-to-2026-11-18"

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with _client(deployed.server) as client:
        artifacts = {
            a.key: a
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
            )
        }
    assert float(artifacts["backfill-progress-2026-11-16-to-2026-11-18"].data) == 100.0
    assert artifacts["backfill-days"].type == "table"

    with get_engine(deployed.warehouse_url).connect() as conn:
        ledger = conn.execute(
            sa.text(
                "select delivery_day, count(*) from run_ledger where status = 'succeeded' and delivery_day < :day"
                " group by delivery_day"
            ),
            {"day": date(2026, 11, 22)},
        ).all()
        sales = conn.execute(sa.text("select count(*) from transactions")).scalar()
    assert sorted((str(d)[:10], n) for d, n in ledger) == [(d.isoformat(), len(ENTITIES)) for d in DAYS]
    assert sales == 3


def test_scheduled_runs_take_their_logical_date_from_the_scheduled_start(deployed):
    nightly = _wait_final(deployed.server, deployed.runs["nightly"])
    assert nightly.name == "nightly-etl-2026-11-22"
    assert nightly.state.type.value == "COMPLETED", nightly.state.message
    if "weekly" not in deployed.runs:
        pytest.skip(
            "weekly-report not run: flows/weekly_report.py is not there yet, or Settings has no reports_dir to"
            " point its files away from state/reports (the nightly run is checked)"
        )
    weekly = _wait_final(deployed.server, deployed.runs["weekly"])
    assert weekly.name == "weekly-report-2026-W47"


def test_a_failed_flow_run_sends_an_alert_to_the_webhook(deployed):
    with _client(deployed.server) as client:
        assert len(client.read_automations_by_name("loyalty-flow-run-failed")) == 1
    run_id = deployed.runs["failing"]
    run = _wait_final(deployed.server, run_id)
    assert run.state.type.value == "FAILED"

    def alert_for_run() -> dict | None:
        return next((m for m in deployed.alerts if run.name in str(m.get("subject", ""))), None)

    alert = wait_for(alert_for_run, 60, f"the webhook to receive an alert for {run.name}")
    assert alert["source"] == "loyalty-pipeline"
    assert alert["subject"] == "loyalty: backfill run backfill-2026-11-20-to-2026-11-19 is Failed"
    assert "backfill end 2026-11-19 is before start 2026-11-20" in alert["body"]
    assert f"/runs/flow-run/{run_id}" in alert["body"]  # the link to the run in the UI
