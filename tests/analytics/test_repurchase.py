"""Do detractors buy again, and how soon? Kaplan-Meier time to next purchase and 90-day cohorts, by hand."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics.repurchase import (
    REPURCHASE_COHORT_COLUMNS,
    REPURCHASE_COLUMNS,
    REPURCHASE_SURVIVAL_COLUMNS,
    compute_repurchase_cohorts,
    compute_time_to_repurchase,
    nps_group,
)

WEEK = "2026-W27"  # Monday 2026-06-29 .. Sunday 2026-07-05; follow-up ends 2026-07-06 00:00 UTC


def responses_frame(rows: list[tuple[str, str | None, float, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["response_id", "customer_id", "nps", "submitted_at"])
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True, format="ISO8601")
    frame["business_day"] = frame["submitted_at"].dt.date
    return frame


def purchases_frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "occurred_at", "amount"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True, format="ISO8601")
    frame["business_day"] = frame["occurred_at"].dt.date
    frame["currency"] = "EUR"
    return frame


RESPONSES = responses_frame(
    [
        ("r01", "D1", 3, "2026-07-01 00:00"),  # bought 2 days later: event at 2.0
        ("r02", "D2", 0, "2026-06-01 00:00"),  # never bought: censored at the end of follow-up, 35.0 days
        ("r03", "D3", 6, "2026-06-01 00:00"),  # bought 20 days later: event at 20.0
        ("r04", "P1", 10, "2026-06-01 00:00"),  # 1 day: event at 1.0
        ("r05", "P2", 9, "2026-06-01 00:00"),  # 5 days: event at 5.0
        ("r06", "P3", 9, "2026-07-04 12:00"),  # no purchase yet: censored at 1.5 days
        ("r07", "X1", 8, "2026-06-15 00:00"),  # buys only after the Sunday: censored at 21.0
        ("r08", None, 0, "2026-06-10 00:00"),  # anonymous: cannot be followed
        ("r09", "Q1", 2, "2026-03-01 00:00"),  # W09: outside the 13 response weeks W15..W27
        ("r10", "P4", np.nan, "2026-06-10 00:00"),  # no NPS given
    ]
)
PURCHASES = purchases_frame(
    [
        ("D1", "2026-06-30 00:00", 20),  # before the response: not a repurchase
        ("D1", "2026-07-03 00:00", 20),
        ("D3", "2026-06-10 00:00", -20),  # a refund is not a purchase
        ("D3", "2026-06-21 00:00", 20),
        ("P1", "2026-06-02 00:00", 20),
        ("P2", "2026-06-06 00:00", 20),
        ("X1", "2026-07-10 00:00", 20),  # after the reported week: not known yet
    ]
)


def test_kaplan_meier_by_group_by_hand() -> None:
    result = compute_time_to_repurchase(RESPONSES, PURCHASES, week=WEEK, business_tz="UTC")
    summary = result["repurchase_by_nps_group"].set_index("nps_group")
    assert list(result["repurchase_by_nps_group"].columns) == REPURCHASE_COLUMNS
    assert set(summary["first_response_week"]) == {"2026-W15"} and set(summary["last_response_week"]) == {WEEK}
    # Detractors: times 2 (event), 20 (event), 35 (censored). S(2) = 2/3, S(20) = 2/3 * 1/2 = 1/3.
    d = summary.loc["detractor"]
    assert (d["respondents"], d["repurchasers"], d["censored"]) == (3, 2, 1)
    assert d["median_days"] == pytest.approx(20.0)  # first time S <= 0.5
    assert d["repurchased_30d"] == pytest.approx(2 / 3) and d["repurchased_90d"] == pytest.approx(2 / 3)
    # Promoters: 1 (event), 1.5 (censored), 5 (event). S(1) = 2/3; at 5 one at risk, one event: S = 0.
    p = summary.loc["promoter"]
    assert (p["respondents"], p["repurchasers"], p["censored"]) == (3, 2, 1)
    assert p["median_days"] == pytest.approx(5.0) and p["repurchased_30d"] == pytest.approx(1.0)
    # All seven: events at 1, 2, 5, 20 with 7, 5, 4, 3 at risk: S = 6/7, 24/35, 18/35, 12/35; median 20.
    a = summary.loc["all"]
    assert a["respondents"] == 7 and a["repurchased_90d"] == pytest.approx(1 - 12 / 35)
    assert a["median_days"] == pytest.approx(20.0)
    assert summary.loc["passive", "repurchasers"] == 0 and summary.loc["passive", "repurchased_90d"] == 0.0

    curve = result["repurchase_survival"]
    assert list(curve.columns) == REPURCHASE_SURVIVAL_COLUMNS
    detractor = curve.loc[curve["nps_group"] == "detractor"].set_index("day")
    assert detractor["survival"].loc[[0, 1, 2, 19, 20, 90]].tolist() == pytest.approx(
        [1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3]
    )
    assert detractor["at_risk"].loc[[0, 2, 3, 21, 36]].tolist() == [3, 3, 2, 1, 0]
    inside = detractor.loc[detractor["survival"] < 1]
    assert (inside["ci_low"] <= inside["survival"]).all() and (inside["survival"] <= inside["ci_high"]).all()


def test_log_rank_test_by_hand() -> None:
    tests = compute_time_to_repurchase(RESPONSES, PURCHASES, week=WEEK, business_tz="UTC")[
        "repurchase_tests"
    ].set_index("comparison")
    # Detractor vs promoter, at each event time (at risk D, P; events; expected detractor events; variance):
    #  t=1  (3, 3) P event: E_D = 3/6 = 0.5,    V = 3*3*1*5 / (36*5) = 0.25
    #  t=2  (3, 1) D event: E_D = 3/4 = 0.75,   V = 3*1*1*3 / (16*3) = 0.1875
    #  t=5  (2, 1) P event: E_D = 2/3,          V = 2*1*1*2 / (9*2)  = 0.2222
    #  t=20 (2, 0) D event: E_D = 1,            V = 0
    # O_D = 2, E_D = 2.9167; chi2 = (2 - 2.9167)^2 / 0.6597 = 1.2737; p = 0.2591 (1 dof).
    row = tests.loc["detractor_vs_promoter"]
    assert row["statistic"] == pytest.approx(1.2737, abs=1e-3)
    assert row["p_value"] == pytest.approx(0.2591, abs=1e-3)
    assert row["dof"] == 1 and not row["is_significant"] and row["test"] == "log-rank"
    assert tests.loc["all_groups", "dof"] == 2


def test_cohorts_of_response_weeks_whose_window_has_elapsed() -> None:
    # As of Sunday 2026-07-05 a 90-day window has elapsed for weeks ending by 2026-04-06: the last is W14
    # (Sunday 2026-04-05); with two cohorts: W13 and W14.
    responses = responses_frame(
        [
            ("c1", "D9", 4, "2026-04-01 10:00"),  # W14, bought 30 days later -> yes
            ("c2", "P9", 9, "2026-04-02 10:00"),  # W14, bought 91 days later -> no
            ("c3", "P8", 10, "2026-03-25 10:00"),  # W13, bought next day -> yes
            ("c4", "P7", 10, "2026-06-20 10:00"),  # W25: window still open, no cohort yet
        ]
    )
    purchases = purchases_frame(
        [("D9", "2026-05-01 10:00", 10), ("P9", "2026-07-02 10:00", 10), ("P8", "2026-03-26 10:00", 10)]
    )
    cohorts = compute_repurchase_cohorts(responses, purchases, week=WEEK, cohort_weeks=2)
    assert list(cohorts.columns) == REPURCHASE_COHORT_COLUMNS
    assert sorted(set(cohorts["response_week"])) == ["2026-W13", "2026-W14"]
    rows = cohorts.set_index(["response_week", "nps_group"])
    assert rows.loc[("2026-W14", "detractor"), ["respondents", "repurchasers"]].tolist() == [1, 1]
    assert rows.loc[("2026-W14", "promoter"), ["respondents", "repurchasers"]].tolist() == [1, 0]
    assert rows.loc[("2026-W14", "all"), "repurchase_rate"] == pytest.approx(0.5)
    assert rows.loc[("2026-W13", "promoter"), "repurchase_rate"] == 1.0
    assert np.isnan(rows.loc[("2026-W13", "detractor"), "repurchase_rate"])


def test_no_respondents_gives_zero_rows_and_no_curve() -> None:
    result = compute_time_to_repurchase(RESPONSES.iloc[:0], PURCHASES, week=WEEK, business_tz="UTC")
    assert result["repurchase_survival"].empty
    assert (result["repurchase_by_nps_group"]["respondents"] == 0).all()
    assert result["repurchase_tests"]["p_value"].isna().all()


@pytest.mark.parametrize(
    ("score", "group"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"), (10, "promoter")],
)
def test_nps_group_boundaries(score: int, group: str) -> None:
    assert nps_group(pd.Series([score])).tolist() == [group]


def test_nps_group_keeps_missing_missing() -> None:
    assert nps_group(pd.Series([np.nan, 7.0])).isna().tolist() == [True, False]


def test_a_log_rank_test_with_a_singular_variance_is_missing_not_an_error():
    from analytics.repurchase import _log_rank_tests

    # The detractor buys on day 2, the other promoter on day 3; the passive and a promoter left follow-up on
    # day 1. At every event time the passive group is no longer at risk, so the three-group variance matrix
    # is singular (statsmodels raises); detractor vs promoter has people at risk in both groups on day 2.
    time = np.array([2.0, 1.0, 1.0, 3.0])
    status = np.array([1, 0, 0, 1])
    groups = np.array(["detractor", "passive", "promoter", "promoter"], dtype=object)
    tests = _log_rank_tests(time, status, groups, alpha=0.05).set_index("comparison")
    assert np.isnan(tests.loc["all_groups", "p_value"]) and np.isnan(tests.loc["all_groups", "statistic"])
    assert not tests.loc["all_groups", "is_significant"]
    # Detractor vs promoter alone is defined. By hand: on day 2 one detractor and one promoter are at risk and
    # one buys, so O - E = 1 - 1/2 and V = 1/4 (the day-3 event has only the promoter at risk): chi2 = 1.
    assert tests.loc["detractor_vs_promoter", "statistic"] == pytest.approx(1.0)


def test_a_purchase_without_a_business_day_is_not_a_repurchase_inside_a_batch_or_alone() -> None:
    """The follow-up counts purchases of business days up to the week's Sunday; a row with no business day is
    on none (as the old date filter had it: NaT <= Sunday is false), with or without the batch's shared list."""
    from analytics._frames import one_batch

    responses = pd.DataFrame(
        {
            "response_id": ["r1"],
            "customer_id": ["A"],
            "submitted_at": [pd.Timestamp("2026-07-01 10:00", tz="UTC")],
            "business_day": [dt.date(2026, 7, 1)],
            "channel": ["web"],
            "nps": [3.0],
        }
    )
    transactions = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "occurred_at": [pd.Timestamp("2026-07-03", tz="UTC"), pd.Timestamp("2026-06-01", tz="UTC")],
            "business_day": [None, dt.date(2026, 6, 1)],
            "amount": [20.0, 5.0],
        }
    )
    alone = compute_time_to_repurchase(responses, transactions, week="2026-W27", business_tz="UTC", response_weeks=1)
    with one_batch():
        shared = compute_time_to_repurchase(
            responses, transactions, week="2026-W27", business_tz="UTC", response_weeks=1
        )
    for out in (alone, shared):
        groups = out["repurchase_by_nps_group"].set_index("nps_group")
        assert (groups.loc["detractor", "respondents"], groups.loc["detractor", "repurchasers"]) == (1, 0)


def test_the_follow_up_ends_when_the_business_day_ends_not_at_utc_midnight() -> None:
    """New York (UTC-4 in July): W27's rows end at Monday 2026-07-06 00:00 EDT = 04:00 UTC. A respondent
    answering on Friday 2026-07-03 12:00 EDT (16:00 UTC) who buys on Sunday 21:00 EDT (Monday 01:00 UTC, a
    Sunday row) bought again after 2 days 9 hours = 2.375 days; one who never buys is followed to Monday
    00:00 EDT, 2.5 days. A purchase at exactly Monday 00:00 EDT is a Monday row: not read for W27 (the
    caller's business days stop at Sunday), and were it given, after the follow-up."""
    answered = pd.Timestamp("2026-07-03 16:00", tz="UTC")
    responses = pd.DataFrame(
        {
            "response_id": ["r1", "r2"],
            "customer_id": ["A", "B"],
            "nps": [3.0, 3.0],
            "submitted_at": [answered, answered],
            "business_day": [dt.date(2026, 7, 3)] * 2,
        }
    )
    transactions = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "occurred_at": pd.to_datetime(["2026-07-06 01:00", "2026-07-06 04:00"], utc=True),
            "business_day": [dt.date(2026, 7, 5), dt.date(2026, 7, 5)],  # B's as if it were Sunday's: see above
            "amount": [20.0, 20.0],
            "currency": "EUR",
        }
    )
    result = compute_time_to_repurchase(
        responses, transactions, week=WEEK, response_weeks=1, business_tz="America/New_York"
    )
    curve = result["repurchase_survival"]
    detractors = result["repurchase_by_nps_group"].set_index("nps_group").loc["detractor"]
    assert (detractors["respondents"], detractors["repurchasers"], detractors["censored"]) == (2, 1, 1)
    # Kaplan-Meier: at 2.375 days one of two buys, S = 1/2; the other is censored at 2.5 days.
    days = curve.loc[curve["nps_group"] == "detractor"].set_index("day")["survival"]
    assert days.loc[2] == 1.0 and days.loc[3] == 0.5
    utc = compute_time_to_repurchase(responses, transactions, week=WEEK, response_weeks=1, business_tz="UTC")
    assert utc["repurchase_by_nps_group"].set_index("nps_group").loc["detractor", "repurchasers"] == 0
