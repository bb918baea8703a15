"""Pure parsing of raw values into contract types: worked out by hand, one case per line."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from loyalty.coerce import coerce_frame, parse_numbers, parse_timestamps, record_hashes
from loyalty.contract import ENTITIES

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        # Exact: the offset wins, whatever the source zone.
        ("2026-07-03T14:05:00+01:00", "2026-07-03T13:05:00"),
        ("2026-07-03T14:05:00Z", "2026-07-03T14:05:00"),
        ("2026-07-03T14:05:00-0500", "2026-07-03T19:05:00"),
        # Naive in summer: London is BST (UTC+1).
        ("2026-07-03T14:05:00", "2026-07-03T13:05:00"),
        ("2026-07-03 14:05", "2026-07-03T13:05:00"),
        # Naive in winter: GMT.
        ("2026-01-10T09:00:00", "2026-01-10T09:00:00"),
        # A date alone is midnight local; "-03" here is the day, not an offset.
        ("2026-07-03", "2026-07-02T23:00:00"),
        # Spring-forward gap (2026-03-29 01:00-02:00 does not exist): shifted forward to 02:00 BST = 01:00Z.
        ("2026-03-29T01:30:00", "2026-03-29T01:00:00"),
        # Fall-back overlap (01:00-02:00 happens twice on 2026-10-25): the first, BST, occurrence.
        ("2026-10-25T01:30:00", "2026-10-25T00:30:00"),
    ],
)
def test_timestamps_parse_to_utc(raw, utc):
    parsed, bad = parse_timestamps(pd.Series([raw], dtype=object), LONDON)
    assert not bad.any()
    assert parsed.iloc[0] == pd.Timestamp(utc, tz="UTC")


@pytest.mark.parametrize("raw", ["yesterday 3pm", "2026-13-45", "2026-02-30T10:00:00", "NaN", "12:00"])
def test_unparseable_timestamps_are_flagged_not_guessed(raw):
    parsed, bad = parse_timestamps(pd.Series([raw], dtype=object), LONDON)
    assert bad.tolist() == [True]
    assert pd.isna(parsed.iloc[0])


def test_missing_timestamps_are_missing_not_bad():
    parsed, bad = parse_timestamps(pd.Series(["", None, "  "], dtype=object), LONDON)
    assert bad.tolist() == [False, False, False]
    assert parsed.isna().all()


def test_typed_timestamps_from_parquet_are_kept():
    aware = pd.Series(pd.to_datetime(["2026-07-03T14:05:00+02:00"], utc=False))
    parsed, bad = parse_timestamps(aware, LONDON)
    assert parsed.iloc[0] == pd.Timestamp("2026-07-03T12:05:00", tz="UTC") and not bad.any()
    naive = pd.Series(pd.to_datetime(["2026-07-03T14:05:00"]))
    parsed, _ = parse_timestamps(naive, LONDON)
    assert parsed.iloc[0] == pd.Timestamp("2026-07-03T13:05:00", tz="UTC")


def test_integers_reject_text_nan_inf_and_fractions_and_never_become_zero():
    raw = pd.Series(["7", " 8 ", "7.0", "7.5", "nan", "inf", "abc", "", None, "-1", True], dtype=object)
    values, problems = parse_numbers(raw, integer=True)
    assert values.tolist()[:3] == [7, 8, 7]
    assert values.iloc[9] == -1  # out of range is validation's job, not parsing's
    assert values.iloc[3:9].isna().all() and pd.isna(values.iloc[10])
    assert np.flatnonzero(problems["not_an_integer"]).tolist() == [3]
    # "nan" is a number that is not finite (a JSON NaN arrives spelled out), like "inf"; "abc" and True are not numbers.
    assert np.flatnonzero(problems["not_a_number"]).tolist() == [6, 10]
    assert np.flatnonzero(problems["non_finite_number"]).tolist() == [4, 5]


def test_decimals_accept_refunds_and_reject_non_finite():
    values, problems = parse_numbers(pd.Series(["12.50", "-3", "1e2", "-inf", "Infinity", ""]), integer=False)
    assert values.iloc[:3].tolist() == [12.5, -3.0, 100.0]
    assert np.flatnonzero(problems["non_finite_number"]).tolist() == [3, 4]
    assert pd.isna(values.iloc[5]) and not problems["not_a_number"].any()


def test_coerce_frame_names_each_problem_by_column():
    raw = pd.DataFrame(
        {
            "transaction_id": ["T1", "T2"],
            "occurred_at": ["2026-01-01T00:00:00Z", "soon"],
            "amount": ["x", "1"],
        }
    )
    result = coerce_frame(raw, ENTITIES["transactions"], LONDON)
    assert set(result.problems) == {"unparseable_timestamp:occurred_at", "not_a_number:amount"}
    assert result.problems["unparseable_timestamp:occurred_at"].tolist() == [False, True]
    assert result.problems["not_a_number:amount"].tolist() == [True, False]
    assert list(result.frame.columns) == ENTITIES["transactions"].column_names  # absent columns become null


def test_record_hash_is_equal_for_equal_content_whatever_the_raw_spelling():
    entity = ENTITIES["transactions"]
    raw = pd.DataFrame(
        {
            "transaction_id": ["T1", "T1", "T1"],
            "customer_id": ["C1", "C1", "C1"],
            # The same instant written two ways, then a different amount.
            "occurred_at": ["2026-07-03T14:05:00+01:00", "2026-07-03T13:05:00Z", "2026-07-03T13:05:00Z"],
            "amount": ["12.5", "12.50", "12.51"],
            "currency": ["GBP"] * 3,
            "channel": ["online"] * 3,
            "region": [None] * 3,
        }
    )
    hashes = record_hashes(coerce_frame(raw, entity, LONDON).frame, entity)
    assert hashes.iloc[0] == hashes.iloc[1] != hashes.iloc[2]


def test_integers_too_large_for_a_float_are_a_problem_not_a_crash():
    values, problems = parse_numbers(pd.Series(["1e20", "-9e18", "5"], dtype=object), integer=True)
    assert np.flatnonzero(problems["number_too_large"]).tolist() == [0, 1]
    assert values.isna().tolist() == [True, True, False]
