"""Issue 14, finding 6: --week and every CLI date take exact ASCII forms only."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.weeks import parse_iso_week
from loyalty.arguments import parse_day_argument, parse_week_argument

REPORTED_WEEKS = [
    "2026-W48\n",
    "２０２６-W48",
    " 2026-W48",
    "2026-W48 ",
    "2026-w48",
    "٢٠٢٦-W48",
    "2026-W4８",
    "2026-W48\x00",
]
REPORTED_DAYS = ["2026-11-22\n", "２０２６-11-22", " 2026-11-22", "2026-11-22 ", "20261122", "2026-11-22T00:00"]


@pytest.mark.parametrize("value", REPORTED_WEEKS)
def test_near_miss_weeks_are_refused_everywhere(value):
    with pytest.raises(ValueError):
        parse_week_argument(value, "--week")
    with pytest.raises(ValueError):  # the flows' and the analytics' own parser too
        parse_iso_week(value)


@pytest.mark.parametrize("value", REPORTED_DAYS)
def test_near_miss_days_are_refused(value):
    with pytest.raises(ValueError):
        parse_day_argument(value, "--date")


def test_good_values_pass_unchanged():
    assert parse_week_argument("2026-W48") == "2026-W48"
    assert parse_day_argument("2026-11-22") == date(2026, 11, 22)
    with pytest.raises(ValueError, match="weeks 01 to 52"):
        parse_week_argument("2025-W53")


@given(st.text(max_size=12))
def test_a_week_is_accepted_only_in_its_exact_ascii_form(value):
    exact = re.fullmatch(r"[0-9]{4}-W[0-9]{2}", value) is not None
    try:
        parse_week_argument(value)
        accepted = True
    except ValueError as exc:
        accepted = False
        assert "\n" not in str(exc) and "\x1b" not in str(exc)  # the echo of the value is escaped
    assert accepted <= exact


@given(st.text(max_size=12))
def test_a_day_is_accepted_only_in_its_exact_ascii_form(value):
    exact = re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) is not None
    try:
        parse_day_argument(value)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted <= exact


@pytest.mark.parametrize("argv", [["metrics", "--week", "2026-W48\n"], ["report", "render", "--week", "２０２６-W48"]])
def test_the_cli_says_one_line_and_exits_2(argv):
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert "ISO week like 2026-W47" in result.output
