"""The weekly flow: read the week's metrics -> render the PDF and HTML -> publish artifacts -> email the PDF."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows._names import named_by, weekly_report_run_name
from flows._ops import refuse_ignored_job_variables, report_link
from flows._params import OptionalIsoWeek
from loyalty.rundate import resolve_report_week
from loyalty.settings import Settings, get_settings
from reports.summaries import kpi_markdown, text_summary
from tasks.load import prepare_warehouse
from tasks.published import record_published
from tasks.render import ReportFiles, region_slug, render_report
from tasks.report_data import find_weeks_without_metrics, read_report_data
from tasks.send import send_report


@task(name="publish-report-artifacts", cache_policy=NO_CACHE)
def publish_report(files: ReportFiles) -> None:
    key = "weekly-report" if files.region is None else f"weekly-report-{region_slug(files.region)}"
    summary = kpi_markdown(files)
    create_markdown_artifact(key=f"{key}-kpis", markdown=summary, description=f"KPIs of the weekly report {files.week}")
    # The link's description is the KPI summary too, so the artifact is useful without opening the PDF.
    create_link_artifact(
        key=f"{key}-pdf",
        link=report_link(get_settings(), files.pdf_path),
        link_text=f"{files.pdf_path.name} ({files.week})",
        description=summary,
    )


def send_edition(settings: Settings, files: ReportFiles, recipients: list[str] | None = None) -> list[dict]:
    """Email the rendered PDF (SendFailed names whoever did not get it)."""
    edition = "" if files.region is None else f" \u2013 {files.region}"
    return send_report(
        settings,
        week=files.week,
        region=files.region,
        pdf_path=files.pdf_path,
        pdf_filename=files.attachment_name,
        subject=f"{settings.report_company}: weekly loyalty report {files.week}{edition}",
        html_summary=files.email_html,
        text_summary=text_summary(files),
        recipients=recipients,
    )


@flow(name="weekly-report", flow_run_name=named_by(weekly_report_run_name))
def weekly_report(
    week: OptionalIsoWeek = None, region: str | None = None, send: bool = False, recipients: list[str] | None = None
) -> dict:
    """Render the weekly report (the last complete ISO week in the business time zone without ``week``).

    A failed send fails the run and names who did not get it.

    Args:
        week: ISO week to report, e.g. 2026-W47. Empty: the last complete week in the business time zone.
        region: A regional manager's edition, holding only that region's data. Empty: the company-wide edition.
        send: Email the PDF to LOYALTY_REPORT_RECIPIENTS (or to the recipients below) when some are set. Off:
            render only. The Monday schedule turns it on; a run from this form sends only if you turn it on.
        recipients: Email addresses to send to instead of LOYALTY_REPORT_RECIPIENTS.
    """
    refuse_ignored_job_variables()
    return _report_steps(week, region, send, recipients, call=lambda step, *args: step(*args), log=get_run_logger())


def render_without_a_flow_run(week: str | None = None, region: str | None = None) -> dict:
    """The same steps and files as ``weekly_report(send=False)``, run as plain functions: no Prefect server, no
    flow run, no artifacts. For ``loyalty report render`` when no server is configured or running, where
    starting Prefect's temporary server would take longer than the report."""
    plain = lambda step, *args: step.fn(*args)  # noqa: E731
    return _report_steps(week, region, False, None, call=plain, log=logging.getLogger(__name__), publish=False)


def _report_steps(
    week: str | None,
    region: str | None,
    send: bool,
    recipients: list[str] | None,
    *,
    call: Callable[..., Any],
    log: Any,
    publish: bool = True,
) -> dict:
    """The weekly report's steps in order; ``call(task, *args)`` runs a step as a task or as a plain function."""
    settings = get_settings()
    week = resolve_report_week(week, settings.business_zone)
    call(prepare_warehouse, settings)
    if region is None and (missing := call(find_weeks_without_metrics, settings, [week])):
        log.info("no stored metrics for %s: computing them", week)
        from tasks.metrics import recompute_metrics  # the statistics libraries: only when computing

        call(recompute_metrics, settings, missing)
    data = call(read_report_data, settings, week, region)
    files = call(render_report, settings, data)
    call(record_published, settings, week, region, files.published)
    if publish:  # artifacts live on a Prefect server
        call(publish_report, files)
    log.info("weekly report %s: %s and %s (%d pages)", week, files.pdf_path, files.html_path, files.pages)
    sent: list[dict] = []
    if send and (recipients or settings.report_recipients):
        sent = send_edition(settings, files, recipients or None)
    elif send:
        log.info("no LOYALTY_REPORT_RECIPIENTS set: the report is not emailed")
    return {
        "week": week,
        "region": region,
        "pdf": str(files.pdf_path),
        "html": str(files.html_path),
        "pages": files.pages,
        "seconds": round(files.seconds, 2),
        "sent": [d["recipient"] for d in sent if d["status"] == "sent"],
    }
