"""Render one edition of the weekly report to files: ``<reports_dir>/<YYYY-Www>/weekly-report.pdf`` and ``.html``.

A regional edition is ``weekly-report-<region-slug>.pdf``/``.html`` in the same week folder. Each file is
written to a temporary name and moved into place, so a crash never leaves a half-written report, and one
week's folder never holds another week's files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from analytics.parameters import MetricParameters
from loyalty.settings import Settings
from loyalty.textsafe import region_slug
from reports.context import ReportOptions, build_report_context
from reports.render import AssetFetcher, html_to_pdf_with_pages, render_email_html, render_html
from tasks.report_data import ReportData

log = logging.getLogger(__name__)


@dataclass
class ReportFiles:
    week: str
    region: str | None
    pdf_path: Path
    html_path: Path
    pdf_sha256: str
    pages: int
    seconds: float
    kpis: list[dict] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    email_html: str = ""
    title: str = ""
    refused_urls: list[str] = field(default_factory=list)
    published: list[dict] = field(default_factory=list)  # headline figures, kept in published_figures

    @property
    def attachment_name(self) -> str:
        return f"{self.pdf_path.stem}-{self.week}.pdf"


def report_paths(settings: Settings, week: str, region: str | None) -> tuple[Path, Path]:
    folder = settings.reports_dir / week
    stem = "weekly-report" if region is None else f"weekly-report-{region_slug(region)}"
    return folder / f"{stem}.pdf", folder / f"{stem}.html"


def _write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write to a temporary name, set ``mode`` (mkstemp creates 0600: only the pipeline's user could read the
    report), then move into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def report_options(settings: Settings) -> ReportOptions:
    return ReportOptions(
        company=settings.report_company,
        currency=settings.reporting_currency,
        comment_chars=settings.report_comment_chars,
        churn_days=settings.churn_days,
        baseline_weeks=settings.baseline_weeks,
        baseline_gap_weeks=MetricParameters().baseline_gap_weeks,
    )


def render_files(settings: Settings, data: ReportData) -> ReportFiles:
    """Build the context, render HTML and PDF, write both; returns where they are and what they say."""
    started = time.perf_counter()
    context = build_report_context(
        data.frames,
        week=data.week,
        region=data.region,
        data_quality_counts=data.data_quality if data.region is None else None,
        options=report_options(settings),
    )
    fetcher = AssetFetcher()
    pdf, pages = html_to_pdf_with_pages(render_html(context, medium="pdf"), fetcher=fetcher)
    html = render_html(context, medium="html").encode("utf-8")
    pdf_path, html_path = report_paths(settings, data.week, data.region)
    _write_atomically(pdf_path, pdf, settings.report_file_mode_bits)
    _write_atomically(html_path, html, settings.report_file_mode_bits)
    seconds = time.perf_counter() - started
    log.info(
        "report %s%s: %d pages in %.1f s: %s",
        data.week,
        f" ({data.region})" if data.region else "",
        pages,
        seconds,
        pdf_path,
    )
    return ReportFiles(
        week=data.week,
        region=data.region,
        pdf_path=pdf_path,
        html_path=html_path,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        pages=pages,
        seconds=seconds,
        kpis=[{k: v for k, v in t.items() if k != "raw"} for t in context["kpis"]],
        summary=list(context["summary"]),
        email_html=render_email_html(context),
        title=context["meta"]["title"],
        refused_urls=list(fetcher.refused),
        published=list(context["published"]),
    )


@task(name="render-report", timeout_seconds=900, cache_policy=NO_CACHE)
def render_report(settings: Settings, data: ReportData) -> ReportFiles:
    """Write the PDF and HTML of one edition of the weekly report."""
    return render_files(settings, data)
