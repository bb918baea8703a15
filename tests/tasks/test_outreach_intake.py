"""The outreach entity through the same intake as the others, on SQLite and PostgreSQL: the CRM export's
vendor headers, exact quarantine, idempotent re-runs, a SQL source read by watermark, and the note that is
stored but never leaves the warehouse."""

from __future__ import annotations

import logging
import shutil
from datetime import date

import pandas as pd
import sqlalchemy as sa

from loyalty.contract import ENTITIES
from loyalty.db import get_engine
from loyalty.intake import load_column_mapping
from loyalty.settings import PROJECT_ROOT
from tests.helpers import run_day, table_snapshot, write_csv

DAY = date(2026, 11, 27)
EXAMPLE = PROJECT_ROOT / "config" / "examples" / "relay_crm_outreach.csv"
CRM_HEADER = ["ActivityID", "ContactRef", "ActivityDateTime", "Medium", "OwnerTeam", "Disposition", "Notes"]
SECRET_NOTE = 'Call jane.doe@example.com <script>alert("x")</script> <b>angry</b>'


def test_the_shipped_crm_mapping_covers_every_outreach_column():
    mapping = load_column_mapping(PROJECT_ROOT / "config" / "column_mapping.yaml")["outreach"]
    assert set(mapping.values()) == set(ENTITIES["outreach"].column_names)


def test_example_crm_export_and_invalid_rows_load_or_quarantine_exactly(settings, landing, caplog):
    (landing / "outreach").mkdir(exist_ok=True)
    shutil.copy(EXAMPLE, landing / "outreach" / "2026-11-27_relay.csv")  # 5 valid rows
    # Line numbers count the header as line 1.
    write_csv(
        landing / "outreach" / "2026-11-27_relay_late.csv",
        CRM_HEADER,
        [
            ["O1", "C1", "2026-11-27T09:00:00Z", "phone", "North care team", "resolved", SECRET_NOTE],  # 2 valid
            ["O2", "C1", "2026-11-27T09:00:00Z", "fax", "", "reached", SECRET_NOTE],  # 3 unknown channel
            ["O3", "C1", "2026-11-27T09:00:00Z", "phone", "", "callback", ""],  # 4 unknown outcome
            ["O4", "", "2026-11-27T09:00:00Z", "sms", "", "reached", ""],  # 5 no customer
            ["O5", "C2", "next tuesday", "sms", "", "reached", ""],  # 6 bad timestamp
            ["O6", "C2", "2026-11-27T10:00:00Z", "letter", "", "", ""],  # 7 no outcome
            ["O7", "C2", "2026-11-26T23:30:00", "letter", "", "declined", ""],  # 8 valid, a late row of the 26th
        ],
    )
    with caplog.at_level(logging.DEBUG):
        summary = run_day(settings, DAY, entities=["outreach"])["outreach"]

    assert (summary.rows_in, summary.rows_loaded, summary.rows_quarantined) == (12, 7, 5)
    with get_engine(settings.warehouse_url).connect() as conn:
        q = pd.read_sql(sa.text("select * from quarantine order by source_row"), conn)
    assert dict(zip(q["source_row"], q["reason"], strict=True)) == {
        3: "unknown_value:channel",
        4: "unknown_value:outcome",
        5: "missing_required:customer_id",
        6: "unparseable_timestamp:contacted_at",
        7: "missing_required:outcome",
    }
    loaded = table_snapshot(settings.warehouse_url, "outreach")
    assert sorted(loaded["outreach_id"]) == ["O1", "O7", *(f"RLY-00010{i}" for i in range(1, 6))]
    by_id = loaded.set_index("outreach_id")
    # The vendor's headers landed in contract columns; the note is stored whole.
    assert by_id.loc["RLY-000104", "team"] == "Store 14 Leeds" and by_id.loc["RLY-000104", "outcome"] == "escalated"
    assert by_id.loc["O1", "note"] == SECRET_NOTE
    assert pd.to_datetime(by_id.loc["O7", "business_day"]).date() == date(2026, 11, 26)
    # Stored, never shown: not in a log line nor in a quarantine reason or detail (the raw record keeps it
    # for replay, like any rejected row's values).
    assert "jane.doe" not in caplog.text and "script" not in caplog.text
    assert not q["detail"].str.contains("jane.doe").any() and not q["reason"].str.contains("jane").any()

    # Re-running the day changes nothing.
    before = (table_snapshot(settings.warehouse_url, "outreach"), table_snapshot(settings.warehouse_url, "quarantine"))
    again = run_day(settings, DAY, run_id="rerun", entities=["outreach"])["outreach"]
    assert again.as_dict() == summary.as_dict()
    pd.testing.assert_frame_equal(before[0], table_snapshot(settings.warehouse_url, "outreach"))
    pd.testing.assert_frame_equal(before[1], table_snapshot(settings.warehouse_url, "quarantine"))


def test_outreach_from_a_sql_source_is_read_by_watermark(settings, tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    source = sa.create_engine(url)
    pd.DataFrame(
        {
            "outreach_id": ["A1", "A2", "A3"],
            "customer_id": ["C1", "C2", "C3"],
            "contacted_at": ["2026-11-26 10:00:00", "2026-11-27 08:00:00", "2026-11-27 09:00:00"],
            "channel": ["phone", "email", "pigeon"],
            "team": ["North", None, None],
            "outcome": ["reached", "resolved", "reached"],
            "note": [SECRET_NOTE, None, None],
        }
    ).to_sql("outreach", source, index=False)
    source.dispose()
    sql_settings = settings.model_copy(update={"source_kind": "sql", "source_url": url, "business_tz": "UTC"})
    first = run_day(sql_settings, date(2026, 11, 26), entities=["outreach"])["outreach"]
    second = run_day(sql_settings, DAY, entities=["outreach"])["outreach"]
    assert (first.rows_in, first.rows_loaded) == (1, 1)
    assert (second.rows_in, second.rows_loaded, second.rows_quarantined) == (2, 1, 1)  # A3 came by pigeon
    loaded = table_snapshot(settings.warehouse_url, "outreach")
    assert loaded["outreach_id"].tolist() == ["A1", "A2"]
    q = table_snapshot(settings.warehouse_url, "quarantine")
    assert q[["source", "source_key", "reason"]].values.tolist() == [["sql:outreach", "A3", "unknown_value:channel"]]
