"""ISO-week labels ("YYYY-Www") and their arithmetic, in the standard library only.

Kept apart from :mod:`analytics.weeks` (which adds the vectorised helpers over pandas Series) so that a read
of stored metrics, such as `loyalty metrics --json`, can name weeks without importing pandas or numpy.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["iso_week_label", "iso_week_range", "parse_iso_week", "previous_iso_weeks", "shift_iso_week"]

# ASCII digits only, matched whole: \d would take full-width digits, and $ a trailing newline.
_LABEL = re.compile(r"([0-9]{4})-W([0-9]{2})")


def iso_week_label(day: dt.date | dt.datetime) -> str:
    """Return the ISO week label ("2026-W47") of a calendar day (a datetime, pd.Timestamp included, by its date)."""
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
