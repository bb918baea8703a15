"""Weekly satisfaction cells and week-over-week tests, on tiny frames worked out by hand."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.satisfaction import WEEKLY_SATISFACTION_COLUMNS, compute_weekly_satisfaction
from analytics.stats import bh_qvalues

WEEK_47 = dt.date(2026, 11, 18)  # Wednesday of 2026-W47
WEEK_46 = dt.date(2026, 11, 11)  # Wednesday of 2026-W46
DIMENSIONS = ["reliability", "responsiveness", "assurance", "empathy", "tangibles"]


def responses_frame(rows: list[dict]) -> pd.DataFrame:
    """Responses with every column the warehouse provides; unspecified answers are missing."""
    defaults = {
        "customer_id": "c1",
        "business_day": WEEK_47,
        "channel": "online",
        "nps": np.nan,
        "csat": np.nan,
        "ces": np.nan,
        "comment": None,
        "region": "north",
        "segment": "gold",
        **dict.fromkeys(DIMENSIONS, np.nan),
    }
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    frame.insert(0, "response_id", [f"r{i}" for i in range(len(frame))])
    frame["submitted_at"] = pd.to_datetime(frame["business_day"]).dt.tz_localize("UTC")
    return frame


# Six responses in 2026-W47, three phone and three online.
SIX = [
    {"channel": "phone", "nps": 10, "csat": 5, "ces": 2, "comment": "Great", "reliability": 5},
    {"channel": "phone", "nps": 9, "csat": 4, "ces": 3, "comment": None, "reliability": 4},
    {"channel": "phone", "nps": 7, "csat": 3, "ces": 4, "comment": "   ", "reliability": 3},
    {"channel": "online", "nps": 3, "csat": 2, "ces": 6, "comment": "slow <br />", "reliability": 2},
    {"channel": "online", "nps": 6, "csat": 4, "ces": 5, "comment": None, "reliability": 1},
    {"channel": "online", "nps": np.nan, "csat": 5, "ces": np.nan, "comment": "ok", "region": None},
]


def cell(frame: pd.DataFrame, dimension: str, value: str, week: str = "2026-W47") -> pd.Series:
    match = frame[(frame["week"] == week) & (frame["dimension"] == dimension) & (frame["segment_value"] == value)]
    assert len(match) == 1, f"expected one {dimension}={value} row in {week}"
    return match.iloc[0]


def test_overall_cell_by_hand() -> None:
    overall = cell(compute_weekly_satisfaction(responses_frame(SIX)), "overall", "all")
    # Volume: 6 responses; non-blank comments "Great", "slow <br />", "ok" -> 3/6 (the blank one is not).
    assert overall["responses"] == 6 and overall["comments"] == 3 and overall["comment_rate"] == 0.5
    # NPS answers 10, 9, 7, 3, 6: promoters 2, passives 1, detractors 2 -> 100 * (2 - 2)/5 = 0.
    assert (overall["promoters"], overall["passives"], overall["detractors"], overall["nps_n"]) == (2, 1, 2, 5)
    assert overall["nps"] == 0.0
    # Adjusted Wald: n'=8, p'P=p'D=2.75/8=0.34375, var=0.6875/8=0.0859375, sd=0.293151,
    # half = 1.959964*0.293151 = 0.574565 -> [-57.4565, 57.4565] points.
    assert overall["nps_ci_low"] == pytest.approx(-57.4565, abs=1e-3)
    assert overall["nps_ci_high"] == pytest.approx(57.4565, abs=1e-3)
    # CSAT answers 5, 4, 3, 2, 4, 5: four are 4-5 -> 4/6.
    assert overall["csat_satisfied"] == 4 and overall["csat"] == pytest.approx(4 / 6)
    assert overall["csat_ci_low"] < 4 / 6 < overall["csat_ci_high"]
    # CES answers 2, 3, 4, 6, 5: mean 4; sd = sqrt((4+1+0+4+1)/4) = 1.581139; t(0.975, 4) = 2.776445;
    # half = 2.776445 * 1.581139 / sqrt(5) = 1.963243 -> [2.036757, 5.963243].
    assert overall["ces"] == pytest.approx(4.0)
    assert overall["ces_ci_low"] == pytest.approx(2.036757, abs=1e-5)
    assert overall["ces_ci_high"] == pytest.approx(5.963243, abs=1e-5)
    # Reliability answers 5, 4, 3, 2, 1: mean 3, top-2-box 2/5. Other dimensions: no answers -> NaN.
    assert overall["reliability_mean"] == 3.0 and overall["reliability_top2"] == 0.4
    assert np.isnan(overall["empathy_mean"]) and np.isnan(overall["empathy_top2"])
    assert not overall["is_suppressed"] and overall["is_small_sample"]


def test_breakdowns_label_missing_values_unknown_and_suppress_small_cells() -> None:
    weekly = compute_weekly_satisfaction(responses_frame(SIX))
    # One cell per value: overall/all, channel online+phone, region north+unknown, segment gold.
    assert list(zip(weekly["dimension"], weekly["segment_value"], strict=True)) == [
        ("overall", "all"),
        ("channel", "online"),
        ("channel", "phone"),
        ("region", "north"),
        ("region", "unknown"),
        ("segment", "gold"),
    ]
    # Phone has 3 responses < 5: suppressed, every figure blanked except the response count.
    phone = cell(weekly, "channel", "phone")
    assert phone["is_suppressed"] and phone["responses"] == 3
    assert pd.isna(phone["promoters"]) and pd.isna(phone["comment_rate"]) and np.isnan(phone["nps"])
    # North holds the 5 responses with a region: NPS answers 10, 9, 7, 3, 6 -> same as overall, 0.
    north = cell(weekly, "region", "north")
    assert not north["is_suppressed"] and north["nps"] == 0.0 and north["responses"] == 5


def test_thresholds_are_parameters() -> None:
    weekly = compute_weekly_satisfaction(responses_frame(SIX), min_n=3, small_n=4)
    phone = cell(weekly, "channel", "phone")
    # With min_n=3 the phone cell (3 responses) is published: NPS 10, 9, 7 -> 100 * (2 - 0)/3 = 66.67.
    assert not phone["is_suppressed"] and phone["is_small_sample"]
    assert phone["nps"] == pytest.approx(200 / 3)
    assert not cell(weekly, "overall", "all")["is_small_sample"]  # 6 >= small_n = 4


def test_a_metric_with_too_few_answers_is_blanked_in_a_published_cell() -> None:
    rows = [{"nps": 10, "csat": 5}] * 4 + [{"nps": np.nan, "csat": 4}] * 2
    overall = cell(compute_weekly_satisfaction(responses_frame(rows)), "overall", "all")
    # 6 responses (published) but only 4 NPS answers < 5: NPS blanked; CSAT has 6 answers, 6/6 = 1.
    assert overall["nps_n"] == 4 and np.isnan(overall["nps"]) and np.isnan(overall["nps_ci_low"])
    assert overall["csat"] == 1.0


def two_weeks() -> pd.DataFrame:
    # W46: 5 promoters + 5 detractors, CSAT 5 of 10 satisfied. W47: 10 promoters, CSAT 10 of 10.
    w46 = [{"business_day": WEEK_46, "nps": 10 if i < 5 else 0, "csat": 5 if i < 5 else 1} for i in range(10)]
    w47 = [{"business_day": WEEK_47, "nps": 9, "csat": 4} for _ in range(10)]
    return responses_frame(w46 + w47)


def test_week_over_week_change_by_hand() -> None:
    weekly = compute_weekly_satisfaction(two_weeks())
    overall = cell(weekly, "overall", "all")
    # NPS 0 -> 100: change +100 points. Adjusted-Wald difference (see test_stats): z = 2.555909, p = 0.010591.
    assert overall["nps_previous"] == 0.0 and overall["nps_change"] == 100.0
    assert overall["nps_change_p"] == pytest.approx(0.010591, abs=1e-6)
    # CSAT 0.5 -> 1.0: pooled 15/20 = 0.75, se = sqrt(0.75*0.25*0.2) = 0.193649, z = 2.581989, p = 0.009823.
    assert overall["csat_change"] == 0.5
    assert overall["csat_change_p"] == pytest.approx(0.009823, abs=1e-6)
    # All four W47 cells (overall, channel online, region north, segment gold) hold the same 20 responses,
    # so BH over 4 identical p-values leaves q = p * 4/4 = p.
    w47 = weekly[weekly["week"] == "2026-W47"]
    assert len(w47) == 4
    np.testing.assert_allclose(w47["nps_change_q"], w47["nps_change_p"])
    assert w47["is_nps_change_significant"].all() and w47["is_csat_change_significant"].all()
    assert overall["previous_responses"] == 10
    # The first week has nothing to compare with.
    first = cell(weekly, "overall", "all", week="2026-W46")
    assert np.isnan(first["nps_change"]) and not first["is_nps_change_significant"]


def test_bh_runs_across_the_cells_of_a_week() -> None:
    frame = two_weeks()
    # Move half of each week to phone so the channel cells differ from the overall cell.
    frame.loc[frame.index % 2 == 0, "channel"] = "phone"
    weekly = compute_weekly_satisfaction(frame)
    w47 = weekly[weekly["week"] == "2026-W47"]
    expected = bh_qvalues(w47["nps_change_p"].to_numpy())
    np.testing.assert_allclose(w47["nps_change_q"], expected)
    assert (w47["nps_change_q"] >= w47["nps_change_p"] - 1e-12).all()


def test_no_change_test_against_a_missing_previous_week() -> None:
    frame = two_weeks()
    frame.loc[frame["business_day"] == WEEK_46, "business_day"] = dt.date(2026, 11, 4)  # W45, not W46
    overall = cell(compute_weekly_satisfaction(frame), "overall", "all")
    assert np.isnan(overall["nps_change"]) and np.isnan(overall["nps_change_p"])
    assert pd.isna(overall["previous_responses"])


def test_nullable_integer_scores_give_the_same_result_and_input_is_untouched() -> None:
    as_float = responses_frame(SIX)
    as_int = as_float.copy()
    for column in ["nps", "csat", "ces", "reliability"]:
        as_int[column] = as_int[column].astype("Int64")
    snapshot = as_int.copy()
    pd.testing.assert_frame_equal(compute_weekly_satisfaction(as_float), compute_weekly_satisfaction(as_int))
    pd.testing.assert_frame_equal(as_int, snapshot)
    assert list(compute_weekly_satisfaction(as_int).columns) == WEEKLY_SATISFACTION_COLUMNS


@pytest.mark.parametrize(("column", "value"), [("nps", 11), ("csat", 0), ("ces", 8), ("empathy", 6)])
def test_out_of_range_scores_raise(column: str, value: int) -> None:
    with pytest.raises(ValueError, match=column):
        compute_weekly_satisfaction(responses_frame([{column: value}]))


def test_missing_column_raises_with_its_name() -> None:
    with pytest.raises(ValueError, match="tangibles"):
        compute_weekly_satisfaction(responses_frame(SIX).drop(columns=["tangibles"]))


def optional(low: int, high: int) -> st.SearchStrategy:
    return st.one_of(st.none(), st.integers(min_value=low, max_value=high))


channel = st.sampled_from(["online", "phone", "comment_card", "email", "in_store"])
answers = st.tuples(optional(0, 10), optional(1, 5), optional(1, 7), channel, st.integers(min_value=0, max_value=20))


@settings(max_examples=40, deadline=None)
@given(st.lists(answers, min_size=1, max_size=60))
def test_metrics_and_intervals_hold_their_invariants(rows: list[tuple]) -> None:
    frame = responses_frame(
        [
            {
                "nps": np.nan if nps is None else nps,
                "csat": np.nan if csat is None else csat,
                "ces": np.nan if ces is None else ces,
                "channel": ch,
                "business_day": WEEK_47 + dt.timedelta(days=day),
            }
            for nps, csat, ces, ch, day in rows
        ]
    )
    weekly = compute_weekly_satisfaction(frame, min_n=1)
    published = weekly.dropna(subset=["nps"])
    assert ((published["nps"] >= -100) & (published["nps"] <= 100)).all()
    # Every published interval contains its estimate (CES needs two answers for an interval).
    for metric in ["nps", "csat", "ces"]:
        shown = weekly.dropna(subset=[f"{metric}_ci_low"])
        assert (shown[f"{metric}_ci_low"] <= shown[metric] + 1e-9).all(), metric
        assert (shown[metric] <= shown[f"{metric}_ci_high"] + 1e-9).all(), metric
    assert weekly["csat"].dropna().between(0, 1).all() and weekly["comment_rate"].dropna().between(0, 1).all()
    # Responses are conserved: each breakdown's cells add up to the overall count of their week.
    totals = weekly.groupby(["week", "dimension"])["responses"].sum().unstack()
    assert (totals.nunique(axis=1) == 1).all()
    assert weekly["responses"][weekly["dimension"] == "overall"].sum() == len(rows)


def test_small_sample_flags_rest_on_each_metrics_own_n() -> None:
    # 40 responses: 40 answered CSAT, 25 answered NPS (11 + 14), 11 answered CES.
    # NPS n = 25 (< 30: small sample, >= 5: published), CES n = 11 (small), CSAT n = 40 (fine).
    # Counting responses (40) would flag none of them: the old rule.
    rows = [{"nps": 9, "csat": 5, "ces": 6}] * 11 + [{"nps": 8, "csat": 4}] * 14 + [{"csat": 3}] * 15
    overall = cell(compute_weekly_satisfaction(responses_frame(rows)), "overall", "all")
    assert overall["responses"] == 40 and not overall["is_small_sample"]
    assert (overall["nps_n"], overall["csat_n"], overall["ces_n"]) == (25, 40, 11)
    assert overall["is_nps_small_sample"] and not overall["is_nps_suppressed"]
    assert overall["is_ces_small_sample"] and not overall["is_ces_suppressed"]
    assert not overall["is_csat_small_sample"] and not overall["is_csat_suppressed"]
    # Only 4 CES answers -> CES suppressed (blanked) while the 40-response cell is published.
    fewer = cell(
        compute_weekly_satisfaction(responses_frame([{"csat": 4, "ces": 5}] * 4 + [{"csat": 4}] * 36)),
        "overall",
        "all",
    )
    assert fewer["is_ces_suppressed"] and np.isnan(fewer["ces"]) and not fewer["is_csat_small_sample"]
    assert fewer["is_nps_suppressed"]  # no NPS answer at all
