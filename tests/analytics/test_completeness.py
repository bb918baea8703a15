"""Completeness of the reported week and restatements of the previous one, worked by hand."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics.completeness import (
    COMPLETENESS_COLUMNS,
    RESTATEMENT_COLUMNS,
    compute_response_completeness,
    compute_restatements,
    restatements_of_weeks,
)

DIMENSIONS = ["reliability", "responsiveness", "assurance", "empathy", "tangibles"]


def responses(rows: list[tuple[dt.date, dt.date, str, float]]) -> pd.DataFrame:
    """rows: (business_day, delivery_day, channel, nps)."""
    frame = pd.DataFrame(rows, columns=["business_day", "delivery_day", "channel", "nps"])
    frame.insert(0, "response_id", [f"r{i}" for i in range(len(frame))])
    frame["customer_id"] = None
    frame["submitted_at"] = pd.to_datetime(frame["business_day"]).dt.tz_localize("UTC")
    for column in ("csat", "ces", *DIMENSIONS):
        frame[column] = np.nan
    frame["comment"], frame["region"], frame["segment"] = None, "north", None
    return frame


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_completeness_from_each_channels_usual_lateness() -> None:
    rows = []
    # Reference weeks for 2026-W47 (gap 1, two weeks): W44 and W45. Online always arrives the same day;
    # comment cards: 2 of 4 by their own Sunday, 2 the Monday after -> on-time share 0.5.
    for sunday in (day("2026-11-01"), day("2026-11-08")):  # Sundays of W44, W45
        wednesday = sunday - dt.timedelta(days=4)
        rows += [(wednesday, wednesday, "online", 9)] * 5
        rows += [(wednesday, sunday, "comment_card", 9)] * 2 + [
            (wednesday, sunday + dt.timedelta(days=1), "comment_card", 9)
        ] * 2
    # W46 is left out of the reference (its late rows are still arriving): all its cards a week late.
    rows += [(day("2026-11-11"), day("2026-11-19"), "comment_card", 9)] * 4
    # W47 (Sunday 2026-11-22 is the cut-off): 10 online on time; 3 cards by Sunday, 3 on Monday 23rd.
    rows += [(day("2026-11-18"), day("2026-11-18"), "online", 9)] * 10
    rows += [(day("2026-11-19"), day("2026-11-22"), "comment_card", 9)] * 3
    rows += [(day("2026-11-20"), day("2026-11-23"), "comment_card", 9)] * 3
    frame = compute_response_completeness(responses(rows), week="2026-W47", reference_weeks=2)
    assert list(frame.columns) == COMPLETENESS_COLUMNS
    by = frame.set_index("channel")
    # online: 10 arrived / share 1.0 = 10 expected; cards: 3 / 0.5 = 6. All: 13 of 16 = 0.8125.
    assert by.loc["comment_card", "on_time_share"] == 0.5 and by.loc["online", "on_time_share"] == 1.0
    assert by.loc["comment_card", "expected_responses"] == 6.0
    assert by.loc["all", "arrived_responses"] == 13 and by.loc["all", "expected_responses"] == 16.0
    assert by.loc["all", "completeness"] == pytest.approx(0.8125)
    # Known now: the 3 Monday cards have arrived since: 16, 3 late; the estimate was exact here.
    assert by.loc["all", "known_responses"] == 16 and by.loc["all", "late_responses"] == 3
    assert by.loc["all", "cutoff_day"] == day("2026-11-22")


def test_restatement_of_the_previous_week_by_hand() -> None:
    w46 = day("2026-11-11")
    rows = [(w46, w46, "online", 10)] * 4 + [(w46, w46, "online", 0)] * 2
    # Three detractor cards of W46 arrive on 17 November (inside W47's cut-off), one more on 30 November
    # (after it: not part of W47's restatement).
    rows += [(w46, day("2026-11-17"), "comment_card", 0)] * 3 + [(w46, day("2026-11-30"), "comment_card", 0)]
    frame = compute_restatements(responses(rows), week="2026-W47")
    assert list(frame.columns) == RESTATEMENT_COLUMNS
    by = frame.set_index("figure")
    # Reported: 4 promoters, 2 detractors of 6 -> NPS 100 x 2/6 = 33.3. Restated: 4 and 5 of 9 -> -11.1.
    assert by.loc["nps", "reported_value"] == pytest.approx(100 * 2 / 6)
    assert by.loc["nps", "restated_value"] == pytest.approx(100 * -1 / 9)
    assert by.loc["nps", "late_responses"] == 3 and by.loc["nps", "is_restated"]
    assert by.loc["responses", ["reported_value", "restated_value"]].tolist() == [6, 9]
    assert not by.loc["csat", "is_restated"]  # no CSAT answers either time: nothing restated
    assert (frame["previous_week"] == "2026-W46").all()


def test_restatements_of_several_weeks_at_once_are_each_weeks_own() -> None:
    w45, w46, w47 = day("2026-11-04"), day("2026-11-11"), day("2026-11-18")
    rows = [(w45, w45, "online", 9)] * 5 + [(w45, day("2026-11-12"), "online", 2)] * 2  # two late W45 cards
    rows += [(w46, w46, "online", 10)] * 4 + [(w46, day("2026-11-17"), "comment_card", 0)] * 3
    rows += [(w47, w47, "online", 7)] * 6
    frame = responses(rows)
    weeks = ["2026-W46", "2026-W47", "2026-W48", "2026-W50"]  # W50: no W49 rows, nothing to restate
    together = restatements_of_weeks(frame, weeks)
    assert together["week"].tolist() == [w for w in weeks for _ in range(4)]
    for week in weeks:
        alone = compute_restatements(frame, week=week)
        pd.testing.assert_frame_equal(
            together.loc[together["week"] == week].drop(columns="week").reset_index(drop=True), alone
        )
    by = together.set_index(["week", "figure"])
    # W46 restates W45: 5 promoters reported, then 2 late detractors -> NPS 100 -> 100 x 3/7.
    assert by.loc[("2026-W46", "nps"), "reported_value"] == pytest.approx(100.0)
    assert by.loc[("2026-W46", "nps"), "restated_value"] == pytest.approx(100 * 3 / 7)
    assert by.loc[("2026-W50", "responses"), ["reported_n", "restated_n", "late_responses"]].tolist() == [0, 0, 0]
