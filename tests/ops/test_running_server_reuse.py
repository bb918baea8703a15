"""A command that runs a flow reports to the server of `loyalty serve` when one answers, instead of starting
Prefect's temporary server: its run shows in that UI, and the command saves the server's start-up."""

from __future__ import annotations

from urllib.parse import urlsplit

from loyalty.db import get_engine
from loyalty.schema import migrate
from loyalty.settings import Settings
from tasks.metrics import recompute_metrics
from tests.helpers import load_six_answers
from tests.ops.conftest import BIN

WEEK = "2026-W47"


def _flow_run_tags(api_url: str) -> dict[str, list[str]]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        return {r.name: r.tags for r in client.read_flow_runs()}


def test_report_render_uses_the_running_local_server(prefect_server, tmp_path):
    settings = Settings(warehouse_url=f"sqlite:///{tmp_path / 'warehouse.db'}", landing_dir=tmp_path / "landing")
    migrate(get_engine(settings.warehouse_url))
    load_six_answers(settings)
    recompute_metrics.fn(settings, [WEEK])
    address = urlsplit(prefect_server.api_url)
    env = prefect_server.env(
        LOYALTY_WAREHOUSE_URL=settings.warehouse_url,
        LOYALTY_LANDING_DIR=str(settings.landing_dir),
        LOYALTY_REPORTS_DIR=str(tmp_path / "reports"),
        LOYALTY_PREFECT_SERVER_HOST=str(address.hostname),
        LOYALTY_PREFECT_SERVER_PORT=str(address.port),
    )
    del env["PREFECT_API_URL"]  # nothing configured: the command must find the running server itself
    done = prefect_server.run([str(BIN / "loyalty"), "report", "render", "--week", WEEK], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"runs report to the Prefect server at {prefect_server.api_url}" in done.stderr
    assert "temporary server" not in done.stderr + done.stdout
    assert (tmp_path / "reports" / WEEK / "weekly-report.pdf").is_file()
    runs = _flow_run_tags(prefect_server.api_url)
    # named as its deployment's runs are, and with their tags (prefect.yaml: loyalty, report)
    assert {"loyalty", "report"} <= set(runs[f"weekly-report-{WEEK}"])
