"""Deliver: email the rendered report to each recipient, one task per recipient, and log every attempt.

Each attempt (first try or retry) appends a row to ``report_deliveries``. Transient failures (a 4xx answer,
a dropped connection, a timeout) are retried by Prefect with exponential backoff; permanent ones (a 5xx
answer such as 550, failed authentication) fail at once. Recipients who already have this week's edition
are skipped unless a re-send to everyone is asked for, so re-running a delivery never mails anyone twice.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from loyalty.db import get_engine
from loyalty.settings import Settings
from reports.delivery_log import delivery_status, ensure_delivery_log, record_attempt
from reports.mail import build_message, classify_failure, send_one
from reports.options import ReportOptions
from tasks.render import RenderedReport

log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """One recipient did not get the report (this attempt)."""

    def __init__(self, recipient: str, reason: str, *, transient: bool) -> None:
        super().__init__(f"{recipient}: {reason}")
        self.recipient = recipient
        self.reason = reason
        self.transient = transient


class ReportNotDelivered(RuntimeError):
    """The run's visible failure: names everyone who did not get the report."""


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry a transient SMTP failure, never a refused address or bad credentials."""
    try:
        state.result()
    except DeliveryError as exc:
        return exc.transient
    except Exception:
        return False
    return False


def retry_delays(options: ReportOptions) -> list[float]:
    """Exponential backoff: base, 2 x base, 4 x base, ... seconds, one per retry."""
    return [options.retry_delay_seconds * 2**i for i in range(max(options.retries, 0))]


def pending_recipients(
    settings: Settings, options: ReportOptions, report: RenderedReport, *, everyone: bool
) -> list[str]:
    """The configured recipients who should get this week's edition now (all of them when ``everyone``)."""
    if everyone:
        return list(options.recipients)
    engine = get_engine(settings.warehouse_url)
    delivered = {s.recipient for s in delivery_status(engine, report.week, report.edition) if s.is_delivered}
    return [r for r in options.recipients if r not in delivered]


@task(
    name="send-report-email",
    task_run_name="send-report-{recipient}",
    retries=3,
    retry_delay_seconds=[30, 60, 120],
    retry_condition_fn=retry_if_transient,
    timeout_seconds=300,
    cache_policy=NO_CACHE,
)
def send_report_email(
    settings: Settings, options: ReportOptions, report: RenderedReport, recipient: str, run_id: str
) -> dict[str, Any]:
    """One attempt to email the report to ``recipient``; the attempt is logged whatever its outcome."""
    engine = get_engine(settings.warehouse_url)
    ensure_delivery_log(engine)
    pdf = report.paths.pdf.read_bytes()
    digest = hashlib.sha256(pdf).hexdigest()
    message = build_message(
        report.summary,
        pdf,
        attachment_name=report.paths.attachment_name,
        sender=options.smtp.sender,
        recipient=recipient,
    )
    logged = {
        "week": report.week,
        "edition": report.edition,
        "recipient": recipient,
        "attachment_name": report.paths.attachment_name,
        "pdf_sha256": digest,
        "run_id": run_id,
    }
    try:
        message_id = send_one(options.smtp, message, recipient)
    except Exception as exc:
        failure = classify_failure(exc)
        attempt = record_attempt(engine, **logged, status="failed", smtp_code=failure.code, error=failure.message)
        log.warning(
            "weekly report %s (%s) to %s: attempt %d failed via %s: %s",
            report.week,
            report.edition,
            recipient,
            attempt,
            options.smtp.describe(),
            failure.message,
        )
        raise DeliveryError(recipient, failure.message, transient=failure.transient) from None
    attempt = record_attempt(engine, **logged, status="sent", message_id=message_id)
    log.info("weekly report %s (%s) sent to %s (attempt %d)", report.week, report.edition, recipient, attempt)
    return {"recipient": recipient, "status": "sent", "attempt": attempt, "message_id": message_id}
