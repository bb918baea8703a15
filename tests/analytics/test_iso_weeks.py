"""ISO week labels and week arithmetic."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.weeks import (
    iso_week_label,
    iso_week_labels,
    iso_week_range,
    parse_iso_week,
    previous_iso_weeks,
    shift_iso_week,
)


@pytest.mark.parametrize(
    ("day", "label"),
    [
        # 2026-01-01 is a Thursday, so ISO week 1 of 2026 starts Monday 2025-12-29.
        # 2026-11-16 (Monday) is 322 days after 2025-12-29 -> 322 / 7 = 46 whole weeks -> week 47.
        (dt.date(2026, 11, 18), "2026-W47"),
        (dt.date(2026, 11, 22), "2026-W47"),  # Sunday closes the same week
        (dt.date(2026, 11, 23), "2026-W48"),  # Monday opens the next
        (dt.date(2025, 12, 29), "2026-W01"),  # a December day in next ISO year's week 1
        # 2020-12-28 is a Monday and 2020 has 53 ISO weeks (it starts on a Wednesday, leap year),
        # so Sunday 2021-01-03 still belongs to 2020-W53.
        (dt.date(2021, 1, 3), "2020-W53"),
        (dt.date(2021, 1, 4), "2021-W01"),
    ],
)
def test_iso_week_label_handles_year_boundaries(day: dt.date, label: str) -> None:
    assert iso_week_label(day) == label
    assert iso_week_label(pd.Timestamp(day)) == label
    assert iso_week_label(dt.datetime(day.year, day.month, day.day, 23, 59)) == label


@pytest.mark.parametrize(
    ("label", "monday", "sunday"),
    [
        ("2026-W47", dt.date(2026, 11, 16), dt.date(2026, 11, 22)),
        # 2026 starts on a Thursday, so it has 53 weeks; W53 runs into January 2027.
        ("2026-W53", dt.date(2026, 12, 28), dt.date(2027, 1, 3)),
        # 2020-01-01 is a Wednesday: week 1 starts Monday 2019-12-30.
        ("2020-W01", dt.date(2019, 12, 30), dt.date(2020, 1, 5)),
    ],
)
def test_parse_iso_week_returns_monday_and_sunday(label: str, monday: dt.date, sunday: dt.date) -> None:
    assert parse_iso_week(label) == (monday, sunday)


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("2025-W53", "weeks 01 to 52"),  # 2025 starts on a Wednesday (not leap): only 52 weeks
        ("2026-W54", "weeks 01 to 53"),
        ("2026-W00", "weeks 01 to 53"),
        ("2026W47", "expected the form"),
        ("2026-W7", "expected the form"),
        ("2026-w47", "expected the form"),
        ("", "expected the form"),
        (None, "must be a string"),
    ],
)
def test_parse_iso_week_rejects_bad_labels_clearly(label: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_iso_week(label)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("label", "weeks", "expected"),
    [
        ("2026-W01", -1, "2025-W52"),
        ("2026-W53", 1, "2027-W01"),
        ("2026-W47", 0, "2026-W47"),
        ("2021-W01", -1, "2020-W53"),
    ],
)
def test_shift_iso_week_crosses_years(label: str, weeks: int, expected: str) -> None:
    assert shift_iso_week(label, weeks) == expected


def test_week_ranges_are_inclusive_and_ordered() -> None:
    assert iso_week_range("2026-W52", "2027-W02") == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
    assert iso_week_range("2026-W10", "2026-W10") == ["2026-W10"]
    assert previous_iso_weeks("2027-W01", 3) == ["2026-W51", "2026-W52", "2026-W53"]
    assert previous_iso_weeks("2027-W01", 0) == []
    with pytest.raises(ValueError, match="reversed"):
        iso_week_range("2026-W10", "2026-W09")


def test_iso_week_labels_vectorised_accepts_dates_and_datetime64() -> None:
    days = pd.Series([dt.date(2026, 11, 18), None, dt.date(2021, 1, 3)], index=[10, 11, 12])
    labels = iso_week_labels(days)
    assert labels.index.tolist() == [10, 11, 12]
    assert labels[10] == "2026-W47" and labels[12] == "2020-W53"
    assert pd.isna(labels[11])
    as_datetime64 = iso_week_labels(pd.Series(pd.to_datetime(["2026-11-18", "2021-01-03"])))
    assert as_datetime64.tolist() == ["2026-W47", "2020-W53"]


@given(st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2200, 12, 31)))
def test_label_of_a_day_parses_back_to_a_week_holding_it(day: dt.date) -> None:
    monday, sunday = parse_iso_week(iso_week_label(day))
    assert monday <= day <= sunday
    assert monday.weekday() == 0 and (sunday - monday).days == 6


@given(st.lists(st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2100, 1, 1)), min_size=1, max_size=30))
def test_vectorised_labels_match_scalar_labels(days: list[dt.date]) -> None:
    expected = [iso_week_label(day) for day in days]
    assert iso_week_labels(pd.Series(days)).tolist() == expected
    assert iso_week_labels(pd.Series(np.array(days, dtype="datetime64[D]"))).tolist() == expected
