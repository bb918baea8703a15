"""The logical date of a run: the day a nightly run processes and the week a weekly run reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from loyalty.timeutil import business_yesterday


def _scheduled_start() -> datetime:
    from prefect import runtime

    moment = runtime.flow_run.scheduled_start_time
    if moment is None:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(str(moment)) if not isinstance(moment, datetime) else moment
    # Prefect hands back its own DateTime subclass, whose .date() is not a datetime.date that database
    # drivers can bind (sqlite3: "type 'Date' is not supported"): continue with a plain datetime.
    return datetime.fromtimestamp(moment.timestamp(), UTC)


def _plain(day: date) -> date:
    return date(day.year, day.month, day.day)


def resolve_delivery_day(
    delivery_day: date | str | None, zone: ZoneInfo, scheduled_start: datetime | None = None
) -> date:
    """The given day, or yesterday in the business zone as of the run's scheduled start time (a plain date).

    ``scheduled_start`` is that time when the caller knows it (a run not yet started); by default it is read
    from the running flow run.
    """
    if delivery_day is None:
        return _plain(business_yesterday(scheduled_start or _scheduled_start(), zone))
    if isinstance(delivery_day, datetime):
        return _plain(delivery_day.date())
    if isinstance(delivery_day, date):
        return _plain(delivery_day)
    return date.fromisoformat(str(delivery_day))


def last_complete_week(moment: datetime, zone: ZoneInfo) -> str:
    """The ISO week that ended on the last Sunday before ``moment``'s day in ``zone`` (never the running week)."""
    from analytics.week_labels import iso_week_label

    today = moment.astimezone(zone).date()
    return iso_week_label(today - timedelta(days=today.isoweekday()))


def resolve_report_week(week: str | None, zone: ZoneInfo, scheduled_start: datetime | None = None) -> str:
    """The given ISO week (checked), or the last complete one as of the run's scheduled start in ``zone``
    (``scheduled_start``, or the running flow run's)."""
    if week is None:
        return last_complete_week(scheduled_start or _scheduled_start(), zone)
    from analytics.week_labels import parse_iso_week

    parse_iso_week(str(week))  # ValueError names the expected form
    return str(week)
