"""Render: read what the weekly report needs from the warehouse, then write its PDF, HTML and JSON files.

Reading is one task (the warehouse is the outside world: retried on transient errors); writing is another.
Between them the report is worked out by pure functions in ``reports`` (context, HTML), so the only side
effects here are the reads and the file writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from analytics.weeks import parse_iso_week
from loyalty.db import get_engine, load_sql
from loyalty.settings import Settings
from reports.context import DQ_FRAMES, MAX_PROBLEM_FILES, TREND_WEEKS, ReportInputs, build_context
from reports.html import render_report_html
from reports.options import ReportOptions
from reports.outputs import ReportPaths, edition_name, report_paths, write_atomic
from reports.pdf import render_pdf
from tasks.metrics import compute_weeks
from tasks.retry import retry_on_transient

log = logging.getLogger(__name__)


class UnknownRegion(ValueError):
    """A regional edition was asked for a region the warehouse does not know."""


@dataclass(frozen=True)
class RenderedReport:
    """What a rendered report is, for the artifact, the email and the CLI."""

    week: str
    region: str | None
    edition: str
    paths: ReportPaths
    pages: int
    pdf_sha256: str
    summary: dict[str, Any]  # the JSON sidecar: meta, headline, tiles and sentences


def known_regions(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [row.region for row in conn.execute(load_sql("report/regions"))]


def read_data_quality(engine: sa.Engine, week: str) -> dict[str, pd.DataFrame]:
    """The file ledger, run ledger and quarantine of the week's delivery days (load_date in the week)."""
    first_day, last_day = parse_iso_week(week)
    params = {"first_day": first_day, "last_day": last_day}
    frames = {}
    with engine.connect() as conn:
        for name in DQ_FRAMES:
            extra = {"row_limit": MAX_PROBLEM_FILES + 100} if name == "problem_files" else {}
            frames[name] = pd.read_sql(load_sql(f"report/{name}"), conn, params={**params, **extra})
    return frames


@task(
    name="load-report-inputs",
    task_run_name="load-report-inputs-{week}",
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=5),
    retry_condition_fn=retry_on_transient,
    timeout_seconds=1800,
    cache_policy=NO_CACHE,
)
def load_report_inputs(settings: Settings, week: str, region: str | None = None) -> ReportInputs:
    """The metric frames of ``week`` (computed from the warehouse, for one region when given, with 12 trend
    weeks) and the data-quality frames of its delivery days."""
    engine = get_engine(settings.warehouse_url)
    if region is not None:
        regions = known_regions(engine)
        if region not in regions:
            known = ", ".join(regions) or "none yet"
            raise UnknownRegion(f"unknown region {region!r}; the warehouse knows: {known}")
    frames = compute_weeks(engine, [week], settings, region=region, trend_weeks=TREND_WEEKS)
    return ReportInputs(week=week, region=region, frames=frames, data_quality=read_data_quality(engine, week))


def render_report(inputs: ReportInputs, options: ReportOptions) -> tuple[dict[str, Any], str]:
    """The report's context and standalone HTML (pure)."""
    context = build_context(
        inputs,
        company=options.company,
        currency=options.currency,
        churn_days=options.churn_days,
        baseline_weeks=options.baseline_weeks,
        retain_top_n=options.retain_top_n,
    )
    return context, render_report_html(context)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, dt.date | dt.datetime | Path):
        return str(value)
    return value


@task(name="write-report", task_run_name="write-report-{inputs.week}", timeout_seconds=900, cache_policy=NO_CACHE)
def write_report(inputs: ReportInputs, options: ReportOptions) -> RenderedReport:
    """Render the report and write its PDF, HTML and JSON summary atomically into the week's folder."""
    context, html = render_report(inputs, options)
    edition = edition_name(inputs.region)
    pdf, pages = render_pdf(html, identifier=f"{inputs.week}/{edition}")
    paths = report_paths(options.reports_dir, inputs.week, inputs.region)
    digest = hashlib.sha256(pdf).hexdigest()
    summary = _json_ready(
        {
            "meta": context["meta"],
            "headline": context["headline"],
            "summary": context["summary"],
            "tiles": context["tiles"],
            "pages": pages,
            "pdf_sha256": digest,
            "attachment_name": paths.attachment_name,
        }
    )
    write_atomic(paths.html, html.encode("utf-8"))
    write_atomic(paths.pdf, pdf)
    write_atomic(paths.json, (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    log.info("weekly report %s (%s): %d pages, %s", inputs.week, edition, pages, paths.pdf)
    return RenderedReport(inputs.week, inputs.region, edition, paths, pages, digest, summary)


def read_rendered_report(options: ReportOptions, week: str, region: str | None) -> RenderedReport | None:
    """A report already rendered for the week and edition (for a re-send), or None when its files are missing."""
    paths = report_paths(options.reports_dir, week, region)
    if not (paths.pdf.is_file() and paths.json.is_file()):
        return None
    summary = json.loads(paths.json.read_text(encoding="utf-8"))
    digest = hashlib.sha256(paths.pdf.read_bytes()).hexdigest()
    return RenderedReport(week, region, edition_name(region), paths, int(summary.get("pages", 0)), digest, summary)
