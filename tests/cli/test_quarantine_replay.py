"""`loyalty quarantine` and `loyalty replay` against a real warehouse (SQLite and PostgreSQL).

A day is loaded with bad rows (a canary email in a comment, an ESC in an id), listed masked, fixed and replayed:
the replay prints what changed, a second replay changes nothing (the warehouse is identical), rows in = loaded +
quarantined, and the canary reaches no output, artifact or log of the runs. The replays are real CLI
processes, reporting to the session's Prefect test harness.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from loyalty.db import get_engine
from tests.cli.test_main import _loyalty
from tests.helpers import run_day, table_snapshot, write_csv

pytestmark = pytest.mark.flow

DAY = date(2026, 11, 16)
CANARY = "canary-9d41@leak.example.com"
SURVEY = ["response_id", "customer_id", "submitted_at", "channel", "nps", "comment"]
SALES = ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel"]
TABLES = ["customers", "transactions", "survey_responses", "quarantine", "file_ledger"]


def _write_day(landing, fixed: bool) -> None:  # type: ignore[no-untyped-def]
    d = DAY.isoformat()
    write_csv(
        landing / "customers" / f"{d}_crm.csv",
        ["customer_id", "created_at", "email"],
        [["C1", f"{d}T09:00:00Z", "jane.doe@example.com"]],
    )
    write_csv(
        landing / "transactions" / f"{d}_pos.csv",
        SALES,
        [
            ["T1", "C1", f"{d}T12:00:00Z", "10.50", "GBP", "online"],
            ["T2", "C1", f"{d}T13:00:00Z", "3", "EURO", "phone"],
        ],
    )
    rows = [["R1", "C1", f"{d}T10:00:00Z", "online", "9", "fine"]]
    if fixed:  # the vendor's corrected file: R2 fixed, and a new row R4 with no answer at all
        rows += [["R2", "C1", f"{d}T10:05:00Z", "online", "7", "ok"], ["R4", "C1", f"{d}T10:15:00Z", "online", "", ""]]
    else:
        rows += [
            ["R2", "C1", f"{d}T10:05:00Z", "web", "12", f"mail me at {CANARY}"],
            ["R3\x1b[31m", "C1", f"{d}T10:10:00Z", "online", "eleven", "x"],
        ]
    write_csv(landing / "survey_responses" / f"{d}_web.csv", SURVEY, rows)


@pytest.fixture
def api_url(prefect_harness) -> str:  # type: ignore[no-untyped-def]
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


def _env(settings, api_url: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "LOYALTY_WAREHOUSE_URL": settings.warehouse_url,
        "LOYALTY_LANDING_DIR": str(settings.landing_dir),
        "LOYALTY_REPORTS_DIR": str(settings.reports_dir),
        "LOYALTY_PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_API_URL": api_url,
    }


def test_quarantine_lists_masked_rows_and_replay_shows_what_changed(settings, api_url):
    _write_day(settings.landing_dir, fixed=False)
    run_day(settings, DAY)
    env = _env(settings, api_url)

    listed = _loyalty("quarantine", "--day", DAY.isoformat(), env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "quarantined rows (day 2026-11-16): 3"
    assert (
        "  2026-11-16  survey_responses  survey_responses/2026-11-16_web.csv:3  id R2"
        "  unknown_value:channel;out_of_range:nps" in lines
    )
    assert (
        "      response_id=R2 customer_id=C1 submitted_at=2026-11-16T10:05:00Z channel=web nps=12"
        " comment=(free text, 39 chars)" in lines
    )
    assert any("id R3\\x1b[31m" in line for line in lines)  # the ESC shown escaped, never sent to the terminal
    assert "\x1b" not in listed.stdout and CANARY not in listed.stdout
    assert any("currency=EURO" in line for line in lines)

    only_sales = _loyalty("quarantine", "--entity", "transactions", env=env)
    assert only_sales.stdout.splitlines()[0] == "quarantined rows (entity transactions): 1"
    by_kind = _loyalty("quarantine", "--reason", "out_of_range", env=env).stdout.splitlines()
    assert by_kind[0] == "quarantined rows (reason out_of_range): 1" and "id R2" in by_kind[1]
    by_code = _loyalty("quarantine", "--reason", "not_a_number:nps", "--limit", "1", env=env).stdout
    assert by_code.splitlines()[0] == "quarantined rows (reason not_a_number:nps): 1"
    bad = _loyalty("quarantine", "--entity", "sales", env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --entity must be one of customers")

    _write_day(settings.landing_dir, fixed=True)
    replayed = _loyalty("replay", "--day", DAY.isoformat(), env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines() == [
        "replay of delivery day 2026-11-16: before -> after",
        "  entity                    rows in          loaded     quarantined  files",
        "  customers                       1               1               0  1 loaded",
        "  transactions                    2               1               1  1 loaded",
        "  survey_responses                3          1 -> 2          2 -> 1  1 loaded",
        "reasons (rows failing each rule):",
        "  survey_responses  no_answer                                     0 -> 1      appeared",
        "  survey_responses  not_a_number:nps                              1 -> 0      disappeared",
        "  survey_responses  out_of_range:nps                              1 -> 0      disappeared",
        "  survey_responses  unknown_value:channel                         1 -> 0      disappeared",
    ]
    snapshot = {t: table_snapshot(settings.warehouse_url, t) for t in TABLES}

    again = _loyalty("replay", "--day", DAY.isoformat(), env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "no change: the day's files give the rows already stored"
    for table in TABLES:  # idempotent: the partitions were replaced by identical rows
        assert table_snapshot(settings.warehouse_url, table).equals(snapshot[table]), table

    with get_engine(settings.warehouse_url).connect() as conn:
        ledger = conn.execute(
            sa.text("select run_id, entity, rows_in, rows_loaded, rows_quarantined, status from run_ledger")
        ).all()
    assert {r.status for r in ledger} == {"succeeded"} and len({r.run_id for r in ledger}) == 3
    assert all(r.rows_in == r.rows_loaded + r.rows_quarantined for r in ledger)

    _assert_runs_show_no_canary(api_url)
    for result in (listed, only_sales, replayed, again):
        assert CANARY not in result.stdout + result.stderr


def _assert_runs_show_no_canary(api_url: str) -> None:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterName,
        LogFilter,
        LogFilterFlowRunId,
    )

    with SyncPrefectClient(api_url) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"replay-{DAY.isoformat()}"]))
        )
        assert len(runs) >= 2, [r.name for r in runs]
        ids = [r.id for r in runs]
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids)))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
    validation = [a for a in artifacts if a.key == "validation-2026-11-16"]
    assert len(validation) == len(runs)
    texts = [str(a.data) + str(a.description) for a in artifacts] + [entry.message for entry in logs]
    assert not any(CANARY in t or "mail me" in t for t in texts)
    assert any("expect_column_values_to_be_in_set(has_any_answer)" in str(a.data) for a in validation)
