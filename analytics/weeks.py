"""ISO-week labels ("YYYY-Www") and week arithmetic shared by every analytics module.

Weeks are ISO 8601 weeks (Monday to Sunday) computed from the business day, never from UTC timestamps,
so a late-evening purchase lands in the week the store saw it.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

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

# ASCII digits only, matched whole: \d would take full-width digits, and $ a trailing newline.
_LABEL = re.compile(r"([0-9]{4})-W([0-9]{2})")


def iso_week_label(day: dt.date | dt.datetime | pd.Timestamp | np.datetime64) -> str:
    """Return the ISO week label ("2026-W47") of a calendar day."""
    if isinstance(day, np.datetime64):
        day = pd.Timestamp(day)
    if isinstance(day, dt.datetime):  # pd.Timestamp is a datetime subclass
        day = day.date()
    if not isinstance(day, dt.date):
        raise TypeError(f"expected a date, got {type(day).__name__}")
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def parse_iso_week(label: str) -> tuple[dt.date, dt.date]:
    """Return the (Monday, Sunday) dates of an ISO week label such as "2026-W47".

    Raises ValueError when the label is malformed or the week does not exist in that year
    (for example "2026-W53": 2026 has 53 ISO weeks, 2025 has only 52).
    """
    if not isinstance(label, str):
        raise ValueError(f"ISO week label must be a string like '2026-W47', got {label!r}")
    match = _LABEL.fullmatch(label)
    if match is None:
        raise ValueError(f"invalid ISO week label {label!r}: expected the form 'YYYY-Www', e.g. '2026-W47'")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        monday = dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        weeks_in_year = dt.date(year, 12, 28).isocalendar()[1]  # 28 December is always in the last week
        raise ValueError(
            f"invalid ISO week label {label!r}: ISO year {year} has weeks 01 to {weeks_in_year:02d}"
        ) from None
    return monday, monday + dt.timedelta(days=6)


def shift_iso_week(label: str, weeks: int) -> str:
    """Return the label `weeks` ISO weeks after `label` (negative goes back)."""
    monday, _ = parse_iso_week(label)
    return iso_week_label(monday + dt.timedelta(weeks=weeks))


def previous_iso_weeks(label: str, count: int) -> list[str]:
    """Return the `count` weeks immediately before `label`, oldest first (the label itself excluded)."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return [shift_iso_week(label, -offset) for offset in range(count, 0, -1)]


def iso_week_range(first: str, last: str) -> list[str]:
    """Return every ISO week label from `first` to `last`, both included, in order."""
    first_monday, _ = parse_iso_week(first)
    last_monday, _ = parse_iso_week(last)
    if last_monday < first_monday:
        raise ValueError(f"week range is reversed: {first!r} comes after {last!r}")
    span = (last_monday - first_monday).days // 7
    return [iso_week_label(first_monday + dt.timedelta(weeks=offset)) for offset in range(span + 1)]


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
