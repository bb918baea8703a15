"""A window of transactions plus their history (analytics/history.py) gives the figures of all history.

Hypothesis draws small ledgers over a year (purchases, refunds, anonymous rows, customers created before
the data or not), cuts them at the first of a month, and compares weekly retention, the cohort matrix and the
RETAIN list computed both ways. The warehouse's side of the same contract (SQL aggregates instead of
history_from_frames) is tests/tasks/test_metric_window.py.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from analytics.history import history_from_frames
from analytics.retain_list import build_retain_list
from analytics.retention import compute_cohort_retention, compute_weekly_retention

FIRST = dt.date(2025, 1, 1)
CUSTOMERS = [f"c{i}" for i in range(8)]

rows = st.lists(
    st.tuples(
        st.sampled_from([*CUSTOMERS, None]),
        st.integers(0, 364),
        st.sampled_from([12.5, 40.0, 7.25, -5.0, 99.99]),
    ),
    min_size=1,
    max_size=120,
)


def _transactions(drawn: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [(c, FIRST + dt.timedelta(days=d), a) for c, d, a in drawn], columns=["customer_id", "business_day", "amount"]
    )
    frame = frame.sort_values("business_day", kind="stable").reset_index(drop=True)
    frame["occurred_at"] = pd.to_datetime(frame["business_day"]).dt.tz_localize("UTC") + pd.Timedelta(hours=10)
    frame["currency"] = "GBP"
    return frame


def _customers(created_before: list[bool]) -> pd.DataFrame:
    created = [FIRST - dt.timedelta(days=30) if before else FIRST + dt.timedelta(days=200) for before in created_before]
    return pd.DataFrame(
        {
            "customer_id": CUSTOMERS,
            "created_at": pd.to_datetime(created).tz_localize("UTC"),
            "email": [f"{c}@example.com" for c in CUSTOMERS],
            "region": "north",
            "segment": "retail",
        }
    )


def _cut(transactions: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    return transactions.loc[transactions["business_day"] >= start].reset_index(drop=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=rows, created_before=st.lists(st.booleans(), min_size=8, max_size=8), month=st.integers(3, 9))
# No transaction in the window up to as_of, one long before: the weeks still have rows (zeros), as over all history.
@example(drawn=[("c0", 0, 12.5), ("c0", 362, 12.5)], created_before=[False] * 8, month=3)
# Three rows in one cell of the window: pandas' groupby sum added them differently alone and among other cells.
@example(
    drawn=[("c0", 0, 12.5), ("c0", 59, 99.99), ("c0", 59, 40.0), ("c0", 59, 99.99), ("c1", 31, 12.5)],
    created_before=[False] * 8,
    month=3,
)
def test_a_window_and_its_history_give_the_retention_and_cohorts_of_all_history(drawn, created_before, month):
    transactions, customers = _transactions(drawn), _customers(created_before)
    start = dt.date(2025, month, 1)
    history = history_from_frames(transactions, customers, start)
    window = _cut(transactions, start)
    as_of = dt.date(2025, 12, 28)  # a Sunday
    if window["customer_id"].notna().any():
        full = compute_weekly_retention(transactions, as_of=as_of, churn_days=14, nrr_weeks=2)
        cut = compute_weekly_retention(window, as_of=as_of, churn_days=14, nrr_weeks=2, history=history)
        # Weeks far enough after the cut: two NRR periods and a churn spell.
        settled = (start + dt.timedelta(weeks=4, days=21)).isoformat()
        keep = [w for w in full["week"] if w >= pd.Timestamp(settled).strftime("%G-W%V")]
        left = full.loc[full["week"].isin(keep)].reset_index(drop=True)
        right = cut.loc[cut["week"].isin(keep)].reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_exact=True)
    for sunday in (as_of, dt.date(2025, 10, 5)):
        full = compute_cohort_retention(transactions, as_of=sunday, customers=customers)
        cut = compute_cohort_retention(window, as_of=sunday, customers=customers, history=history)
        pd.testing.assert_frame_equal(full, cut, check_exact=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=rows, detractors=st.lists(st.sampled_from(CUSTOMERS), max_size=4), month=st.integers(3, 9))
def test_a_window_and_its_history_give_the_retain_list_of_all_history(drawn, detractors, month):
    transactions, customers = _transactions(drawn), _customers([True] * 8)
    week, sunday = "2025-W52", dt.date(2025, 12, 28)
    responses = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(len(detractors))],
            "customer_id": detractors,
            "submitted_at": pd.Timestamp("2025-12-24 09:00", tz="UTC"),
            "business_day": dt.date(2025, 12, 24),
            "channel": "email",
            "nps": 3,
        }
    )
    start = dt.date(2025, month, 1)
    history = history_from_frames(transactions, customers, start)
    options = {"week": week, "as_of": sunday, "value_window_days": 60, "min_monetary_score": 1}
    full = build_retain_list(responses, transactions, customers, **options)
    cut = build_retain_list(responses, _cut(transactions, start), customers, history=history, **options)
    pd.testing.assert_frame_equal(full, cut, check_exact=True)


def test_an_existing_customers_refund_before_their_first_purchase_is_left_out_of_the_cohorts():
    # c0 was a customer before the data starts: a refund on 5 January of an older purchase, then a first
    # purchase in the data on 10 February. The existing customers' row counts from that purchase on.
    transactions = _transactions([("c0", 4, -5.0), ("c0", 40, 40.0), ("c1", 0, 12.5)])
    customers = _customers([True] + [False] * 7)
    cohorts = compute_cohort_retention(transactions, as_of=dt.date(2025, 2, 28), customers=customers)
    existing = cohorts.loc[cohorts["is_existing_customers"]].set_index("months_since")
    assert existing.loc[0, "revenue"] == 0.0 and existing.loc[1, "revenue"] == pytest.approx(40.0)
    assert existing["cohort_size"].tolist() == [1, 1]
