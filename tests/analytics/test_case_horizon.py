"""The cases look at a bounded stretch of purchases after each listing (MetricParameters.case_horizon_days).

tasks/metrics.py reads, for each listing, only the customer's transactions from the listing's opening to the
horizon after it, not their whole history. That is exact when the case ledger and the outreach effect sample
depend on nothing else: checked here over random listings, contacts and purchases, against the same figures
from every transaction. Two worked examples show the horizon cannot be shorter: one purchase that closes a
case in the last second before it expires, one that ends the outreach effect's follow-up on its 90th day.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.cases import build_case_ledger, list_issued_at
from analytics.outreach_effect import effect_sample
from analytics.parameters import MetricParameters

TZ = "Europe/London"
WEEKS = [f"2026-W{n}" for n in range(20, 48)]
DAY_ZERO = pd.Timestamp("2026-05-01T00:00Z")


def _listings(rows: list[tuple[str, str]]) -> pd.DataFrame:
    rows = sorted(set(rows))
    return pd.DataFrame(
        {
            "week": [w for w, _ in rows],
            "customer_id": [c for _, c in rows],
            "reason": [f"reason {c}" for _, c in rows],
            "value_at_risk": [10.0] * len(rows),
            "region": ["North"] * len(rows),
            "email_masked": [None] * len(rows),
            "is_detractor": [c in {"A", "C"} for _, c in rows],
        }
    )


def _at(hours: list[int]) -> pd.Series:
    return pd.Series([DAY_ZERO + pd.Timedelta(hours=h) for h in hours], dtype="datetime64[ns, UTC]")


def _within_horizon(transactions: pd.DataFrame, listings: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Only the rows tasks/metrics.py reads: after one of the customer's listing openings, within the horizon."""
    opened = listings.assign(opened_at=listings["week"].map(lambda w: list_issued_at(w, TZ)))
    keep = pd.Series(False, index=transactions.index)
    horizon = pd.Timedelta(days=horizon_days)
    for customer_id, at in zip(opened["customer_id"], opened["opened_at"], strict=True):
        mine = transactions["customer_id"] == customer_id
        keep |= mine & (transactions["occurred_at"] >= at) & (transactions["occurred_at"] <= at + horizon)
    return transactions.loc[keep].reset_index(drop=True)


def _figures(listings, outreach, transactions, params: MetricParameters) -> list[pd.DataFrame]:
    ledger = build_case_ledger(
        listings,
        outreach,
        transactions,
        business_tz=TZ,
        expiry_weeks=params.retain_case_expiry_weeks,
        control_share=0.3,
    )
    samples = [
        effect_sample(ledger, transactions, as_of=list_issued_at(week, TZ), window_days=params.repurchase_window_days)
        for week in WEEKS[::5]
    ]
    return [ledger, *samples]


customers = st.sampled_from(["A", "B", "C", "D", "E"])
hours = st.integers(0, 24 * 260)  # 2026-05-01 .. mid-January 2027


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    listed=st.lists(st.tuples(st.sampled_from(WEEKS), customers), min_size=1, max_size=25),
    bought=st.lists(st.tuples(customers, hours, st.sampled_from([25.0, 5.0, -10.0])), max_size=40),
    contacted=st.lists(st.tuples(customers, hours, st.sampled_from(["resolved", "no_answer"])), max_size=10),
    expiry_weeks=st.integers(1, 14),
    window_days=st.integers(7, 120),
)
def test_purchases_within_the_horizon_give_every_case_figure(listed, bought, contacted, expiry_weeks, window_days):
    params = MetricParameters(retain_case_expiry_weeks=expiry_weeks, repurchase_window_days=window_days)
    listings = _listings(listed)
    transactions = pd.DataFrame(
        {
            "customer_id": [c for c, _, _ in bought],
            "occurred_at": _at([h for _, h, _ in bought]),
            "amount": [a for _, _, a in bought],
        }
    )
    outreach = pd.DataFrame(
        {
            "outreach_id": [f"O{i}" for i in range(len(contacted))],
            "customer_id": [c for c, _, _ in contacted],
            "contacted_at": _at([h for _, h, _ in contacted]),
            "outcome": [o for _, _, o in contacted],
            "team": ["care"] * len(contacted),
        }
    )
    everything = _figures(listings, outreach, transactions, params)
    bounded = _figures(listings, outreach, _within_horizon(transactions, listings, params.case_horizon_days), params)
    for ours, reference in zip(bounded, everything, strict=True):
        pd.testing.assert_frame_equal(ours, reference)


def _one_listing(purchase_after: pd.Timedelta) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Customer B on W30's list (opened Monday 2026-07-27 00:00 London = Sunday 23:00 UTC), one purchase later."""
    listings = _listings([("2026-W30", "B")])
    opened = list_issued_at("2026-W30", TZ)
    assert opened == pd.Timestamp("2026-07-26T23:00Z")
    transactions = pd.DataFrame({"customer_id": ["B"], "occurred_at": [opened + purchase_after], "amount": [25.0]})
    outreach = pd.DataFrame(columns=["outreach_id", "customer_id", "contacted_at", "outcome", "team"])
    return listings, outreach, transactions


def test_a_purchase_in_the_last_second_before_a_case_expires_closes_it():
    """Expiry 8 weeks, 56 days: a purchase one second before still closes the case; the horizon must reach it,
    and here it is the expiry that sets it (window 30 days). One at the expiry instant itself comes after the
    expiry (analytics/cases.py: a row at a week's end belongs to the next week)."""
    params = MetricParameters(retain_case_expiry_weeks=8, repurchase_window_days=30)
    assert params.case_horizon_days == 57  # 56 days and one for a clock change (next test)
    listings, outreach, transactions = _one_listing(pd.Timedelta(days=56))
    assert _figures(listings, outreach, transactions, params)[0].loc[0, "closed_by"] == "expired"
    listings, outreach, transactions = _one_listing(pd.Timedelta(days=56) - pd.Timedelta(seconds=1))
    ledger = _figures(listings, outreach, transactions, params)[0]
    assert ledger.loc[0, "closed_by"] == "came_back"
    assert _figures(listings, outreach, _within_horizon(transactions, listings, 56), params)[0].equals(ledger)
    short = _figures(listings, outreach, _within_horizon(transactions, listings, 55), params)[0]
    assert short.loc[0, "closed_by"] == "expired"  # a day shorter would get it wrong


def test_a_purchase_on_the_last_day_of_the_follow_up_counts_for_the_outreach_effect():
    """Window 90 days, expiry 8 weeks: the case expires after 56 days, but the customer's first case is
    followed for 90, and a purchase on day 90 is a repurchase. The window sets the horizon here."""
    params = MetricParameters(retain_case_expiry_weeks=8, repurchase_window_days=90)
    assert params.case_horizon_days == 90
    listings, outreach, transactions = _one_listing(pd.Timedelta(days=90))
    as_of = list_issued_at("2026-W30", TZ) + pd.Timedelta(days=100)
    ledger = _figures(listings, outreach, transactions, params)[0]
    assert ledger.loc[0, "closed_by"] == "expired"

    def sample(rows: pd.DataFrame) -> pd.DataFrame:
        return effect_sample(ledger, rows, as_of=as_of, window_days=90)

    assert sample(transactions).loc[0, "repurchased"]
    assert sample(transactions).loc[0, "duration_days"] == 90.0
    assert sample(_within_horizon(transactions, listings, 90)).equals(sample(transactions))
    assert not sample(_within_horizon(transactions, listings, 56)).loc[0, "repurchased"]


def test_across_the_clock_change_a_case_expires_when_the_list_eight_weeks_later_is_issued():
    """W41's list opens Monday 2026-10-12 00:00 BST (2026-10-11 23:00 UTC); eight weeks later W49's list is issued
    at Monday 2026-12-07 00:00 GMT: 56 days and 1 hour later, because the clocks went back on 2026-10-25. A
    purchase 56 days and 30 minutes after the opening still closes the case, and 56 days of horizon would miss it."""
    params = MetricParameters(retain_case_expiry_weeks=8, repurchase_window_days=30)
    listings = _listings([("2026-W41", "B")])
    opened = list_issued_at("2026-W41", TZ)
    assert opened == pd.Timestamp("2026-10-11T23:00Z")
    assert list_issued_at("2026-W49", TZ) - opened == pd.Timedelta(days=56, hours=1)
    outreach = pd.DataFrame(columns=["outreach_id", "customer_id", "contacted_at", "outcome", "team"])
    bought = opened + pd.Timedelta(days=56, minutes=30)
    transactions = pd.DataFrame({"customer_id": ["B"], "occurred_at": [bought], "amount": [25.0]})
    ledger = _figures(listings, outreach, transactions, params)[0]
    assert ledger.loc[0, ["closed_by", "closed_at"]].tolist() == ["came_back", bought]
    later = pd.DataFrame({"customer_id": ["B"], "occurred_at": [bought + pd.Timedelta(hours=1)], "amount": [25.0]})
    expired = _figures(listings, outreach, later, params)[0]
    assert expired.loc[0, ["closed_by", "closed_at"]].tolist() == ["expired", list_issued_at("2026-W49", TZ)]
    within = _within_horizon(transactions, listings, params.case_horizon_days)
    assert _figures(listings, outreach, within, params)[0].equals(ledger)
    assert (
        _figures(listings, outreach, _within_horizon(transactions, listings, 56), params)[0].loc[0, "closed_by"]
        == "expired"
    )
