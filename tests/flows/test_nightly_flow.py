"""The nightly flow under the session's Prefect test harness."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from loyalty.db import get_engine
from loyalty.timeutil import business_yesterday
from tests.helpers import write_csv

pytestmark = pytest.mark.flow


def test_business_yesterday_uses_the_business_zone():
    london = ZoneInfo("Europe/London")
    # 00:30 UTC on 1 July is 01:30 BST: the business day is 1 July, so "yesterday" is 30 June.
    assert business_yesterday(datetime(2026, 7, 1, 0, 30, tzinfo=UTC), london) == date(2026, 6, 30)
    # 23:30 UTC on 30 June is 00:30 BST on 1 July: still 30 June.
    assert business_yesterday(datetime(2026, 6, 30, 23, 30, tzinfo=UTC), london) == date(2026, 6, 30)
    tokyo = ZoneInfo("Asia/Tokyo")
    assert business_yesterday(datetime(2026, 6, 30, 16, 0, tzinfo=UTC), tokyo) == date(2026, 6, 30)


def test_nightly_flow_loads_each_entity_and_records_the_run(prefect_harness, project_env):
    landing = project_env.landing_dir
    write_csv(
        landing / "customers" / "2026-11-20_crm.csv",
        ["customer_id", "created_at", "email"],
        [["C1", "2026-11-20T09:00:00Z", "a@example.com"], ["C2", "not a time", "b@example.com"]],
    )
    write_csv(
        landing / "transactions" / "2026-11-20_pos.csv",
        ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel"],
        [["T1", "C1", "2026-11-20T10:00:00Z", "5", "GBP", "online"]],
    )
    from flows.nightly_etl import nightly_etl

    state = nightly_etl(delivery_day=date(2026, 11, 20), return_state=True)
    assert state.is_completed()
    results = {r["entity"]: r for r in state.result()}
    assert (results["customers"]["rows_in"], results["customers"]["rows_loaded"]) == (2, 1)
    assert results["customers"]["quarantined_by_reason"] == {"unparseable_timestamp:created_at": 1}
    assert results["transactions"]["rows_loaded"] == 1
    assert results["survey_responses"]["rows_in"] == 0

    with get_engine(project_env.warehouse_url).connect() as conn:
        ledger = conn.execute(
            sa.text("select entity, status, rows_in, rows_loaded, rows_quarantined, files from run_ledger")
        ).all()
    assert sorted((r.entity, r.status, r.rows_in, r.rows_loaded, r.rows_quarantined) for r in ledger) == [
        ("customers", "succeeded", 2, 1, 1),
        ("outreach", "succeeded", 0, 0, 0),
        ("survey_responses", "succeeded", 0, 0, 0),
        ("transactions", "succeeded", 1, 1, 0),
    ]
    assert {r.entity: r.files for r in ledger}["customers"] == '["customers/2026-11-20_crm.csv"]'


def test_nightly_flow_fails_visibly_and_the_ledger_says_so(prefect_harness, project_env, monkeypatch):
    write_csv(
        project_env.landing_dir / "customers" / "2026-11-21_crm.csv",
        ["customer_id", "created_at"],
        [["C9", "2026-11-21T09:00:00Z"]],
    )
    write_csv(project_env.landing_dir / "transactions" / "2026-11-21_pos.csv", ["transaction_id"], [["T1"]])
    import tasks.extract

    real_parse = tasks.extract.parse_file

    def failing_parse(data, file_format, source, entity, mapping):
        if entity.name == "transactions":
            raise OSError("disk read error")
        return real_parse(data, file_format, source, entity, mapping)

    monkeypatch.setattr(tasks.extract, "parse_file", failing_parse)
    from flows.nightly_etl import nightly_etl

    state = nightly_etl(delivery_day=date(2026, 11, 21), return_state=True)
    assert state.is_failed()
    assert "transactions: OSError: disk read error" in state.message
    with get_engine(project_env.warehouse_url).connect() as conn:
        ledger = {r.entity: (r.status, r.error) for r in conn.execute(sa.text("select * from run_ledger"))}
        customers = conn.execute(sa.text("select count(*) from customers")).scalar()
        transactions = conn.execute(sa.text("select count(*) from transactions")).scalar()
    assert ledger["transactions"] == ("failed", "OSError: disk read error")
    # The other entities still load; the failed one wrote nothing.
    assert ledger["customers"][0] == ledger["survey_responses"][0] == "succeeded"
    assert (customers, transactions) == (1, 0)


def test_backfill_equals_day_by_day_and_computes_the_touched_weeks(prefect_harness, project_env, tmp_path):
    from flows.backfill import backfill
    from tests.helpers import table_snapshot

    landing = project_env.landing_dir
    for offset, day in enumerate(("2026-11-15", "2026-11-16", "2026-11-17")):
        write_csv(
            landing / "survey_responses" / f"{day}_cards.csv",
            ["response_id", "submitted_at", "channel", "nps", "csat"],
            [[f"R{offset}{i}", f"{day}T10:00:00Z", "comment_card", str(i), "4"] for i in range(11)],
        )
    result = backfill(start=date(2026, 11, 15), end=date(2026, 11, 17))
    assert result["days"] == 3 and result["rows_loaded"] == 33
    assert result["weeks"] == ["2026-W46", "2026-W47"]  # Sunday the 15th ends W46
    tables = ["survey_responses", "quarantine", "file_ledger", "weekly_satisfaction"]
    backfilled = {t: table_snapshot(project_env.warehouse_url, t) for t in tables}

    from flows.nightly_etl import nightly_etl

    for day in (date(2026, 11, 15), date(2026, 11, 16), date(2026, 11, 17)):
        nightly_etl(delivery_day=day)
    for t in tables:
        import pandas as pd

        pd.testing.assert_frame_equal(backfilled[t], table_snapshot(project_env.warehouse_url, t), obj=t)
    with get_engine(project_env.warehouse_url).connect() as conn:
        weeks = dict(
            conn.execute(sa.text("select week, responses from weekly_satisfaction where dimension = 'overall'")).all()
        )
    assert weeks == {"2026-W46": 11, "2026-W47": 22}
