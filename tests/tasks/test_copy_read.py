"""On PostgreSQL the metrics read their two big frames through COPY ... TO STDOUT as CSV (tasks/metrics.py,
``read_query_frame(..., as_text=True)``). The frames must be the very frames the driver's rows give: the same
values, types and missing values, whatever the text holds. Loaded through the real intake: comments with
commas, quotes, line breaks, a lone quote, a backslash, an empty comment, a comment that reads NULL or \\N,
non-Latin text; an empty region; answers left out; a first response with no customer and no scores; amounts
with many digits, a whole amount read first (SQLite stores it as an integer beside the reals), refunds. On
SQLite there is no COPY, and both ways are the driver's (checked too: as_text changes nothing there).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from loyalty.db import get_engine
from tasks.metrics import _typed, _typed_responses, read_query_frame
from tests.helpers import run_day, write_csv

DAY = dt.date(2026, 11, 4)
COMMENTS = [
    'late, "again"\nand the box was "crushed"',
    '"',
    "C:\\path\\N",
    "",
    "NULL",
    "\\N",
    "Обслуживание — 很好 😀",
    "  spaced  ",
    "a\r\nb",
]


@pytest.fixture
def loaded(settings, landing):
    header = ["response_id", "customer_id", "submitted_at", "channel", "nps", "csat", "comment", "region"]
    rows = [
        [f"R{i}", f"C{i % 3}", f"2026-11-04T{10 + i:02d}:15:00Z", "online", str(i), "" if i % 2 else "4", text, "North"]
        for i, text in enumerate(COMMENTS)
    ]
    rows.append(["A99", "", "2026-11-04T23:59:59Z", "phone", "", "", "no customer, no scores", ""])  # read first
    write_csv(landing / "survey_responses" / "2026-11-04_web.csv", header, rows)
    write_csv(
        landing / "transactions" / "2026-11-04_pos.csv",
        ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel", "region"],
        [
            ["T1", "C1", "2026-11-04T09:00:00Z", "19.99", "GBP", "online", "North"],
            ["T2", "C1", "2026-11-04T09:00:00.123456Z", "-0.01", "EUR", "online", ""],
            ["T3", "C2", "2026-11-04T23:00:00Z", "123456.789", "USD", "phone", "South"],
            ["T4", "C2", "2026-11-04T12:00:00Z", "0.1", "GBP", "in_store", "North"],
            ["T0", "C0", "2026-11-04T13:00:00Z", "12.00", "GBP", "in_store", "North"],  # read first
        ],
    )
    summaries = run_day(settings, DAY, entities=["survey_responses", "transactions"])
    assert summaries["survey_responses"].rows_loaded == len(rows)
    assert summaries["transactions"].rows_loaded == 5
    return settings


def _params(name: str, first_day: dt.date, last_day: dt.date) -> dict:
    every_region = {"all_regions": 1, "region": ""} if "transactions" in name else {}
    return {"first_day": first_day, "last_day": last_day, **every_region}


@pytest.mark.parametrize(
    ("name", "typed"), [("metrics/survey_responses", _typed_responses), ("metrics/transactions", _typed)]
)
def test_copy_gives_the_frame_the_driver_gives(loaded, name, typed):
    params = _params(name, DAY, DAY)
    with get_engine(loaded.warehouse_url).connect() as conn:
        by_driver = read_query_frame(conn, name, params, typed=typed)
        by_copy = read_query_frame(conn, name, params, typed=typed, as_text=True)
    assert len(by_driver) == (len(COMMENTS) + 1 if "responses" in name else 5)
    pd.testing.assert_frame_equal(by_copy, by_driver, check_exact=True)
    if "responses" in name:
        # What the text is, as loaded: the empty comment and the quote-only one are not confused with NULL.
        comments = dict(zip(by_copy["response_id"], by_copy["comment"], strict=True))
        assert [comments[f"R{i}"] for i in range(len(COMMENTS)) if COMMENTS[i]] == [c for c in COMMENTS if c]
        assert by_copy["nps"].isna().sum() == 1 and by_copy["csat"].isna().sum() == 5
    else:
        assert list(by_copy["amount"]) == [12.0, 19.99, -0.01, 123456.789, 0.1]  # by transaction_id
        assert by_copy["amount"].dtype == "float64"


def test_an_empty_read_has_the_typed_columns(loaded):
    params = _params("metrics/transactions", DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1))
    with get_engine(loaded.warehouse_url).connect() as conn:
        by_driver = read_query_frame(conn, "metrics/transactions", params, typed=_typed)
        by_copy = read_query_frame(conn, "metrics/transactions", params, typed=_typed, as_text=True)
    assert by_copy.empty and list(by_copy.columns) == list(by_driver.columns)
    assert str(by_copy["occurred_at"].dtype) == str(by_driver["occurred_at"].dtype)
