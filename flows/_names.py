"""Flow run names: one function per deployed flow, from the run's parameters and its scheduled start.

A run's name is what the UI lists, what an alert names and what an operator searches for, so it says which day,
week or range the run is about: ``nightly-etl-2026-11-30``, ``weekly-report-2026-W48``,
``backfill-2026-11-01-to-2026-11-28``. The same functions name a run twice: when its flow starts (the flows'
``flow_run_name``) and, before that, as soon as ``loyalty serve`` or ``loyalty worker`` sees it waiting
(``cli/server.py``), so a run the scheduler or the UI's run form created never shows Prefect's random name
(``poised-manticore``) while it waits. A name typed in the run form is replaced too, as Prefect itself replaces
it when the flow starts. They read nothing but their arguments: given the same parameters and scheduled start,
both give the same name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.arguments import parse_day_argument
from loyalty.rundate import resolve_delivery_day, resolve_report_week
from loyalty.textsafe import region_slug


def _day(value: Any) -> date | None:
    """A day parameter as the flows accept it (a date, or YYYY-MM-DD exactly), else ValueError: a run created
    with schema checks switched off must not carry whatever it was given in its name."""
    if value is None or isinstance(value, date):
        return value
    return parse_day_argument(value, "day")


def nightly_run_name(parameters: Mapping[str, Any], scheduled_start: datetime | None, zone: ZoneInfo) -> str:
    day = resolve_delivery_day(_day(parameters.get("delivery_day")), zone, scheduled_start)
    return f"nightly-etl-{day.isoformat()}"


def weekly_report_run_name(parameters: Mapping[str, Any], scheduled_start: datetime | None, zone: ZoneInfo) -> str:
    week = resolve_report_week(parameters.get("week"), zone, scheduled_start)
    region = parameters.get("region")
    return f"weekly-report-{week}" + (f"-{region_slug(region)}" if region else "")


def _range(parameters: Mapping[str, Any]) -> str:
    start, end = _day(parameters.get("start")), _day(parameters.get("end"))
    if start is None or end is None:
        raise ValueError("a backfill names its start and end days")
    return f"{start.isoformat()}-to-{end.isoformat()}"


def backfill_run_name(parameters: Mapping[str, Any], scheduled_start: datetime | None, zone: ZoneInfo) -> str:
    return f"backfill-{_range(parameters)}"


def chunk_run_name(parameters: Mapping[str, Any], scheduled_start: datetime | None, zone: ZoneInfo) -> str:
    return f"backfill-chunk-{_range(parameters)}"


RUN_NAMES: dict[str, Callable[[Mapping[str, Any], datetime | None, ZoneInfo], str]] = {
    "nightly-etl": nightly_run_name,
    "weekly-report": weekly_report_run_name,
    "backfill": backfill_run_name,
    "backfill-chunk": chunk_run_name,
}


def expected_run_name(
    flow_name: str, parameters: Mapping[str, Any], scheduled_start: datetime | None, zone: ZoneInfo
) -> str | None:
    """The name a run of ``flow_name`` gets when it starts, or None for another flow or when its parameters are
    not what the flow takes (a day not YYYY-MM-DD, a week not YYYY-Www, a backfill without both days): such a
    run fails on them when it starts, under the name it has."""
    naming = RUN_NAMES.get(flow_name)
    if naming is None:
        return None
    try:
        return naming(parameters, scheduled_start, zone)
    except (TypeError, ValueError):
        return None


def named_by(naming: Callable[[Mapping[str, Any], datetime | None, ZoneInfo], str]) -> Callable[[], str]:
    """A flow's ``flow_run_name``: ``naming`` applied to the running flow run's parameters and scheduled start."""

    def name() -> str:
        from prefect import runtime

        from loyalty.settings import get_settings

        return naming(runtime.flow_run.parameters, None, get_settings().business_zone)

    return name
