"""Each respondent's first purchase strictly after their response, on a business day up to a week's Sunday
(analytics/repurchase.py:_next_purchase_at, the repurchase curves' and cohorts' question): what a plain loop
over each customer's purchases gives, with ties of times, customers without purchases, refunds, and rows whose
days do not rise with their times (days that came from different time zones)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics.repurchase import _next_purchase_at

START = pd.Timestamp("2026-01-01", tz="UTC")


def _frames(seed: int, *, shuffled_days: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = 400
    # Times on a coarse grid of minutes, so that equal times happen; days from the times (one zone).
    occurred = START + pd.to_timedelta(rng.integers(0, 60 * 24 * 40, n) * 60 // 7 * 7, unit="s")
    days = occurred.tz_convert("UTC").normalize().tz_localize(None)
    if shuffled_days:  # some rows' days a day off their time: a day falls as the time rises somewhere
        days = days + pd.to_timedelta(rng.integers(-1, 2, n), unit="D")
    transactions = pd.DataFrame(
        {
            "customer_id": [f"C{c}" for c in rng.integers(0, 30, n)],
            "occurred_at": occurred,
            "business_day": days.date,
            "amount": np.where(rng.random(n) < 0.15, -5.0, rng.uniform(1, 50, n).round(2)),
        }
    )
    m = 300
    respondents = pd.DataFrame(
        {
            "customer_id": [f"C{c}" for c in rng.integers(0, 40, m)],  # C30..C39 never bought
            # As analytics.repurchase._respondents gives them: UTC nanoseconds.
            "submitted_at": (START + pd.to_timedelta(rng.integers(0, 60 * 24 * 40, m) * 60 // 7 * 7, unit="s")).as_unit(
                "ns"
            ),
        },
        index=pd.RangeIndex(1000, 1000 + m),
    )
    return transactions, respondents


def _by_loop(transactions: pd.DataFrame, respondents: pd.DataFrame, through: dt.date) -> pd.Series:
    purchases = transactions.loc[transactions["amount"] > 0]
    out = []
    for customer, submitted in zip(respondents["customer_id"], respondents["submitted_at"], strict=True):
        mine = purchases.loc[
            (purchases["customer_id"] == customer)
            & (purchases["occurred_at"] > submitted)
            & (pd.to_datetime(purchases["business_day"]).dt.date <= through)
        ]
        out.append(mine["occurred_at"].min() if len(mine) else pd.NaT)
    return pd.Series(pd.to_datetime(out, utc=True), index=respondents.index).dt.as_unit("ns")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shuffled_days", [False, True])
def test_the_next_purchase_is_the_loops(seed, shuffled_days):
    transactions, respondents = _frames(seed, shuffled_days=shuffled_days)
    for through in (dt.date(2026, 1, 10), dt.date(2026, 1, 25), dt.date(2026, 2, 20)):
        got = _next_purchase_at(respondents, transactions, through=through)
        expected = _by_loop(transactions, respondents, through)
        pd.testing.assert_series_equal(got, expected, check_names=False, check_freq=False)
        assert got.notna().sum() > 0 and got.isna().sum() > 0  # both kinds of answer occur


def test_a_response_at_the_very_time_of_a_purchase_waits_for_the_next_one():
    at = pd.Timestamp("2026-03-02 10:00", tz="UTC")
    transactions = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C1"],
            "occurred_at": [at, at, at + pd.Timedelta(hours=30)],
            "business_day": [dt.date(2026, 3, 2), dt.date(2026, 3, 2), dt.date(2026, 3, 3)],
            "amount": [10.0, 20.0, 5.0],
        }
    )
    submitted = pd.DatetimeIndex([at - pd.Timedelta(seconds=1), at]).as_unit("ns")
    respondents = pd.DataFrame({"customer_id": ["C1", "C1"], "submitted_at": submitted})
    got = _next_purchase_at(respondents, transactions, through=dt.date(2026, 3, 3))
    assert got.tolist() == [at, at + pd.Timedelta(hours=30)]
    got = _next_purchase_at(respondents, transactions, through=dt.date(2026, 3, 2))
    assert got.iloc[0] == at and pd.isna(got.iloc[1])
