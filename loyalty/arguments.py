"""Checking what an operator types: dates, ISO weeks, region names. Used by the CLI and the flows' parameters.

Exact ASCII forms only, matched whole (``re.fullmatch`` with ``[0-9]``, nothing stripped): ``\\d`` also matches
full-width and other Unicode digits ("２０２６-W48"), and ``strip()`` or ``$`` would let a trailing newline
through ("2026-W48\\n"), which then labels junk metric rows and an empty report. The error messages show the
value with its control characters escaped.
"""

from __future__ import annotations

import re
from datetime import date

from loyalty.textsafe import display_line

DAY_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WEEK_PATTERN = re.compile(r"([0-9]{4})-W([0-9]{2})")


def _shown(value: object) -> str:
    return f"'{display_line(value)[:60]}'"


def parse_day_argument(value: str, option: str = "date") -> date:
    """A calendar day written exactly ``YYYY-MM-DD`` in ASCII digits; ValueError naming ``option`` otherwise."""
    if not isinstance(value, str) or DAY_PATTERN.fullmatch(value) is None:
        raise ValueError(f"{option} must be a date like 2026-11-22, got {_shown(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{option} must be a date like 2026-11-22, got {_shown(value)}") from None


def parse_week_argument(value: str, option: str = "week") -> str:
    """An ISO week label written exactly ``YYYY-Www`` in ASCII digits, that exists; returned unchanged."""
    from analytics.week_labels import parse_iso_week

    if not isinstance(value, str) or WEEK_PATTERN.fullmatch(value) is None:
        raise ValueError(f"{option}: must be an ISO week like 2026-W47, got {_shown(value)}")
    try:
        parse_iso_week(value)
    except ValueError as exc:
        raise ValueError(f"{option}: {display_line(exc)}") from None
    return value
