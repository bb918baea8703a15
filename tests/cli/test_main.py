"""The loyalty CLI: wrong input is one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loyalty.settings import PROJECT_ROOT


def _loyalty(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["nightly", "--date", "2026-13-01"], {}, "error: --date must be a date like 2026-11-22, got '2026-13-01'"),
        (
            ["nightly", "--date", "2026-11-20"],
            {"LOYALTY_LANDING_DIR": "/nonexistent/landing"},
            "error: landing folder /nonexistent/landing does not exist (LOYALTY_LANDING_DIR)",
        ),
        (
            ["nightly", "--date", "2026-11-20"],
            {"LOYALTY_LANDING_DIR": "/tmp", "LOYALTY_WAREHOUSE_URL": "postgresql+psycopg://u:secret@127.0.0.1:1/db"},
            "error: cannot reach database postgresql+psycopg://u:***@127.0.0.1:1/db:",
        ),
        (
            ["status"],
            {"LOYALTY_WAREHOUSE_URL": "postgresql+psycopg://127.0.0.1:1/db"},
            "error: cannot reach database postgresql+psycopg://127.0.0.1:1/db:",
        ),
        (["demo", "--end", "22/11/2026"], {}, "error: --end must be a date like 2026-11-22, got '22/11/2026'"),
        (  # what the operator typed is shown escaped, never as a terminal control sequence
            ["backfill", "--start", "2026-11-01", "--end", "2026-11-02", "--entity", "x\x1b[2J"],
            {},
            "error: --entity must be one of customers, transactions, survey_responses, outreach, got x\\x1b[2J",
        ),
        (
            ["replay", "--day", "2026-11-01", "--entity", "customer"],
            {},
            "error: --entity must be one of customers, transactions, survey_responses, outreach, got customer",
        ),
    ],
)
def test_errors_are_one_line_without_traceback(args, env, message):
    result = _loyalty(*args, env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message)
    assert "Traceback" not in result.stderr and "secret" not in result.stderr + result.stdout


def test_status_shows_runs_and_quarantine_reasons(settings, landing, monkeypatch):
    from datetime import date

    from tests.helpers import run_day, write_csv

    write_csv(
        landing / "customers" / "2026-11-20_crm.csv",
        ["customer_id", "created_at"],
        [["C1", "2026-11-20T09:00:00Z"], ["C2", "later"]],
    )
    run_day(settings, date(2026, 11, 20), run_id="abcdef123456")
    result = _loyalty("status", env={"LOYALTY_WAREHOUSE_URL": settings.warehouse_url})
    assert result.returncode == 0, result.stderr
    assert "2026-11-20   customers         succeeded        2        1        1  abcdef12" in result.stdout
    assert "customers         unparseable_timestamp:created_at" in result.stdout


def test_metrics_json_has_the_documented_keys_and_unknown_weeks_fail(settings, landing):
    import json
    from datetime import date

    from tasks.metrics import recompute_metrics
    from tests.helpers import run_day, write_csv

    write_csv(
        landing / "survey_responses" / "2026-11-18_cards.csv",
        ["response_id", "submitted_at", "channel", "nps", "csat", "ces"],
        [[f"R{i}", "2026-11-18T10:00:00Z", "phone", str(n), "5", "6"] for i, n in enumerate([10, 9, 8, 3, 2, 9])],
    )
    run_day(settings, date(2026, 11, 18))
    recompute_metrics.fn(settings, ["2026-W47"])
    env = {"LOYALTY_WAREHOUSE_URL": settings.warehouse_url}
    result = _loyalty("metrics", "--week", "2026-W47", "--json", env=env)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    documented = {
        "week",
        "responses",
        "nps",
        "nps_ci_low",
        "nps_ci_high",
        "promoters",
        "passives",
        "detractors",
        "csat",
        "ces",
        "active_customers",
        "repeat_rate",
        "churn_rate",
        "rising_terms",
        "alerts",
        "metric_n",
        "minimum_detectable_change",
        "completeness",
        "restatement",
        "survival",
        "persisting_terms",
        "cohorts",
        "period_revenue_returning",
        "period_revenue_new",
        "kpis",
    }
    assert documented <= set(figures)
    # Per-metric n: 6 NPS, 6 CSAT and 6 CES answers -> each small (< 30), none suppressed (>= 5).
    assert figures["metric_n"]["nps"] == {"n": 6, "is_small_sample": True, "is_suppressed": False}
    # All 6 rows were delivered on 18 November, before the week's Sunday cut-off; no earlier weeks to learn
    # lateness from, so what arrived is all that is expected: complete.
    completeness = figures["completeness"]
    assert (completeness["arrived_responses"], completeness["expected_responses"], completeness["completeness"]) == (
        6,
        6.0,
        1.0,
    )
    assert completeness["cutoff_day"] == "2026-11-22"
    # Last week (W46) had no responses, as reported and now: nothing restated.
    assert figures["restatement"]["previous_week"] == "2026-W46"
    assert not any(f["is_restated"] for f in figures["restatement"]["figures"])
    # The cards are anonymous: nobody to follow to a next purchase, but the response weeks are labelled.
    survival = figures["survival"]
    assert (survival["first_response_week"], survival["last_response_week"]) == ("2026-W35", "2026-W47")
    assert all(g["respondents"] == 0 for g in survival["groups"]) and figures["persisting_terms"] == []
    # 6 answers: promoters 10, 9, 9 (3); passive 8 (1); detractors 3, 2 (2) -> NPS = 100 x (3 - 2) / 6 = 16.7
    assert figures["responses"] == 6 and (figures["promoters"], figures["passives"], figures["detractors"]) == (3, 1, 2)
    assert round(figures["nps"], 1) == 16.7
    assert figures["nps_ci_low"] <= figures["nps"] <= figures["nps_ci_high"]
    assert figures["csat"] == 1.0 and figures["ces"] == 6.0
    # The tiles the report shows, read back from weekly_kpi_tiles: the same NPS, and no week before to compare.
    tiles = {tile["kpi"]: tile for tile in figures["kpis"]}
    assert list(tiles) == ["nps", "csat", "ces", "responses", "active_customers", "repeat_rate", "churn_rate"]
    assert tiles["nps"]["value"] == figures["nps"] and tiles["nps"]["previous"] is None
    assert tiles["responses"]["value"] == 6 and tiles["responses"]["is_significant"] is False

    empty = _loyalty("metrics", "--week", "2026-W30", "--json", env=env)
    assert empty.returncode == 2 and empty.stderr.strip() == (
        "error: no metrics for 2026-W30: the week is unknown or had no survey responses"
    )
    bad = _loyalty("metrics", "--week", "2026-47", env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --week:")


def test_report_emails_are_sends_and_the_log_reads_back_per_recipient(settings):
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from loyalty.db import get_engine
    from loyalty.schema import report_sends

    env = {"LOYALTY_WAREHOUSE_URL": settings.warehouse_url}
    commands = _loyalty("report", "--help", env=env).stdout
    assert "sends" in commands and "deliveries" not in commands
    empty = _loyalty("report", "sends", "--week", "2026-W47", env=env)
    assert empty.returncode == 0 and empty.stdout.strip() == "no sends of the 2026-W47 report yet"
    at = datetime(2026, 11, 23, 7, 0, tzinfo=UTC).replace(tzinfo=None)
    # executemany needs the same keys in every row: a sent row has no error.
    row = {"week": "2026-W47", "region": "", "pdf_sha256": "0" * 64, "attempted_at": at, "error": None}
    with get_engine(settings.warehouse_url).begin() as conn:
        conn.execute(
            report_sends.insert(),
            [
                {**row, "recipient": "b@example.com", "status": "failed", "attempts": 3, "error": "550 no such user"},
                {**row, "recipient": "a@example.com", "status": "sent", "attempts": 1},
                {**row, "recipient": "b@example.com", "status": "sent", "attempts": 1},
            ],
        )
        assert conn.execute(sa.select(sa.func.count()).select_from(report_sends)).scalar() == 3
    lines = _loyalty("report", "sends", "--week", "2026-W47", env=env).stdout.splitlines()
    # One line per recipient, the latest send each: b's second send replaced its failed one.
    assert [line.split()[:6] for line in lines] == [
        ["a@example.com", "sent", "attempts", "1", "sends", "1"],
        ["b@example.com", "sent", "attempts", "1", "sends", "2"],
    ]


def test_the_stored_row_counts_name_every_contract_entity(settings):
    # The demo's totals table looks each entity up in these counts: an entity missing here stopped `loyalty demo`.
    from loyalty.contract import ENTITIES
    from loyalty.db import get_engine, load_sql
    from tests.helpers import load_six_answers

    load_six_answers(settings)  # six answers and two purchases, nothing else
    with get_engine(settings.warehouse_url).connect() as conn:
        stored = {r.entity: r.count_rows for r in conn.execute(load_sql("status/stored_rows"))}
    assert set(stored) == set(ENTITIES)
    assert stored == {"customers": 0, "transactions": 2, "survey_responses": 6, "outreach": 0}
