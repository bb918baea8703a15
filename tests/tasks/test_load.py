"""Tasks through .fn() against SQLite and PostgreSQL: exact quarantine, idempotent re-runs, late rows,
duplicate files and duplicate ids across deliveries."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from loyalty.db import get_engine
from tests.helpers import run_day, table_snapshot, write_csv, write_jsonl

TX_HEADER = ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel", "region"]
DAY = date(2026, 11, 20)


def _quarantine(url: str) -> pd.DataFrame:
    with get_engine(url).connect() as conn:
        return pd.read_sql(sa.text("select * from quarantine order by source, source_row"), conn)


def test_known_invalid_rows_are_exactly_the_quarantined_ones(settings, landing):
    # Line numbers count the header as line 1.
    write_csv(
        landing / "transactions" / "2026-11-20_pos.csv",
        TX_HEADER,
        [
            ["T1", "C1", "2026-11-20T10:00:00Z", "12.50", "GBP", "online", "North"],  # 2 valid
            ["T2", "C1", "2026-11-20T10:00:00Z", "NaN", "GBP", "online", "North"],  # 3 NaN amount
            ["T3", "C1", "2026-11-20T10:00:00Z", "", "GBP", "online", "North"],  # 4 empty amount
            ["T4", "C1", "2026-11-20T10:00:00Z", "3", "GBP", "fax", "North"],  # 5 unknown channel
            ["T5", "C1", "2026-11-20T10:00:00Z", "3", "EURO", "phone", "North"],  # 6 bad currency
            ["T6", "C1", "yesterday 3pm", "3", "GBP", "phone", "North"],  # 7 bad timestamp
            ["T7", "C2", "2026-11-17T23:30:00", "8", "GBP", "in_store", ""],  # 8 valid, late row
            ["", "C2", "2026-11-20T10:00:00Z", "8", "GBP", "in_store", ""],  # 9 no id
            ["T9", "C2", "2026-11-20T10:00:00Z", "inf", "GBP", "in_store", ""],  # 10 infinite amount
            ["T10", "C2", "2026-11-20T10:00:00Z", "8", "GBP"],  # 11 wrong field count
            ["T11", "C2", "2026-11-20T12:00:00+01:00", "-8.00", "GBP", "online", ""],  # 12 valid refund
            ["T12", "C2", "2026-11-20T12:00:00Z", "abc", "GBP", "online", ""],  # 13 text amount
        ],
    )
    summary = run_day(settings, DAY, entities=["transactions"])["transactions"]

    assert (summary.rows_in, summary.rows_loaded, summary.rows_quarantined) == (12, 3, 9)
    assert summary.rows_in == summary.rows_loaded + summary.rows_quarantined
    q = _quarantine(settings.warehouse_url)
    got = dict(zip(q["source_row"], q["reason"], strict=True))
    assert got == {
        3: "non_finite_number:amount",  # NaN: a number, but not finite
        4: "missing_required:amount",
        5: "unknown_value:channel",
        6: "bad_format:currency",
        7: "unparseable_timestamp:occurred_at",
        9: "missing_required:transaction_id",
        10: "non_finite_number:amount",
        11: "csv_wrong_field_count",
        13: "not_a_number:amount",
    }
    assert set(q["source"]) == {"transactions/2026-11-20_pos.csv"}
    assert set(q["run_id"]) == {"test-run"}
    # Nothing was turned into a zero: the raw text is kept for replay.
    assert '"amount": "NaN"' in q.loc[q["source_row"] == 3, "raw_record"].item()

    loaded = table_snapshot(settings.warehouse_url, "transactions")
    assert sorted(loaded["transaction_id"]) == ["T1", "T11", "T7"]
    days = dict(zip(loaded["transaction_id"], pd.to_datetime(loaded["business_day"]).dt.date, strict=True))
    # T7 is naive 23:30 London on the 17th (GMT in November): its own, earlier business day.
    assert days == {"T1": DAY, "T11": DAY, "T7": date(2026, 11, 17)}
    assert sorted(loaded["amount"]) == [-8.0, 8.0, 12.5]


def _write_mixed_landing(landing):
    write_csv(
        landing / "customers" / "2026-11-20_crm.csv",
        ["customer_id", "created_at", "region", "segment", "email"],
        [
            ["C1", "2026-11-20T09:00:00Z", "North", "consumer", "a@example.com"],
            ["C2", "2026-11-19T23:30:00", "South", "business", "b@example.com"],
            ["", "2026-11-20T10:00:00", "South", "business", "x@example.com"],
        ],
    )
    write_csv(
        landing / "transactions" / "2026-11-20_pos.csv",
        ["txn_id", "cust_id", "txn_ts", "amount_gross", "ccy", "sales_channel", "store_region", "till"],
        [
            ["T1", "C1", "2026-11-20T10:00:00+00:00", "12.50", "GBP", "online", "North", "4"],
            ["T2", "C2", "2026-11-18T10:00:00", "7", "EUR", "phone", "South", "2"],
        ],
    )
    write_jsonl(
        landing / "survey_responses" / "2026-11-20_voicebox.jsonl",
        [
            {
                "RespondentID": "R1",
                "CustomerRef": "C1",
                "SubmittedAt": "2026-11-20T12:00:00Z",
                "Source": "online",
                "Q1_Recommend": 9,
                "Verbatim": "<script>alert(1)</script> great",
            },
            {
                "RespondentID": "R2",
                "SubmittedAt": "2026-11-20T12:00:00Z",
                "Source": "online",
                "Q1_Recommend": 11,
            },
        ],
    )
    pd.DataFrame(
        {"response_id": ["R3"], "submitted_at": ["2026-11-20T08:00:00Z"], "channel": ["email"], "csat": [4.0]}
    ).to_parquet(landing / "survey_responses" / "2026-11-20_web.parquet")


def test_loading_the_same_day_twice_leaves_the_warehouse_identical(settings, landing):
    _write_mixed_landing(landing)
    first = run_day(settings, DAY, run_id="run-1")
    tables = ["customers", "transactions", "survey_responses", "quarantine", "file_ledger"]
    before = {t: table_snapshot(settings.warehouse_url, t) for t in tables}
    second = run_day(settings, DAY, run_id="run-2")
    after = {t: table_snapshot(settings.warehouse_url, t) for t in tables}
    for t in tables:
        pd.testing.assert_frame_equal(before[t], after[t], obj=t)
    assert {k: v.as_dict() for k, v in first.items()} == {k: v.as_dict() for k, v in second.items()}
    assert len(before["customers"]) == 2 and len(before["survey_responses"]) == 2
    # The vendor headers were mapped, and the unknown "till" column is recorded as ignored.
    ledger = before["file_ledger"].set_index("path")
    assert "ignored column 'till'" in ledger.loc["transactions/2026-11-20_pos.csv", "warnings"]
    with get_engine(settings.warehouse_url).connect() as conn:
        runs = conn.execute(sa.text("select count(*) from run_ledger where status = 'succeeded'")).scalar()
    assert runs == 8  # 2 runs x 4 entities: the run ledger keeps history


def test_same_content_under_another_name_loads_once_and_a_changed_file_replaces(settings, landing):
    rows = [["T1", "C1", "2026-11-20T10:00:00Z", "12.50", "GBP", "online", "North"]]
    write_csv(landing / "transactions" / "2026-11-20_a.csv", TX_HEADER, rows)
    write_csv(landing / "transactions" / "2026-11-20_b.csv", TX_HEADER, rows)  # same bytes, another name
    summary = run_day(settings, DAY, entities=["transactions"])["transactions"]
    assert (summary.files_loaded, summary.files_duplicate, summary.rows_in, summary.rows_loaded) == (
        1,
        1,
        1,
        1,
    )

    # Delivered again on a later day under a new name: still a duplicate, nothing loaded twice.
    write_csv(landing / "transactions" / "2026-11-21_resend.csv", TX_HEADER, rows)
    later = run_day(settings, date(2026, 11, 21), entities=["transactions"])["transactions"]
    assert (later.files_duplicate, later.rows_in) == (1, 0)

    # Two files of one day holding the same id with different content: nobody can say which is right.
    write_csv(landing / "transactions" / "2026-11-20_a.csv", TX_HEADER, [[*rows[0][:3], "99.00", *rows[0][4:]]])
    clash = run_day(settings, DAY, entities=["transactions"])["transactions"]
    assert (clash.files_loaded, clash.rows_in, clash.rows_loaded, clash.rows_quarantined) == (2, 2, 0, 2)
    assert _quarantine(settings.warehouse_url)["reason"].tolist() == ["duplicate_id_conflict"] * 2

    # The changed file alone: re-running its day replaces that day's rows with the new content.
    (landing / "transactions" / "2026-11-20_b.csv").unlink()
    rerun = run_day(settings, DAY, entities=["transactions"])["transactions"]
    assert (rerun.files_loaded, rerun.files_duplicate, rerun.rows_loaded, rerun.rows_quarantined) == (
        1,
        0,
        1,
        0,
    )
    assert table_snapshot(settings.warehouse_url, "transactions")["amount"].tolist() == [99.0]
    assert _quarantine(settings.warehouse_url).empty


def test_late_rows_land_in_their_own_day_without_disturbing_it(settings, landing):
    write_csv(
        landing / "transactions" / "2026-11-18_pos.csv",
        TX_HEADER,
        [["T1", "C1", "2026-11-18T10:00:00Z", "10", "GBP", "online", ""]],
    )
    write_csv(
        landing / "transactions" / "2026-11-20_pos.csv",
        TX_HEADER,
        [
            ["T2", "C1", "2026-11-18T11:00:00Z", "20", "GBP", "online", ""],  # late: belongs to the 18th
            ["T1", "C1", "2026-11-18T10:00:00Z", "10", "GBP", "online", ""],
        ],
    )  # re-sent identical row
    run_day(settings, date(2026, 11, 18), entities=["transactions"])
    summary = run_day(settings, DAY, entities=["transactions"])["transactions"]
    assert (summary.rows_in, summary.rows_loaded, summary.rows_quarantined) == (2, 1, 1)
    assert summary.business_days == (date(2026, 11, 18),)
    snapshot = table_snapshot(settings.warehouse_url, "transactions")
    assert dict(zip(snapshot["transaction_id"], pd.to_datetime(snapshot["delivery_day"]).dt.date, strict=True)) == {
        "T1": date(2026, 11, 18),
        "T2": DAY,
    }
    assert set(pd.to_datetime(snapshot["business_day"]).dt.date) == {date(2026, 11, 18)}
    assert _quarantine(settings.warehouse_url)["reason"].tolist() == ["duplicate_id_same_content"]
    # Re-running the 18th keeps the late row that the 20th delivered.
    run_day(settings, date(2026, 11, 18), entities=["transactions"])
    assert sorted(table_snapshot(settings.warehouse_url, "transactions")["transaction_id"]) == ["T1", "T2"]


def test_whole_file_faults_are_reported_and_other_files_still_load(settings, landing):
    write_csv(
        landing / "survey_responses" / "2026-11-20_ok.csv",
        ["response_id", "submitted_at", "channel", "nps"],
        [["R1", "2026-11-20T10:00:00Z", "phone", "7"]],
    )
    (landing / "survey_responses" / "2026-11-20_latin1.csv").write_bytes(
        "response_id,submitted_at,channel,comment\nR2,2026-11-20T10:00:00Z,phone,très bien\n".encode("latin-1")
    )
    write_csv(
        landing / "survey_responses" / "2026-11-20_nochannel.csv",
        ["response_id", "submitted_at", "nps"],
        [["R3", "2026-11-20T10:00:00Z", "7"]],
    )
    (landing / "survey_responses" / "2026-11-20_broken.parquet").write_bytes(b"PAR1 not really")
    (landing / "survey_responses" / "2026-11-20_notes.xlsx").write_bytes(b"xx")
    summary = run_day(settings, DAY, entities=["survey_responses"])["survey_responses"]
    assert (summary.files_seen, summary.files_loaded, summary.files_rejected) == (5, 1, 4)
    assert (summary.rows_in, summary.rows_loaded, summary.rows_quarantined) == (1, 1, 0)
    ledger = table_snapshot(settings.warehouse_url, "file_ledger").set_index("path")["reason"].to_dict()
    assert ledger["survey_responses/2026-11-20_latin1.csv"].startswith("not_utf8:")
    assert ledger["survey_responses/2026-11-20_nochannel.csv"].startswith("missing_required_column:channel")
    assert ledger["survey_responses/2026-11-20_broken.parquet"].startswith("unreadable_file:")
    assert ledger["survey_responses/2026-11-20_notes.xlsx"].startswith("unsupported_format:")
