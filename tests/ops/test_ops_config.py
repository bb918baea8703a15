"""Operations without a server: prefect.yaml as the one source of the schedules, what `serve` builds from it,
the local server's environment, which weeks a backfill renders, and the `loyalty backfill` command's errors."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from cli.server import read_deployments, runner_deployments, server_environment
from loyalty.failures import Failure
from loyalty.settings import PROJECT_ROOT, Settings


def test_prefect_yaml_writes_the_three_deployments_and_their_schedules():
    specs = {s.name: s for s in read_deployments()}
    assert list(specs) == ["nightly-etl", "weekly-report", "backfill"]
    assert specs["nightly-etl"].schedules == [{"cron": "0 2 * * *", "timezone": "Europe/London"}]
    # the schedule emails the report; the flow's own default (the UI form's) renders only
    assert specs["weekly-report"].schedules == [
        {"cron": "0 6 * * 1", "timezone": "Europe/London", "parameters": {"send": True}}
    ]
    assert specs["backfill"].schedules == []
    assert {s.work_pool for s in specs.values()} == {"loyalty-process"}
    # the schedules run in the business time zone the settings default to
    assert {sch["timezone"] for s in specs.values() for sch in s.schedules} == {Settings().business_tz}


def test_serve_builds_its_deployments_from_prefect_yaml(monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    specs = read_deployments()
    built = {d.name: d for d in runner_deployments(specs)}
    assert set(built) == {spec.name for spec in specs}
    for spec in specs:
        deployment = built[spec.name]
        assert deployment.entrypoint == spec.entrypoint
        assert [(s.schedule.cron, s.schedule.timezone, s.parameters) for s in deployment.schedules] == [
            (s["cron"], s["timezone"], s.get("parameters", {})) for s in spec.schedules
        ]
        assert set(spec.tags) <= set(deployment.tags)
    backfill = built["backfill"]
    assert {"start", "end", "entities", "render_reports", "skip_done", "task_runner", "chunk_days"} <= set(
        backfill._parameter_openapi_schema.properties
    )


def test_the_local_server_keeps_its_database_under_prefect_home_unless_postgres_is_named(tmp_path):
    sqlite = server_environment(Settings(prefect_home=tmp_path, prefect_server_port=4555))
    assert sqlite["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == f"sqlite+aiosqlite:///{tmp_path}/server/prefect.db"
    assert sqlite["PREFECT_SERVER_API_PORT"] == "4555"
    assert sqlite["PREFECT_UI_URL"] == "http://127.0.0.1:4555"
    url = "postgresql+asyncpg://prefect@127.0.0.1:5432/prefect"
    postgres = server_environment(Settings(prefect_home=tmp_path, prefect_server_database_url=url))
    assert postgres["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == url


def test_only_complete_weeks_the_backfill_reached_are_rendered():
    from flows.backfill import complete_weeks

    weeks = ["2026-W45", "2026-W46", "2026-W47"]  # Sundays 8, 15 and 22 November
    assert complete_weeks(weeks, end=date(2026, 11, 20), today=date(2026, 11, 24)) == ["2026-W45", "2026-W46"]
    assert complete_weeks(weeks, end=date(2026, 11, 22), today=date(2026, 11, 23)) == weeks
    assert complete_weeks(weeks, end=date(2026, 11, 22), today=date(2026, 11, 22)) == ["2026-W45", "2026-W46"]


class _State:
    def __init__(self, ok: bool) -> None:
        self.ok, self.message, self.name = ok, None if ok else "render failed: no fonts", "Failed"

    def is_completed(self) -> bool:
        return self.ok


def test_rendering_calls_the_weekly_report_flow_for_each_week(monkeypatch):
    import flows.backfill

    weekly_module = pytest.importorskip("flows.weekly_report", reason="flows/weekly_report.py is not on main yet")

    calls = []

    def fake_weekly_report(week, send, return_state):  # type: ignore[no-untyped-def]
        calls.append((week, send, return_state))
        return _State(ok=week != "2026-W46")

    monkeypatch.setattr(weekly_module, "weekly_report", fake_weekly_report)
    failures = flows.backfill.render_weekly_reports(Settings(), ["2026-W45", "2026-W46"], logging.getLogger("t"))
    assert calls == [("2026-W45", False, True), ("2026-W46", False, True)]
    assert failures == [Failure(None, "report 2026-W46", "render failed: no fonts")]


def _loyalty(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("loyalty")), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=PROJECT_ROOT,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--start", "2026-01-01", "--end", "31/03/2026"],
            "error: --end must be a date like 2026-11-22, got '31/03/2026'",
        ),
        (["--start", "2026-03-31", "--end", "2026-01-01"], "error: --end 2026-01-01 is before --start 2026-03-31"),
        (
            ["--start", "2026-01-01", "--end", "2026-01-02", "--entity", "orders"],
            "error: --entity must be one of customers, transactions, survey_responses, outreach, got orders",
        ),
        (
            ["--start", "2026-01-01", "--end", "2026-01-02", "--task-runner", "spark"],
            "error: --task-runner must be serial or dask, got 'spark'",
        ),
    ],
)
def test_backfill_command_errors_are_one_line(args, message):
    result = _loyalty("backfill", *args)
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stderr
