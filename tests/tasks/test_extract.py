"""A SQL source read incrementally by watermark, into each warehouse engine."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from loyalty.db import get_engine
from tests.helpers import run_day, table_snapshot


def _make_source(path) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    # Timestamps as UTC text, the form a SQLite source must use to compare against the window.
    pd.DataFrame(
        {
            "transaction_id": ["T1", "T2", "T3", "T4", "T5"],
            "customer_id": ["C1"] * 5,
            "occurred_at": [
                "2026-11-18 10:00:00",  # day 18
                "2026-11-19 10:00:00",  # day 19
                "2026-11-19 23:59:59",  # day 19, last second
                "2026-11-20 10:00:00",  # day 20: no run for the 20th, so the run of the 21st reads it
                "2026-11-21 09:00:00",  # day 21
            ],
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
            "currency": ["GBP"] * 5,
            "channel": ["online", "phone", "fax", "online", "online"],
            "region": [None] * 5,
        }
    ).to_sql("transactions", engine, index=False)
    engine.dispose()
    return url


def test_sql_source_reads_by_watermark_and_reruns_reuse_their_window(settings, tmp_path):
    sql_settings = settings.model_copy(
        update={"source_kind": "sql", "source_url": _make_source(tmp_path / "source.db"), "business_tz": "UTC"}
    )
    first = run_day(sql_settings, date(2026, 11, 18), entities=["transactions"])["transactions"]
    assert (first.rows_in, first.rows_loaded) == (1, 1)
    second = run_day(sql_settings, date(2026, 11, 19), entities=["transactions"])["transactions"]
    assert (second.rows_in, second.rows_loaded, second.rows_quarantined) == (2, 1, 1)  # T3 has channel "fax"
    # The 20th is missed; the 21st reads from the watermark (end of the 19th), so T4 is not skipped.
    gap = run_day(sql_settings, date(2026, 11, 21), entities=["transactions"])["transactions"]
    assert (gap.rows_in, gap.rows_loaded) == (2, 2)
    before = table_snapshot(settings.warehouse_url, "transactions")
    assert before["transaction_id"].tolist() == ["T1", "T2", "T4", "T5"]

    # A re-run of the 21st reads the window it read the first time: same rows, nothing twice.
    again = run_day(sql_settings, date(2026, 11, 21), run_id="rerun", entities=["transactions"])["transactions"]
    assert again.as_dict() == gap.as_dict()
    pd.testing.assert_frame_equal(before, table_snapshot(settings.warehouse_url, "transactions"))
    with get_engine(settings.warehouse_url).connect() as conn:
        windows = conn.execute(
            sa.text("select run_id, window_start, window_end from run_ledger where delivery_day = :d"),
            {"d": date(2026, 11, 21)},
        ).all()
    starts = {str(r.window_start)[:19] for r in windows}
    assert starts == {"2026-11-20 00:00:00"}
    q = table_snapshot(settings.warehouse_url, "quarantine")
    assert q[["source", "source_key", "reason"]].values.tolist() == [
        ["sql:transactions", "T3", "unknown_value:channel"]
    ]
