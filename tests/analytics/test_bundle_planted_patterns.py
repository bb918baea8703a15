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
    theme = {"checkout", "crashed", "app crashed", "crash", "crashed checkout"}
    weeks_with_theme = set(rising.loc[rising["term"].isin(theme), "week"])
    # Every planted week reports a theme term as significantly rising; no week before it does.
    assert weeks_with_theme == set(planted)
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
    rates = result["repurchase_by_nps_group"].set_index("nps_group")
    assert rates.loc["detractor", "respondents"] >= 100 and rates.loc["promoter", "respondents"] >= 100
    # Not just lower: the intervals do not overlap, and the detractor-vs-promoter test is significant.
    assert rates.loc["detractor", "ci_high"] < rates.loc["promoter", "ci_low"]
    tests = result["repurchase_tests"].set_index("comparison")
    assert bool(tests.loc["detractor_vs_promoter", "is_significant"])


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
