"""The metric bundle on the demo generator's data finds the patterns planted in it.

The demo plants a complaint theme ("app crashed at checkout") that rises in the last three ISO weeks, and
makes detractors buy less afterwards. These tests build the demo's raw rows, keep the valid ones, type them
with the project's own parser, and check that the bundle reports both patterns in the right weeks.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from analytics.bundle import MetricParameters, compute_metric_frames, convert_currency
from demo import build_demo_frames, theme_weeks
from loyalty.coerce import coerce_frame
from loyalty.contract import ENTITIES

START, END = date(2026, 5, 25), date(2026, 11, 22)  # 26 ISO weeks, 2026-W22 .. 2026-W47
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    raw = build_demo_frames(START, END, n_customers=3000)
    typed = {}
    for name, frame in raw.items():
        valid = frame.loc[frame["invalid_kind"] == ""]
        entity = ENTITIES[name]
        out = coerce_frame(valid.astype(object), entity, LONDON).frame
        out = out.drop_duplicates(subset=[entity.key], keep="first")
        out["business_day"] = out[entity.timestamp].dt.tz_convert(LONDON).dt.date
        typed[name] = out.reset_index(drop=True)
    segments = typed["customers"].set_index("customer_id")["segment"]
    typed["survey_responses"]["segment"] = typed["survey_responses"]["customer_id"].map(segments)
    typed["transactions"] = convert_currency(typed["transactions"], {"EUR": 0.86}, "GBP")
    return typed


def test_the_planted_complaint_theme_rises_in_its_weeks_and_not_before(frames):
    planted = theme_weeks(START, END)
    assert planted == ["2026-W45", "2026-W46", "2026-W47"]
    weeks = ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44", *planted]
    result = compute_metric_frames(
        frames["survey_responses"],
        frames["transactions"],
        frames["customers"],
        weeks=weeks,
        params=MetricParameters(),
    )
    trending = result["trending_terms"]
    rising = trending.loc[trending["is_significant"] & (trending["direction"] == "rising")]
    theme = {"checkout", "crashed", "app crashed", "crash", "app crashes", "crashes"}
    weeks_with_theme = set(rising.loc[rising["term"].isin(theme), "week"])
    # Every planted week reports a theme term as significantly rising; no week before it does.
    assert weeks_with_theme == set(planted)
    # Bigrams are adjacent words: "crashed at checkout" never yields "crashed checkout".
    assert "crashed checkout" not in set(trending["term"])
    # "checkout" itself stays flagged (rising or persisting) through the last week.
    persisting = result["persisting_terms"]
    flagged = set(rising.loc[rising["term"] == "checkout", "week"]) | set(
        persisting.loc[persisting["term"] == "checkout", "week"]
    )
    assert {"2026-W45", "2026-W46", "2026-W47"} <= flagged
    alerts = result["alerts"]
    assert set(alerts.loc[(alerts["kind"] == "rising_term") & alerts["subject"].isin(theme), "week"]) == set(planted)
    # The highlighted terms carry sentiment (negative for a crash complaint) and verbatims holding the term.
    details = result["term_verbatims"].set_index(["week", "term"])
    row = details.loc[("2026-W47", "checkout")]
    assert row["sentiment"] < 0
    assert "checkout" in row["verbatim_1"].lower()


def test_detractors_repurchase_less_than_promoters(frames):
    result = compute_metric_frames(
        frames["survey_responses"],
        frames["transactions"],
        frames["customers"],
        weeks=["2026-W47"],
    )
    summary = result["repurchase_by_nps_group"].set_index("nps_group")
    # The Kaplan-Meier curves cover the 13 response weeks W35..W47, labelled as such.
    assert set(summary["first_response_week"]) == {"2026-W35"} and set(summary["last_response_week"]) == {"2026-W47"}
    assert summary.loc["detractor", "respondents"] >= 100 and summary.loc["promoter", "respondents"] >= 100
    # Detractors are slower to buy again: a smaller share has bought by 30 and by 90 days, their 90-day
    # interval lies below the promoters', and the log-rank test of the two curves is significant.
    assert summary.loc["detractor", "repurchased_30d"] < summary.loc["promoter", "repurchased_30d"]
    assert summary.loc["detractor", "repurchased_90d_ci_high"] < summary.loc["promoter", "repurchased_90d_ci_low"]
    curve = result["repurchase_survival"].set_index(["nps_group", "day"])["survival"]
    assert all(curve[("detractor", d)] > curve[("promoter", d)] for d in (14, 30, 60, 90))
    tests = result["repurchase_tests"].set_index("comparison")
    assert bool(tests.loc["detractor_vs_promoter", "is_significant"])
    # The 90-day cohorts are response weeks whose window has closed: W22..W34 at most (data starts in W22).
    cohorts = result["repurchase_cohorts"]
    assert cohorts["response_week"].max() == "2026-W34"
    pooled = cohorts.groupby("nps_group")[["respondents", "repurchasers"]].sum()
    rate = pooled["repurchasers"] / pooled["respondents"]
    assert rate["detractor"] < rate["promoter"]


def test_recomputing_a_week_gives_identical_frames(frames):
    args = (frames["survey_responses"], frames["transactions"], frames["customers"])
    first = compute_metric_frames(*args, weeks=["2026-W46"])
    second = compute_metric_frames(*args, weeks=["2026-W46"])
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], obj=name)


def test_convert_currency_uses_the_rate_and_reports_unknown_currencies():
    tx = pd.DataFrame({"amount": [10.0, 10.0, 5.0], "currency": ["GBP", "EUR", "JPY"]})
    out = convert_currency(tx, {"EUR": 0.86}, "GBP")
    assert out["amount"].tolist() == [10.0, 8.6]  # 10 EUR x 0.86 GBP/EUR
    assert out.attrs["dropped_currencies"] == {"JPY": 1}
    assert set(out["currency"]) == {"GBP"}
