"""Business days and their instants: one place that turns a day in the business zone into UTC bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def day_bounds_utc(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a business day as naive UTC datetimes (DST days are 23 or 25 hours long)."""
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    return start, end


def business_yesterday(moment: datetime, zone: ZoneInfo) -> date:
    """The business day before the one ``moment`` falls on: what a nightly run processes."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).date() - timedelta(days=1)


def utc_now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
