"""Rows at exactly the instant a week ends (Monday 00:00, business time zone) belong to the week that starts.

Worked by hand on two customers: X, whose case from 2026-W45's list is still open when W47's list continues it,
and Y, new on W47's list. W47's list is issued at Monday 2026-11-23 00:00 London = 00:00 UTC.
"""

from __future__ import annotations

import pandas as pd

from analytics.cases import build_case_ledger, compute_weekly_cases, list_issued_at
from analytics.outreach_effect import effect_sample

TZ = "Europe/London"
W47_END = pd.Timestamp("2026-11-23T00:00Z")
NO_CONTACTS = pd.DataFrame(columns=["outreach_id", "customer_id", "contacted_at", "outcome", "team"])


def _listings(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week": [w for w, _ in rows],
            "customer_id": [c for _, c in rows],
            "reason": "lapsing",
            "value_at_risk": 10.0,
            "region": "North",
            "email_masked": None,
            "is_detractor": False,
        }
    )


def _purchases(rows: list[tuple[str, pd.Timestamp]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [c for c, _ in rows],
            "occurred_at": pd.Series([t for _, t in rows], dtype="datetime64[ns, UTC]"),
            "amount": 25.0,
        }
    )


def test_a_purchase_at_the_instant_a_list_is_issued_closes_a_continued_case_and_a_new_one_alike():
    assert list_issued_at("2026-W47", TZ) == W47_END
    listings = _listings([("2026-W45", "X"), ("2026-W47", "X"), ("2026-W47", "Y")])
    purchases = _purchases([("X", W47_END), ("Y", W47_END)])
    ledger = build_case_ledger(listings, NO_CONTACTS, purchases, business_tz=TZ, control_share=0.0)
    cases = ledger.set_index("case_id")
    # X's case from W45 was open when W47's list came out, so the list continued it; both cases then close at
    # the instant, by the purchase that came with (after) the list.
    assert list(cases.index) == ["X:2026-W45", "Y:2026-W47"]
    assert cases.loc["X:2026-W45", "times_listed"] == 2
    assert (cases["closed_by"] == "came_back").all() and (cases["closed_at"] == W47_END).all()
    weekly = compute_weekly_cases(ledger, NO_CONTACTS, weeks=["2026-W47", "2026-W48"], business_tz=TZ)
    status = weekly.set_index(["week", "customer_id"])["status"]
    # W47 ends before the purchases: both still open there (W47 computed alone never reads them); W48 sees them.
    assert status.to_dict() == {
        ("2026-W47", "X"): "open",
        ("2026-W47", "Y"): "open",
        ("2026-W48", "X"): "came_back",
        ("2026-W48", "Y"): "came_back",
    }


def test_the_outreach_effect_sees_purchases_before_its_as_of_only():
    """Y's case opens at W47's end. A purchase at that very instant is a repurchase after 0 days; one at exactly
    as_of is the next week's row: not seen. A 7-day window ending exactly at as_of is not complete yet."""
    listings = _listings([("2026-W47", "Y"), ("2026-W47", "Z")])
    as_of = W47_END + pd.Timedelta(days=7)  # W48's end
    purchases = _purchases([("Y", W47_END), ("Z", as_of)])
    ledger = build_case_ledger(listings, NO_CONTACTS, purchases, business_tz=TZ, control_share=0.0)
    sample = effect_sample(ledger, purchases, as_of=as_of, window_days=7).set_index("customer_id")
    assert sample.loc["Y", ["event", "duration_days"]].tolist() == [True, 0.0]
    assert sample.loc["Z", ["event", "duration_days"]].tolist() == [False, 7.0]
    assert not sample["is_window_complete"].any()
    later = effect_sample(ledger, purchases, as_of=as_of + pd.Timedelta(seconds=1), window_days=7)
    later = later.set_index("customer_id")
    assert later["is_window_complete"].all()
    assert later.loc["Z", ["event", "repurchased", "duration_days"]].tolist() == [True, True, 7.0]
