"""Cases from the weekly RETAIN lists: opening, continuing, closing, SLA, follow-up figures (tiny frames).

The worked example (Europe/London, GMT in November, so local = UTC), expiry 2 weeks, SLA 2 business days:
lists are issued on the Monday 00:00 after their week: W45 -> Mon 9 Nov, W46 -> 16 Nov, W47 -> 23 Nov.
- A on W45's list: opened 9 Nov, due Wed 11 Nov 00:00. Called 10 Nov 09:00 (no answer, 33 h: on time), resolved
  12 Nov 10:00 -> resolved in W46. On W47's list again: a new case (the first one closed), never contacted.
- B on W45's and W46's lists, nothing happens: W46's listing (16 Nov) continues the case opened 9 Nov
  (times_listed 2); it expires 9 Nov + 2 weeks = 23 Nov 00:00, the moment W47's list is issued, so B on W47's
  list opens a second case then.
- C on W46's list buys on 17 Nov 15:00 before anyone calls: came back, and no SLA verdict (nothing to do).
- D on W46's list: a resolved call on 15 Nov (before the case opened) does not count; first contact 19 Nov 08:00,
  80 h after opening, after the 18 Nov deadline: late. Expires 30 Nov 00:00.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.cases import (
    assign_control,
    build_case_ledger,
    compute_weekly_cases,
    compute_weekly_followup,
    control_unit,
    sla_deadline,
    team_list,
)

TZ = "Europe/London"


def _listings() -> pd.DataFrame:
    rows = [
        ("2026-W45", "A", True),
        ("2026-W45", "B", False),
        ("2026-W46", "B", False),
        ("2026-W46", "C", True),
        ("2026-W46", "D", False),
        ("2026-W47", "A", True),
        ("2026-W47", "B", False),
    ]
    return pd.DataFrame(
        {
            "week": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "reason": [f"reason {r[1]} {r[0]}" for r in rows],
            "value_at_risk": [100.0] * len(rows),
            "region": ["North", "South", "South", "North", None, "North", "South"],
            "email_masked": ["a***@x.com"] * len(rows),
            "is_detractor": [r[2] for r in rows],
        }
    )


def _outreach() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "outreach_id": ["O1", "O2", "O3", "O4"],
            "customer_id": ["A", "A", "D", "D"],
            "contacted_at": pd.to_datetime(
                ["2026-11-10T09:00Z", "2026-11-12T10:00Z", "2026-11-15T10:00Z", "2026-11-19T08:00Z"], utc=True
            ),
            "outcome": ["no_answer", "resolved", "resolved", "reached"],
            "team": ["North care", "North care", "Store 14", "Store 14"],
        }
    )


def _transactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C", "C", "B"],
            "occurred_at": pd.to_datetime(["2026-11-17T15:00Z", "2026-11-01T10:00Z", "2026-11-20T10:00Z"], utc=True),
            "amount": [20.0, 5.0, -30.0],  # B's row is a refund: not a purchase
        }
    )


def _ledger(**kwargs) -> pd.DataFrame:
    params = {"business_tz": TZ, "expiry_weeks": 2, "sla_business_days": 2, "control_share": 0.0} | kwargs
    return build_case_ledger(_listings(), _outreach(), _transactions(), **params)


def test_case_ledger_opens_continues_and_closes_cases():
    ledger = _ledger().set_index("case_id")
    assert list(ledger.index) == ["A:2026-W45", "B:2026-W45", "C:2026-W46", "D:2026-W46", "A:2026-W47", "B:2026-W47"]
    assert ledger["closed_by"].to_dict() == {
        "A:2026-W45": "resolved",
        "B:2026-W45": "expired",
        "C:2026-W46": "came_back",
        "D:2026-W46": "expired",
        "A:2026-W47": "expired",
        "B:2026-W47": "expired",
    }
    utc = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731
    assert ledger.loc["A:2026-W45", "closed_at"] == utc("2026-11-12 10:00")
    assert ledger.loc["B:2026-W45", "closed_at"] == utc("2026-11-23 00:00")
    assert ledger.loc["C:2026-W46", "closed_at"] == utc("2026-11-17 15:00")
    assert ledger.loc["B:2026-W45", "times_listed"] == 2 and ledger.loc["B:2026-W45", "last_listed_week"] == "2026-W46"
    assert ledger.loc["D:2026-W46", "first_contact_at"] == utc("2026-11-19 08:00")
    assert ledger.loc["D:2026-W46", "team"] == "Store 14"
    assert ledger.loc["A:2026-W45", "sla_due_at"] == utc("2026-11-11 00:00")
    assert not ledger["is_control"].any()


def test_a_weeks_rows_do_not_see_a_later_listing_that_continued_the_case():
    # B's case opened from W45's list is continued by W46's listing. W45's row, computed from a ledger that
    # already holds W46's list (a batch of W45 and W47, say), still shows the case as listed once, last in W45.
    weekly = compute_weekly_cases(_ledger(), _outreach(), weeks=["2026-W45", "2026-W46"], business_tz=TZ)
    b = weekly.loc[weekly["case_id"] == "B:2026-W45"].set_index("week")
    assert b.loc["2026-W45", ["times_listed", "last_listed_week"]].tolist() == [1, "2026-W45"]
    assert b.loc["2026-W46", ["times_listed", "last_listed_week"]].tolist() == [2, "2026-W46"]


def _sla(row) -> bool | None:
    value = row.is_contacted_within_sla
    return None if pd.isna(value) else bool(value)


def test_weekly_case_rows_show_the_status_at_each_weeks_end():
    ledger = _ledger()
    weekly = compute_weekly_cases(
        ledger, _outreach(), weeks=["2026-W45", "2026-W46", "2026-W47", "2026-W48"], business_tz=TZ
    )
    got = {(r.week, r.case_id): r for r in weekly.itertuples()}
    assert sorted(k for k in got if k[0] == "2026-W45") == [("2026-W45", "A:2026-W45"), ("2026-W45", "B:2026-W45")]
    status = {k: r.status for k, r in got.items()}
    assert status == {
        ("2026-W45", "A:2026-W45"): "open",
        ("2026-W45", "B:2026-W45"): "open",
        ("2026-W46", "A:2026-W45"): "resolved",
        ("2026-W46", "B:2026-W45"): "open",
        ("2026-W46", "C:2026-W46"): "open",
        ("2026-W46", "D:2026-W46"): "open",
        ("2026-W47", "B:2026-W45"): "expired",
        ("2026-W47", "C:2026-W46"): "came_back",
        ("2026-W47", "D:2026-W46"): "contacted",
        ("2026-W47", "A:2026-W47"): "open",
        ("2026-W47", "B:2026-W47"): "open",
        ("2026-W48", "D:2026-W46"): "expired",
        ("2026-W48", "A:2026-W47"): "open",
        ("2026-W48", "B:2026-W47"): "open",
    }
    a = got[("2026-W46", "A:2026-W45")]
    assert a.hours_to_first_contact == 33.0 and _sla(a) is True and a.contact_attempts == 2
    assert a.age_days == 3 and a.team == "North care" and a.closed_day == dt.date(2026, 11, 12)
    d = got[("2026-W47", "D:2026-W46")]
    assert d.hours_to_first_contact == 80.0 and _sla(d) is False and d.contact_attempts == 1
    assert d.is_from_earlier_week and not d.is_new and d.age_days == 7
    assert _sla(got[("2026-W46", "B:2026-W45")]) is False  # deadline passed, never called
    assert pd.isna(got[("2026-W47", "C:2026-W46")].is_contacted_within_sla)  # came back before its deadline
    assert pd.isna(got[("2026-W46", "C:2026-W46")].is_contacted_within_sla)  # not due yet
    assert got[("2026-W47", "A:2026-W47")].is_new and got[("2026-W47", "A:2026-W47")].age_days == 0
    assert got[("2026-W46", "D:2026-W46")].team is None  # owner team only once someone called
    assert got[("2026-W45", "A:2026-W45")].opened_day == dt.date(2026, 11, 9)
    assert got[("2026-W45", "A:2026-W45")].sla_due_day == dt.date(2026, 11, 10)  # contact by end of Tuesday


def test_follow_up_figures_per_week_region_and_team():
    ledger = _ledger()
    weeks = ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    followup = compute_weekly_followup(
        compute_weekly_cases(ledger, _outreach(), weeks=weeks, business_tz=TZ), ledger, business_tz=TZ
    )
    overall = followup.loc[followup["dimension"] == "overall"].set_index("week")
    # W46: opened C, D; backlog B (7 d), C (0), D (0); SLA due 11 Nov: A on time, B late; A first called (33 h);
    # A resolved. W47: opened A, B again; backlog D (7), A (0), B (0); due 18 Nov: D late (C needed no call);
    # D first called (80 h); B expired, C came back. W48: backlog A, B (7 d each), both late; D expired.
    expected = {
        "cases_opened": [2, 2, 2, 0],
        "cases_open": [2, 3, 3, 2],
        "backlog_median_age_days": [0.0, 0.0, 0.0, 7.0],
        "backlog_oldest_age_days": [0.0, 7.0, 7.0, 7.0],
        "sla_cases": [0, 2, 1, 2],
        "contacted_within_sla": [0, 1, 0, 0],
        "first_contacts": [0, 1, 1, 0],
        "cases_closed": [0, 1, 2, 1],
        "cases_resolved": [0, 1, 0, 0],
        "cases_came_back": [0, 0, 1, 0],
        "cases_expired": [0, 0, 1, 1],
    }
    for column, values in expected.items():
        assert overall[column].tolist() == values, column
    assert overall["contacted_within_sla_share"].tolist()[1:] == [0.5, 0.0, 0.0]
    assert np.isnan(overall.loc["2026-W45", "contacted_within_sla_share"])
    assert overall.loc["2026-W46", "median_hours_to_first_contact"] == 33.0
    assert overall.loc["2026-W47", "median_hours_to_first_contact"] == 80.0
    assert overall.loc["2026-W47", "resolved_share"] == 0.0 and overall.loc["2026-W47", "came_back_share"] == 0.5
    region = followup.loc[(followup["dimension"] == "region") & (followup["week"] == "2026-W47")]
    by_region = region.set_index("segment_value")
    assert by_region.loc["unknown", "cases_open"] == 1  # D has no region
    assert by_region.loc["South", "cases_expired"] == 1 and by_region.loc["North", "cases_came_back"] == 1
    team = followup.loc[(followup["dimension"] == "team") & (followup["week"] == "2026-W47")].set_index("segment_value")
    assert team.loc["Store 14", "first_contacts"] == 1 and team.loc["unassigned", "cases_open"] == 2


def test_recomputing_a_week_alone_or_in_a_batch_gives_identical_rows():
    ledger = _ledger()
    batch = compute_weekly_cases(ledger, _outreach(), weeks=["2026-W45", "2026-W46", "2026-W47"], business_tz=TZ)
    alone = compute_weekly_cases(ledger, _outreach(), weeks=["2026-W46"], business_tz=TZ)
    pd.testing.assert_frame_equal(batch.loc[batch["week"] == "2026-W46"].reset_index(drop=True), alone)
    # Later data (a purchase and a call in W49) change nothing in W46's rows.
    later_tx = pd.concat(
        [
            _transactions(),
            pd.DataFrame(
                {"customer_id": ["B"], "occurred_at": [pd.Timestamp("2026-12-01", tz="UTC")], "amount": [9.0]}
            ),
        ]
    )
    later = build_case_ledger(_listings(), _outreach(), later_tx, business_tz=TZ, expiry_weeks=2, control_share=0.0)
    pd.testing.assert_frame_equal(compute_weekly_cases(later, _outreach(), weeks=["2026-W46"], business_tz=TZ), alone)


def test_sla_deadline_counts_business_days_in_the_business_time_zone():
    tz = "Europe/London"
    monday = pd.Timestamp("2026-11-23 00:00", tz="UTC")
    assert sla_deadline(monday, 2, tz) == pd.Timestamp("2026-11-25 00:00", tz="UTC")  # end of Tuesday
    friday = pd.Timestamp("2026-11-27 09:00", tz="UTC")
    assert sla_deadline(friday, 2, tz) == pd.Timestamp("2026-12-01 00:00", tz="UTC")  # Friday + Monday
    # Summer time: Monday 00:00 in London is Sunday 23:00 UTC; the deadline is Wednesday 00:00 London.
    summer = pd.Timestamp("2026-06-28 23:00", tz="UTC")
    assert sla_deadline(summer, 2, tz) == pd.Timestamp("2026-06-30 23:00", tz="UTC")


def test_control_unit_is_sha256_of_customer_and_week():
    digest = hashlib.sha256(b"C00042|2026-W47").digest()
    assert control_unit("C00042", "2026-W47") == int.from_bytes(digest[:8], "big") / 2**64


@settings(max_examples=40, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=30, unique=True),
    week=st.sampled_from(["2026-W01", "2026-W30", "2027-W52"]),
    share=st.floats(min_value=0.0, max_value=0.9),
)
def test_control_assignment_is_deterministic(ids, week, share):
    first = assign_control(pd.Series(ids), pd.Series([week] * len(ids)), share)
    again = assign_control(pd.Series(list(reversed(ids))), pd.Series([week] * len(ids)), share)
    assert first.tolist() == list(reversed(again.tolist()))  # a customer's arm does not depend on the others
    assert (first == np.array([control_unit(i, week) < share for i in ids])).all()


@settings(max_examples=15, deadline=None)
@given(share=st.floats(min_value=0.02, max_value=0.5), seed=st.integers(0, 10_000))
def test_control_share_is_close_to_the_setting(share, seed):
    n = 4000
    ids = pd.Series([f"C{seed}-{i}" for i in range(n)])
    held_out = assign_control(ids, pd.Series(["2026-W47"] * n), share).mean()
    # Binomial sd at n = 4000 is at most 0.0079; 5 sd is a bound a correct assignment breaks ~1e-6 of the time.
    assert abs(held_out - share) <= 5 * np.sqrt(share * (1 - share) / n)


@settings(max_examples=25, deadline=None)
@given(
    customers=st.lists(st.sampled_from([f"C{i}" for i in range(40)]), min_size=1, max_size=60),
    weeks=st.lists(st.sampled_from(["2026-W44", "2026-W45", "2026-W46", "2026-W47"]), min_size=1, max_size=60),
    share=st.floats(min_value=0.0, max_value=0.9),
)
def test_no_control_case_is_ever_on_a_team_list(customers, weeks, share):
    n = min(len(customers), len(weeks))
    listings = pd.DataFrame(
        {
            "week": weeks[:n],
            "customer_id": customers[:n],
            "reason": "r",
            "value_at_risk": 1.0,
            "region": "North",
            "is_detractor": True,
        }
    )
    empty_outreach = pd.DataFrame({"customer_id": [], "contacted_at": [], "outcome": [], "team": []})
    empty_tx = pd.DataFrame({"customer_id": [], "occurred_at": [], "amount": []})
    ledger = build_case_ledger(listings, empty_outreach, empty_tx, business_tz=TZ, control_share=share)
    weekly = compute_weekly_cases(ledger, empty_outreach, weeks=sorted(set(weeks[:n])), business_tz=TZ)
    listed = team_list(weekly)
    control_cases = set(ledger.loc[ledger["is_control"], "case_id"])
    assert not control_cases & set(listed["case_id"])
    # The arm is the hash's verdict on the case's opening week.
    expected = [control_unit(c, w) < share for c, w in zip(ledger["customer_id"], ledger["list_week"], strict=True)]
    assert ledger["is_control"].tolist() == expected


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="control share"):
        assign_control(pd.Series(["a"]), pd.Series(["2026-W01"]), 1.0)
    with pytest.raises(ValueError, match="expiry_weeks"):
        _ledger(expiry_weeks=0)
