"""read_purchase_history (customer_months + the window) gives the PurchaseHistory pandas computes from every
transaction (analytics.history.history_from_frames), on rows built to hit each rule of cohort_cells.sql:
existing customers' refunds before their first purchase in its month (in the purchase's currency and in
another), a customer whose refunds come a month before the first purchase, a new customer's refund in the
cohort month, an unconvertible currency, a row without region, and a regional edition. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics.history import COHORT_CELL_COLUMNS, history_from_frames
from loyalty.db import get_engine
from tasks.metrics import ALL_HISTORY, read_purchase_history, read_purchases_after, read_warehouse_frames
from tests.helpers import run_day, write_csv

START = date(2026, 3, 1)
LAST_DAY = date(2026, 3, 31)

CUSTOMERS = [
    # customer_id, created_at, region: C1, C3, C4, C5 are older than the data (existing customers).
    ["C1", "2025-01-01T09:00:00Z", "North", "consumer", "c1@example.com"],
    ["C2", "2026-01-10T09:00:00Z", "North", "consumer", "c2@example.com"],
    ["C3", "2025-06-01T09:00:00Z", "South", "business", "c3@example.com"],
    ["C4", "2025-03-01T09:00:00Z", "North", "consumer", "c4@example.com"],
    ["C5", "2025-03-01T09:00:00Z", "North", "consumer", "c5@example.com"],
]
TRANSACTIONS = [
    # C1: refunds before the first purchase (9 January) in GBP and EUR, one EUR refund after it.
    ["T01", "C1", "2026-01-05T12:00:00Z", "-3.00", "GBP", "online", "North"],
    ["T02", "C1", "2026-01-09T12:00:00Z", "20.00", "GBP", "online", "North"],
    ["T03", "C1", "2026-01-03T12:00:00Z", "-2.00", "EUR", "online", "North"],
    ["T04", "C1", "2026-01-20T12:00:00Z", "-1.00", "EUR", "online", "North"],
    ["T05", "C1", "2026-02-10T12:00:00Z", "15.00", "GBP", "online", "North"],
    ["T06", "C1", "2026-03-05T12:00:00Z", "5.00", "GBP", "online", "North"],
    # C2, new: a refund in the cohort month before the first purchase counts (whole months).
    ["T07", "C2", "2026-01-15T12:00:00Z", "-4.00", "GBP", "online", "North"],
    ["T08", "C2", "2026-01-20T12:00:00Z", "10.00", "GBP", "online", "North"],
    ["T09", "C2", "2026-02-02T12:00:00Z", "7.00", "EUR", "online", "North"],
    # C3, existing, South: a refund before the first purchase, then USD.
    ["T10", "C3", "2026-02-01T12:00:00Z", "-5.00", "GBP", "phone", "South"],
    ["T11", "C3", "2026-02-03T12:00:00Z", "9.00", "GBP", "phone", "South"],
    ["T12", "C3", "2026-02-04T12:00:00Z", "2.00", "USD", "phone", "South"],
    # C4, existing: January refunds only (before the first purchase month), a EUR refund before the first
    # purchase in February and one after it, a purchase in the window.
    ["T13", "C4", "2026-01-02T12:00:00Z", "-6.00", "GBP", "online", "North"],
    ["T14", "C4", "2026-02-14T12:00:00Z", "8.00", "GBP", "online", "North"],
    ["T15", "C4", "2026-02-01T12:00:00Z", "-1.00", "EUR", "online", "North"],
    ["T16", "C4", "2026-02-20T12:00:00Z", "-0.50", "EUR", "online", "North"],
    ["T17", "C4", "2026-03-10T12:00:00Z", "3.00", "GBP", "online", "North"],
    # C5: a purchase in a currency without a rate (left out), then the first convertible one.
    ["T18", "C5", "2026-01-04T12:00:00Z", "50", "JPY", "online", "North"],
    ["T19", "C5", "2026-02-05T12:00:00Z", "4.00", "GBP", "online", "North"],
    # C6: no customer row, no region.
    ["T20", "C6", "2026-01-11T12:00:00Z", "12.00", "GBP", "in_store", ""],
    # C7: first purchase in the window.
    ["T21", "C7", "2026-03-12T12:00:00Z", "6.00", "GBP", "online", "North"],
]


@pytest.fixture
def loaded(settings, landing):
    write_csv(
        landing / "customers" / "2026-03-31_crm.csv",
        ["customer_id", "created_at", "region", "segment", "email"],
        CUSTOMERS,
    )
    write_csv(
        landing / "transactions" / "2026-03-31_pos.csv",
        ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel", "region"],
        TRANSACTIONS,
    )
    summaries = run_day(settings, LAST_DAY, entities=["customers", "transactions"])
    assert summaries["transactions"].rows_loaded == len(TRANSACTIONS)
    return settings


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[COHORT_CELL_COLUMNS].sort_values(["is_existing", "cohort", "month"]).reset_index(drop=True)


@pytest.mark.parametrize("region", [None, "North"])
def test_the_warehouse_history_is_the_history_of_every_transaction(loaded, region):
    engine = get_engine(loaded.warehouse_url)
    everything = read_warehouse_frames(engine, START, LAST_DAY, loaded, region=region, transactions_from=ALL_HISTORY)
    window = read_warehouse_frames(engine, START, LAST_DAY, loaded, region=region, transactions_from=START)
    expected = history_from_frames(everything["transactions"], everything["customers"], START)
    with engine.connect() as conn:
        got = read_purchase_history(conn, START, LAST_DAY, loaded, region, window["transactions"])
    assert got is not None
    assert got.data_start == expected.data_start == date(2026, 1, 2)
    pd.testing.assert_frame_equal(got.customers, expected.customers, check_index_type=False)
    got_cells, expected_cells = _cells(got.cohort_cells), _cells(expected.cohort_cells)
    pd.testing.assert_frame_equal(got_cells.drop(columns="revenue"), expected_cells.drop(columns="revenue"))
    np.testing.assert_allclose(got_cells["revenue"], expected_cells["revenue"], rtol=1e-12)


def test_the_existing_customers_cells_worked_by_hand(loaded):
    engine = get_engine(loaded.warehouse_url)
    window = read_warehouse_frames(engine, START, LAST_DAY, loaded, transactions_from=START)
    with engine.connect() as conn:
        history = read_purchase_history(conn, START, LAST_DAY, loaded, None, window["transactions"])
    assert history is not None
    cells = history.cohort_cells.loc[history.cohort_cells["is_existing"]]
    by_month = {
        int(m): (int(a), round(float(r), 6)) for m, a, r in cells[["month", "active_customers", "revenue"]].values
    }
    january, february = 2026 * 12 - 1970 * 12, 2026 * 12 - 1970 * 12 + 1
    # January: C1 from the 9th: 20.00 GBP and the EUR refund of the 20th (-1.00 x 0.86); C4 has no purchase yet.
    # February: C1 15.00; C3 from the 3rd: 9.00 + 2.00 x 0.79; C4 from the 14th: 8.00 - 0.50 x 0.86;
    # C5 4.00 (its JPY purchase does not count). Active in February: C1, C3, C4 and C5.
    assert by_month == {
        january: (1, round(20.00 - 0.86, 6)),
        february: (4, round(15.00 + 9.00 + 2.00 * 0.79 + 8.00 - 0.50 * 0.86 + 4.00, 6)),
    }


def test_the_cases_read_each_listing_s_horizon_worked_by_hand(loaded):
    """read_purchases_after: for each opening, the customer's rows from it to the horizon after it (30 days),
    read through an occurred_at range two days wider on each side, up to the last day, each row once, in the
    reporting currency. Worked by hand from TRANSACTIONS:
    - C1 opened 9 Jan: read 7 Jan .. 10 Feb: T02 (9 Jan), T04 (20 Jan, EUR -1.00 -> -0.86); not T01 (5 Jan),
      T03 (3 Jan), T05 (10 Feb 12:00, past the range);
    - C1 opened 1 Mar: 27 Feb .. 2 Apr (up to the last day, 31 Mar): T06 (5 Mar);
    - C4 opened 14 Feb and again 16 Feb (overlapping ranges): T14, T16 (EUR -0.50 -> -0.43), T17 once each;
      not T15 (1 Feb);
    - C5 opened 1 Jan: T18 is in range but JPY has no rate (left out, as from every money figure); T19 (5 Feb)
      is past it;
    - C3 is not listed: nothing of it."""
    engine = get_engine(loaded.warehouse_url)
    openings = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C4", "C4", "C5"],
            "opened_at": pd.to_datetime(
                [
                    "2026-01-09T00:00Z",
                    "2026-03-01T00:00Z",
                    "2026-02-14T00:00Z",
                    "2026-02-16T00:00Z",
                    "2026-01-01T00:00Z",
                ]
            ),
        }
    )
    got = read_purchases_after(engine, openings, pd.Timedelta(days=30), LAST_DAY, loaded)
    rows = [
        (c, t.strftime("%Y-%m-%d %H:%M"), round(a, 6), cur)
        for c, t, a, cur in got[["customer_id", "occurred_at", "amount", "currency"]].itertuples(index=False)
    ]
    assert rows == [  # in business-day order
        ("C1", "2026-01-09 12:00", 20.0, "GBP"),
        ("C1", "2026-01-20 12:00", -0.86, "GBP"),
        ("C4", "2026-02-14 12:00", 8.0, "GBP"),
        ("C4", "2026-02-20 12:00", -0.43, "GBP"),
        ("C1", "2026-03-05 12:00", 5.0, "GBP"),
        ("C4", "2026-03-10 12:00", 3.0, "GBP"),
    ]
    none = read_purchases_after(engine, openings.iloc[:0], pd.Timedelta(days=30), LAST_DAY, loaded)
    assert none.empty and list(none.columns) == list(got.columns)
