"""Send: email one weekly report edition to each recipient over SMTP, and keep the send log.

Owns the SMTP conversation (:func:`send_one`), the per-recipient retry policy, the ``send-report`` task and
reading the log back (:func:`read_sends`). Each recipient gets their own message and their own row in
``report_sends``; one recipient failing never stops the others. The SMTP password is a secret: it is
never logged, never put in an exception and never written to the log table.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from loyalty.db import get_engine, load_sql
from loyalty.schema import report_sends
from loyalty.settings import Settings
from loyalty.textsafe import display_line
from loyalty.timeutil import utc_now_naive
from reports.email import build_report_message, single_address

log = logging.getLogger(__name__)

ATTEMPTS = 3
# Seconds before the 2nd and 3rd attempts, multiplied by settings.retry_backoff_scale.
BACKOFF_SECONDS = (2.0, 4.0)
NO_SMTP_HOST = "no SMTP host: set LOYALTY_SMTP_HOST"
NO_RECIPIENTS = "no report recipients: set LOYALTY_REPORT_RECIPIENTS or pass recipients"

# Tests swap these for a recorder and a context that trusts their own certificate.
_sleep: Callable[[float], None] = time.sleep


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


class PlaintextAuthRefused(smtplib.SMTPException):
    """SMTP credentials would go out unencrypted (see Settings.smtp_plaintext_auth_refusal): final, not retried."""


class SendFailed(RuntimeError):
    """Some recipients did not get the report; the message names each of them and why, and who did get it."""

    def __init__(self, message: str, failed: dict[str, str] | None = None, sent: list[str] | None = None):
        super().__init__(message)
        self.failed: dict[str, str] = dict(failed or {})
        self.sent: list[str] = list(sent or [])

    def __reduce__(self) -> tuple[Any, ...]:
        # Prefect may pickle a task's exception; keep the details across the trip.
        return (type(self), (str(self), self.failed, self.sent))


def edition_label(week: str, region: str | None) -> str:
    return f"weekly report {week}" + (f" ({region})" if region else "")


def retry_delays(scale: float) -> list[float]:
    """The waits between attempts: 2 s then 4 s, times LOYALTY_RETRY_BACKOFF_SCALE."""
    return [seconds * scale for seconds in BACKOFF_SECONDS][: ATTEMPTS - 1]


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: the server or network briefly away, or a 4xx reply. 5xx and bad config are final."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, PlaintextAuthRefused):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        # smtplib reports a reply it could not read as code -1: the connection, not a verdict.
        return exc.smtp_code < 0 or 400 <= exc.smtp_code < 500
    # SMTPServerDisconnected also covers read timeouts (smtplib wraps them); ssl.SSLError is an OSError but a
    # certificate or protocol mismatch will not fix itself, so only refused/reset connections and timeouts count.
    return isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError | TimeoutError)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def describe_error(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """One line for the log, the exception and the send table, with every secret blanked out."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = " ".join(text.split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _secrets(settings: Settings) -> tuple[str, ...]:
    return (settings.smtp_password.get_secret_value(),) if settings.smtp_password else ()


def _close(client: smtplib.SMTP) -> None:
    """QUIT politely; a failure after the server took the message must not make it look unsent."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def send_one(settings: Settings, message: EmailMessage) -> None:
    """Send one message over one SMTP connection, as settings.smtp_security says; raises what smtplib raises."""
    if not settings.smtp_host:
        raise ValueError(NO_SMTP_HOST)
    if refusal := settings.smtp_plaintext_auth_refusal():
        raise PlaintextAuthRefused(refusal)
    timeout = settings.smtp_timeout_seconds
    client: smtplib.SMTP
    if settings.smtp_security == "ssl":
        client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout, context=_tls_context())
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    try:
        if settings.smtp_security == "starttls":
            client.starttls(context=_tls_context())
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            client.login(settings.smtp_user, password)
        refused = client.send_message(message)
        if refused:  # only possible with several recipients; kept so a partial refusal is never silent
            raise smtplib.SMTPRecipientsRefused(refused)
    finally:
        _close(client)


def _send_with_retries(settings: Settings, message: EmailMessage, recipient: str) -> tuple[int, str | None]:
    """(attempts made, None if sent else the last error described without secrets)."""
    delays = retry_delays(settings.retry_backoff_scale)
    secrets = _secrets(settings)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            send_one(settings, message)
            return attempt, None
        except (smtplib.SMTPException, OSError) as exc:
            error = describe_error(exc, secrets)
            if attempt == ATTEMPTS or not is_transient(exc):
                return attempt, error
            log.debug("attempt %d to %s failed, retrying in %.2fs: %s", attempt, recipient, delays[attempt - 1], error)
            _sleep(delays[attempt - 1])
    raise AssertionError("unreachable")  # pragma: no cover


def _run_logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except MissingContextError:
        return log


def _run_id() -> str | None:
    from prefect.runtime import flow_run

    return flow_run.id


def _recipient_list(settings: Settings, recipients: list[str] | None) -> list[str]:
    chosen = settings.report_recipients if recipients is None else recipients
    # Check every address before sending any, so a typo cannot leave the list half sent.
    unique = list(dict.fromkeys(single_address(r.strip()) for r in chosen if r.strip()))
    if not unique:
        raise ValueError(NO_RECIPIENTS)
    return unique


def _as_utc(value: datetime) -> datetime:
    # SQLite gives back naive UTC, PostgreSQL aware: callers always get aware UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@task(name="send-report", timeout_seconds=1800, cache_policy=NO_CACHE, retries=0)
def send_report(
    settings: Settings,
    *,
    week: str,
    region: str | None,
    pdf_path: Path,
    subject: str,
    html_summary: str,
    text_summary: str,
    recipients: list[str] | None = None,
    pdf_filename: str | None = None,
) -> list[dict]:
    """Email the PDF to each recipient (default settings.report_recipients), one message and one log row each.

    Retries are per recipient (3 attempts, backoff 2 s and 4 s x retry_backoff_scale, transient errors only),
    so the task itself has none: a task retry would re-send to those who already got it. Raises
    :class:`SendFailed` after every recipient has been tried and recorded if any did not get it.
    Returns the rows written, in recipient order. ``pdf_filename`` names the attachment (default the file's).
    """
    if not settings.smtp_host:
        raise ValueError(NO_SMTP_HOST)
    addresses = _recipient_list(settings, recipients)
    pdf_path = Path(pdf_path)
    pdf_bytes = pdf_path.read_bytes()
    pdf_sha256 = hashlib.sha256(pdf_bytes).hexdigest()
    edition = edition_label(week, region)
    engine = get_engine(settings.warehouse_url)
    run_id = _run_id()
    logger = _run_logger()

    # Names in the subject are data (a region, the company setting): a CR/LF would make the header refuse the
    # whole message, so control and bidi characters are shown escaped, as everywhere else text is displayed.
    subject = display_line(subject)
    rows: list[dict] = []
    for recipient in addresses:
        attempted_at = utc_now_naive()
        # Built once per recipient: a retry re-sends the same Message-ID, so a server that took the first
        # try after all lets the mail client drop the duplicate.
        message: EmailMessage | None = None
        error: str | None
        try:
            message = build_report_message(
                sender=settings.smtp_sender,
                recipient=recipient,
                subject=subject,
                html_summary=html_summary,
                text_summary=text_summary,
                pdf_bytes=pdf_bytes,
                pdf_filename=pdf_filename or pdf_path.name,
            )
        except (ValueError, TypeError) as exc:  # recorded like any failed send: every attempt leaves a row
            attempts, error = 0, f"the message could not be built ({type(exc).__name__}: {display_line(exc)[:200]})"
        else:
            attempts, error = _send_with_retries(settings, message, recipient)
        row = {
            "week": week,
            "region": region or "",
            "recipient": recipient,
            "status": "failed" if error else "sent",
            "attempts": attempts,
            "error": error,
            "message_id": message["Message-ID"] if message is not None else None,
            "pdf_sha256": pdf_sha256,
            "run_id": run_id,
            "attempted_at": attempted_at,
        }
        # One row per recipient as soon as it is known: a crash later still leaves who already got it.
        with engine.begin() as conn:
            conn.execute(report_sends.insert().values(**row))
        rows.append({**row, "attempted_at": _as_utc(attempted_at)})
        if error:
            logger.warning("%s not sent to %s after %d attempt(s): %s", edition, recipient, attempts, error)
        else:
            logger.info("%s sent to %s (attempts=%d, message_id=%s)", edition, recipient, attempts, row["message_id"])

    failed = {row["recipient"]: row["error"] for row in rows if row["status"] == "failed"}
    if failed:
        sent = [row["recipient"] for row in rows if row["status"] == "sent"]
        reasons = ", ".join(f"{recipient} ({error})" for recipient, error in failed.items())
        raise SendFailed(
            f"{edition} not sent to {reasons}; sent to {', '.join(sent) or 'nobody'}",
            failed,
            sent,
        )
    return rows


def read_sends(engine: sa.Engine, week: str, region: str | None = None) -> list[dict]:
    """The latest attempt per recipient of one edition (region None: the company-wide one), by recipient.

    Each row also carries ``sends``: how many times that recipient's send was recorded for the edition.
    """
    with engine.connect() as conn:
        query = load_sql("send/latest_sends").columns(attempted_at=report_sends.c.attempted_at.type)
        rows = [dict(row._mapping) for row in conn.execute(query, {"week": week, "region": region or ""})]
    for row in rows:
        row["attempted_at"] = _as_utc(row["attempted_at"])
    return rows
