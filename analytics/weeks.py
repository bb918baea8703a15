"""ISO-week labels ("YYYY-Www") and week arithmetic shared by every analytics module.

The label functions live in :mod:`analytics.week_labels` (standard library only) and are re-exported here
with the vectorised helpers over pandas Series.

Weeks are ISO 8601 weeks (Monday to Sunday) computed from the business day, never from UTC timestamps,
so a late-evening purchase lands in the week the store saw it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analytics.week_labels import iso_week_label as _label_of_day
from analytics.week_labels import iso_week_range, parse_iso_week, previous_iso_weeks, shift_iso_week

__all__ = [
    "date_of",
    "day_number",
    "day_numbers_of",
    "iso_week_label",
    "iso_week_labels",
    "iso_week_range",
    "monday_of",
    "parse_iso_week",
    "previous_iso_weeks",
    "shift_iso_week",
]


def iso_week_label(day: dt.date | dt.datetime | pd.Timestamp | np.datetime64) -> str:
    """Return the ISO week label ("2026-W47") of a calendar day; numpy datetimes too."""
    if isinstance(day, np.datetime64):
        day = pd.Timestamp(day)
    return _label_of_day(day)


def iso_week_labels(days: pd.Series) -> pd.Series:
    """Vectorised iso_week_label for a Series of business days (python dates or datetime64).

    Returns a string Series aligned with `days`; missing days give missing labels.
    """
    day_numbers = day_numbers_of(days)
    labels = np.full(len(day_numbers), None, dtype=object)
    present = day_numbers != _MISSING_DAY
    # A year of responses holds only ~365 distinct days, so label each distinct day once.
    unique_days, inverse = np.unique(day_numbers[present], return_inverse=True)
    unique_labels = np.array([iso_week_label(_EPOCH + dt.timedelta(days=int(d))) for d in unique_days], dtype=object)
    labels[present] = unique_labels[inverse] if len(unique_days) else []
    return pd.Series(labels, index=days.index, dtype="str", name="week")


# --- day-number helpers used across the package (days since 1970-01-01, int64) ---

_EPOCH = dt.date(1970, 1, 1)
_MISSING_DAY = np.iinfo(np.int64).min
MISSING_DAY = _MISSING_DAY  # what day_numbers_of gives a missing day


def day_numbers_of(days: pd.Series) -> np.ndarray:
    """Return business days as int64 days since 1970-01-01; missing values become _MISSING_DAY."""
    converted = pd.to_datetime(days)
    if isinstance(converted.dtype, pd.DatetimeTZDtype):
        # A tz-aware "business day" is already local wall time; keep its calendar date.
        converted = converted.dt.tz_localize(None)
    values = converted.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    numbers = values.astype(np.int64)
    numbers[np.isnat(values)] = _MISSING_DAY
    return numbers


def day_number(day: dt.date | dt.datetime | pd.Timestamp | str) -> int:
    """Return one calendar day as days since 1970-01-01."""
    stamp = pd.Timestamp(day)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return int(stamp.to_datetime64().astype("datetime64[D]").astype(np.int64))


def date_of(day_number_value: int | np.integer) -> dt.date:
    """Inverse of day_number."""
    return _EPOCH + dt.timedelta(days=int(day_number_value))


def monday_of(day_numbers: np.ndarray) -> np.ndarray:
    """Return the day number of the ISO Monday on or before each day (1970-01-01 was a Thursday)."""
    return day_numbers - (day_numbers + 3) % 7
