"""Scheduled runs take their logical date from the scheduled start time, in the business time zone.

Prefect's runtime hands back its own DateTime type; the day worked out from it must be a plain
``datetime.date``, or sqlite3 refuses to bind it (every scheduled nightly run on SQLite failed that way).
"""

from __future__ import annotations

import sqlite3
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from loyalty.rundate import resolve_delivery_day

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("scheduled", "day"),
    [
        ("2026-11-23T02:00:00+00:00", date(2026, 11, 22)),  # GMT
        ("2026-07-01T01:00:00+00:00", date(2026, 6, 30)),  # 02:00 BST on 1 July
        ("2026-03-29T01:00:00+00:00", date(2026, 3, 28)),  # the spring-forward night, 02:00 BST
    ],
)
def test_a_scheduled_run_loads_the_business_day_before_its_start(monkeypatch, scheduled, day):
    import prefect.runtime.flow_run
    from prefect.types._datetime import parse_datetime

    # what the runtime returns inside a scheduled run: Prefect's own DateTime
    monkeypatch.setattr(prefect.runtime.flow_run, "scheduled_start_time", parse_datetime(scheduled), raising=False)
    resolved = resolve_delivery_day(None, LONDON)
    assert resolved == day
    assert type(resolved) is date
    sqlite3.connect(":memory:").execute("select ?", (resolved,))  # binds: a plain date


def test_a_given_day_wins_over_the_schedule():
    assert resolve_delivery_day("2026-01-05", LONDON) == date(2026, 1, 5)


@pytest.mark.parametrize(
    ("scheduled", "week"),
    [
        ("2026-11-23T06:00:00+00:00", "2026-W47"),  # Monday 06:00 GMT: last week
        ("2026-11-22T23:30:00+00:00", "2026-W46"),  # Sunday 23:30 GMT: W47 is not over yet
        ("2026-03-29T23:30:00+00:00", "2026-W13"),  # 00:30 BST on Monday 30 March: W13 ended on Sunday
        ("2027-01-04T06:00:00+00:00", "2026-W53"),  # 2026 has 53 ISO weeks
    ],
)
def test_a_scheduled_weekly_run_reports_the_last_complete_iso_week(monkeypatch, scheduled, week):
    import prefect.runtime.flow_run
    from prefect.types._datetime import parse_datetime

    from loyalty.rundate import resolve_report_week

    monkeypatch.setattr(prefect.runtime.flow_run, "scheduled_start_time", parse_datetime(scheduled), raising=False)
    assert resolve_report_week(None, LONDON) == week
    assert resolve_report_week("2026-W01", LONDON) == "2026-W01"
    with pytest.raises(ValueError, match="YYYY-Www"):
        resolve_report_week("2026-47", LONDON)
