"""Read what the weekly report shows: the week's metric frames and its data-quality counts. Reads only.

Whether a week's metrics are stored is asked here (:func:`find_weeks_without_metrics`); computing them is the
metrics task's job, called by the flow. The company-wide edition reads the stored metric tables, so its
figures are exactly those of `loyalty metrics --week ... --json`. A regional edition computes the metric
frames on the fly from that region's rows only (the same recipe,
:func:`analytics.bundle.compute_metric_frames`), so no other region's comment or customer can reach it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from prefect.cache_policies import NO_CACHE

from analytics.parameters import CASE_FRAMES, METRIC_FRAMES
from analytics.weeks import parse_iso_week
from loyalty.db import get_engine, load_sql
from loyalty.settings import Settings
from loyalty.stored import TREND_WEEKS, read_previous_published, read_stored_frames
from loyalty.textsafe import display_line
from tasks.retry import retrying_task

log = logging.getLogger(__name__)


class ReportInputError(ValueError):
    """The report cannot be made as asked (unknown region, a week with no data): the caller's mistake."""


@dataclass
class ReportData:
    week: str
    region: str | None
    frames: dict[str, pd.DataFrame]
    data_quality: dict[str, list[dict]] = field(default_factory=dict)


def stored_weeks(engine: sa.Engine, weeks: list[str]) -> set[str]:
    """The weeks among ``weeks`` that have metric rows stored (every computed week stores its KPI tiles)."""
    if not weeks:
        return set()
    bounds = {"first_week": min(weeks), "last_week": max(weeks)}
    with engine.connect() as conn:
        return set(conn.execute(load_sql("report/weeks_with_metrics"), bounds).scalars()) & set(weeks)


def read_stored_case_frames(engine: sa.Engine, week: str, region: str) -> dict[str, pd.DataFrame]:
    """The stored RETAIN case tables of ``week`` for a regional edition: only that region's cases and
    follow-up rows (cases are company-wide data: a case belongs to its customer's region); the outreach
    effect stays company-wide (the edition says so)."""
    stored = read_stored_frames(engine, week, CASE_FRAMES)
    cases = stored["weekly_cases"]
    stored["weekly_cases"] = cases.loc[cases["region"] == region].reset_index(drop=True)
    followup = stored["weekly_followup"]
    regional = (followup["dimension"] == "region") & (followup["segment_value"] == region)
    teams = set(stored["weekly_cases"]["team"].dropna())
    regional |= (followup["dimension"] == "team") & followup["segment_value"].isin(teams)
    stored["weekly_followup"] = followup.loc[regional].reset_index(drop=True)
    return stored


def known_regions(engine: sa.Engine) -> list[str]:
    """Regions of customers and survey responses, for checking a --region."""
    with engine.connect() as conn:
        rows = conn.execute(load_sql("report/regions")).scalars().all()
    return sorted({r for r in rows if r})


def check_region(engine: sa.Engine, region: str) -> None:
    """ReportInputError naming the known regions when ``region`` is not one of them."""
    regions = known_regions(engine)
    if region not in regions:
        shown = ", ".join(display_line(r) for r in regions) or "none"  # regions are data: controls escaped
        raise ReportInputError(f"unknown region '{display_line(region)}'; the warehouse has: {shown}")


def read_data_quality(engine: sa.Engine, week: str) -> dict[str, list[dict]]:
    """Counts of the week's delivery days: rows and files per entity, quarantine reasons, problem files."""
    first_day, last_day = parse_iso_week(week)
    params = {"first_day": first_day, "last_day": last_day}
    out: dict[str, list[dict]] = {}
    with engine.connect() as conn:
        queries = {
            "delivery_counts": "status/entity_totals",
            "quarantine_reasons": "report/quarantine_reasons",
            "problem_files": "report/problem_files",
            "failed_runs": "report/failed_runs",
        }
        for key, name in queries.items():
            out[key] = [dict(row._mapping) for row in conn.execute(load_sql(name), params)]
    return out


@retrying_task(
    name="find-weeks-without-metrics",
    retries=2,
    delay=12,
    cache_policy=NO_CACHE,
)
def find_weeks_without_metrics(settings: Settings, weeks: list[str]) -> list[str]:
    """The weeks among ``weeks`` whose metric tables hold no rows yet, in order."""
    stored = stored_weeks(get_engine(settings.warehouse_url), weeks)
    return [week for week in weeks if week not in stored]


@retrying_task(
    name="read-report-data",
    retries=2,
    delay=12,
    timeout_seconds=1800,
    cache_policy=NO_CACHE,
)
def read_report_data(settings: Settings, week: str, region: str | None = None) -> ReportData:
    """Everything one edition of the report shows.

    The company-wide edition needs the week's stored metrics (the flow computes missing ones first); without
    them it raises :class:`ReportInputError`.
    """
    engine = get_engine(settings.warehouse_url)
    if region is not None:
        check_region(engine, region)
        from tasks.metrics import compute_weeks  # computing imports the statistics libraries; reading does not

        frames = compute_weeks(engine, [week], settings, region=region, trend_weeks=TREND_WEEKS)
        frames["published_previous"] = read_previous_published(engine, week, region)
        frames.update(read_stored_case_frames(engine, week, region))
        # Data-quality counts are pipeline-wide (files hold every region): the regional edition leaves them out.
        return ReportData(week=week, region=region, frames=frames, data_quality={})
    if week not in stored_weeks(engine, [week]):
        raise ReportInputError(f"no stored metrics for {week}: compute them first (loyalty backfill, or the flow)")
    # The names only: building loyalty.schema.METRIC_TABLES would import every analytics module
    frames = read_stored_frames(engine, week, METRIC_FRAMES)
    frames["published_previous"] = read_previous_published(engine, week, None)
    return ReportData(week=week, region=None, frames=frames, data_quality=read_data_quality(engine, week))
