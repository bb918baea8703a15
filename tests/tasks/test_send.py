"""Report sending against a real SMTP server (aiosmtpd on a free local port), with the log on each engine.

The server can refuse a recipient for good (550) or for now (421 at RCPT, 451 at DATA) a set number of times,
require a login, and speak STARTTLS or implicit TLS with a certificate made here. What it receives is parsed
the way a mail client would, and the PDF is opened again with pypdf.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import ipaddress
import logging
import pickle
import smtplib
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr
from pypdf import PdfReader, PdfWriter

from loyalty.db import get_engine
from loyalty.schema import report_sends
from loyalty.settings import Settings
from reports.email import build_report_message
from tasks import send as send_module
from tasks.send import SendFailed, is_transient, read_sends, retry_delays, send_one, send_report
from tests.smtpserver import Server, free_port

WEEK = "2026-W47"
ANN, BOB = "ann@example.com", "bob@example.com"
SMTP_USER = "loyalty-reports"
# Distinctive enough that finding it anywhere can only mean it leaked.
PASSWORD = "Zq7-pw-NEVER-LOG-8f3e1c"
PAGES = 3


# --- the SMTP server (tests/smtpserver.py) -------------------------------------------------------------------


def accept_password(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (SMTP_USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp(start_smtp) -> Server:
    return start_smtp()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (cert, key) PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls(certificate, monkeypatch) -> ssl.SSLContext:
    """The server's TLS context; the client is made to trust this one certificate (and still checks it)."""
    cert_path, key_path = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    monkeypatch.setattr(send_module, "_tls_context", lambda: ssl.create_default_context(cafile=str(cert_path)))
    return server_context


# --- inputs ---------------------------------------------------------------------------------------------------


@pytest.fixture
def report_pdf(tmp_path) -> Path:
    writer = PdfWriter()
    for _ in range(PAGES):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    path = tmp_path / "reports" / WEEK / f"weekly-report-{WEEK}.pdf"
    path.parent.mkdir(parents=True)
    path.write_bytes(buffer.getvalue())
    return path


def mail_settings(settings: Settings, server: Server | None, **update: Any) -> Settings:
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port if server else free_port(),
        "smtp_security": "none",
        "smtp_sender": "Loyalty Reports <reports@example.com>",
        "smtp_user": None,
        "smtp_password": None,
        "smtp_timeout_seconds": 5.0,
        "retry_backoff_scale": 0.01,
        "report_recipients": [ANN, BOB],
    }
    values.update(update)
    return settings.model_copy(update=values)


def send(settings: Settings, pdf: Path, **overrides: Any) -> list[dict]:
    arguments: dict[str, Any] = {
        "week": WEEK,
        "region": None,
        "pdf_path": pdf,
        "subject": f"Weekly report {WEEK}",
        "html_summary": "<p>NPS up 4 points</p>",
        "text_summary": "NPS up 4 points",
    }
    arguments.update(overrides)
    return send_report.fn(settings, **arguments)


def logged_rows(settings: Settings) -> list[dict]:
    with get_engine(settings.warehouse_url).connect() as conn:
        rows = conn.execute(sa.select(report_sends).order_by(report_sends.c.send_id))
        return [dict(row._mapping) for row in rows]


def the_pdf(message: email.message.EmailMessage) -> email.message.EmailMessage:
    (attachment,) = list(message.iter_attachments())
    return attachment


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Backoff waits, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(send_module, "_sleep", waited.append)
    return waited


# --- sending --------------------------------------------------------------------------------------------------


def test_each_recipient_gets_their_own_message_with_a_pdf_that_opens(settings, smtp, report_pdf):
    config = mail_settings(settings, smtp)
    rows = send(config, report_pdf)

    assert sorted(r.rcpt_tos[0] for r in smtp.handler.received) == [ANN, BOB]
    for received in smtp.handler.received:
        assert len(received.rcpt_tos) == 1
        assert received.mail_from == "reports@example.com"
        message = received.parsed()
        assert [a.addr_spec for a in message["To"].addresses] == received.rcpt_tos
        assert message["Subject"] == f"Weekly report {WEEK}"
        assert message.get_body(preferencelist=("html",)).get_content().strip() == "<p>NPS up 4 points</p>"
        attachment = the_pdf(message)
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == f"weekly-report-{WEEK}.pdf"
        assert 'attachment; filename="weekly-report-2026-W47.pdf"' in attachment["Content-Disposition"]
        pdf_bytes = attachment.get_content()
        assert pdf_bytes == report_pdf.read_bytes()
        assert len(PdfReader(io.BytesIO(pdf_bytes)).pages) == PAGES

    stored = logged_rows(config)
    assert [(r["recipient"], r["status"], r["attempts"], r["error"]) for r in stored] == [
        (ANN, "sent", 1, None),
        (BOB, "sent", 1, None),
    ]
    ids_received = {r.rcpt_tos[0]: r.parsed()["Message-ID"] for r in smtp.handler.received}
    for row in stored:
        assert row["week"] == WEEK and row["region"] == ""
        assert row["message_id"] == ids_received[row["recipient"]]
        assert len(row["pdf_sha256"]) == 64
        assert row["run_id"] is None  # no flow run around a .fn() call
    assert [(r["recipient"], r["status"], r["message_id"]) for r in rows] == [
        (r["recipient"], r["status"], r["message_id"]) for r in stored
    ]
    assert all(r["attempted_at"].tzinfo is not None for r in rows)


@pytest.mark.parametrize(
    ("stage", "failures", "attempts", "waits"),
    [("rcpt", 1, 2, [0.02]), ("rcpt", 2, 3, [0.02, 0.04]), ("data", 2, 3, [0.02, 0.04])],
)
def test_transient_refusals_are_retried_with_scaled_backoff(
    settings, smtp, report_pdf, sleeps, stage, failures, attempts, waits
):
    getattr(smtp.handler, f"transient_{stage}")[BOB] = failures
    rows = send(mail_settings(settings, smtp), report_pdf)

    assert {r.rcpt_tos[0] for r in smtp.handler.received} == {ANN, BOB}
    assert [(r["recipient"], r["status"], r["attempts"]) for r in logged_rows(settings)] == [
        (ANN, "sent", 1),
        (BOB, "sent", attempts),
    ]
    assert [r["attempts"] for r in rows] == [1, attempts]
    assert sleeps == pytest.approx(waits)


def test_three_transient_refusals_give_up_and_record_the_last_reply(settings, smtp, report_pdf, sleeps):
    smtp.handler.transient_rcpt[BOB] = 5
    with pytest.raises(SendFailed) as failure:
        send(mail_settings(settings, smtp), report_pdf)

    assert smtp.handler.rcpt_calls[BOB] == 3
    (bob,) = [r for r in logged_rows(settings) if r["recipient"] == BOB]
    assert (bob["status"], bob["attempts"], bob["error"]) == ("failed", 3, "421 4.7.0 try again later")
    assert failure.value.failed == {BOB: "421 4.7.0 try again later"}


def test_a_permanent_550_fails_that_recipient_only_and_is_not_retried(settings, smtp, report_pdf, sleeps):
    smtp.handler.reject[BOB] = "550 5.1.1 mailbox unavailable"
    with pytest.raises(SendFailed) as failure:
        send(mail_settings(settings, smtp), report_pdf)

    assert str(failure.value) == (
        f"weekly report {WEEK} not sent to {BOB} (550 5.1.1 mailbox unavailable); sent to {ANN}"
    )
    assert failure.value.failed == {BOB: "550 5.1.1 mailbox unavailable"}
    assert failure.value.sent == [ANN]
    assert [r.rcpt_tos for r in smtp.handler.received] == [[ANN]]
    assert smtp.handler.rcpt_calls[BOB] == 1 and sleeps == []
    assert [(r["recipient"], r["status"], r["attempts"], r["error"]) for r in logged_rows(settings)] == [
        (ANN, "sent", 1, None),
        (BOB, "failed", 1, "550 5.1.1 mailbox unavailable"),
    ]


def test_the_order_of_recipients_does_not_matter_a_failure_first_still_lets_the_rest_through(
    settings, smtp, report_pdf
):
    smtp.handler.reject[ANN] = "550 5.1.1 mailbox unavailable"
    with pytest.raises(SendFailed, match=f"not sent to {ANN} .*; sent to {BOB}$"):
        send(mail_settings(settings, smtp), report_pdf)
    assert [r.rcpt_tos for r in smtp.handler.received] == [[BOB]]


# aiosmtpd warns that AUTH without TLS is unsafe: true, and why production uses starttls or ssl.
NO_TLS_WARNING = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@NO_TLS_WARNING
def test_the_smtp_password_never_appears_in_logs_errors_or_the_send_log(
    settings, start_smtp, report_pdf, caplog, capsys
):
    server = start_smtp(authenticator=accept_password, auth_required=True, auth_require_tls=False)
    server.handler.reject[BOB] = "550 5.1.1 mailbox unavailable"
    config = mail_settings(settings, server, smtp_user=SMTP_USER, smtp_password=SecretStr(PASSWORD))
    caplog.set_level(logging.DEBUG, logger="tasks.send")
    with pytest.raises(SendFailed) as failure:
        send(config, report_pdf)

    assert [(r.rcpt_tos, r.authenticated) for r in server.handler.received] == [([ANN], True)]
    assert caplog.records, "the per-recipient lines should have been logged"
    stored = logged_rows(config)
    assert len(stored) == 2
    out, err = capsys.readouterr()
    for text in [caplog.text, str(failure.value), repr(failure.value), repr(config), out, err, *map(repr, stored)]:
        assert PASSWORD not in text


@NO_TLS_WARNING
def test_a_wrong_password_is_a_final_failure_that_does_not_leak_the_password(
    settings, start_smtp, report_pdf, caplog, sleeps
):
    server = start_smtp(authenticator=accept_password, auth_required=True, auth_require_tls=False)
    wrong = PASSWORD + "-wrong"
    config = mail_settings(settings, server, smtp_user=SMTP_USER, smtp_password=SecretStr(wrong))
    caplog.set_level(logging.DEBUG, logger="tasks.send")
    with pytest.raises(SendFailed) as failure:
        send(config, report_pdf, recipients=[ANN])

    assert failure.value.failed == {ANN: "535 5.7.8 Authentication credentials invalid"}
    assert server.handler.received == [] and sleeps == []
    stored = logged_rows(config)
    assert [(r["status"], r["attempts"]) for r in stored] == [("failed", 1)]
    for text in [caplog.text, str(failure.value), *map(repr, stored)]:
        assert wrong not in text and PASSWORD not in text


def test_unset_smtp_host_is_a_clear_error_before_anything_is_sent(settings, report_pdf):
    config = mail_settings(settings, None, smtp_host=None)
    with pytest.raises(ValueError, match="^no SMTP host: set LOYALTY_SMTP_HOST$"):
        send(config, report_pdf)
    assert logged_rows(config) == []


@pytest.mark.parametrize("recipients", [[], ["  "]])
def test_no_recipients_is_a_clear_error(settings, smtp, report_pdf, recipients):
    config = mail_settings(settings, smtp, report_recipients=recipients)
    with pytest.raises(ValueError, match="no report recipients"):
        send(config, report_pdf)
    assert smtp.handler.received == []


def test_one_bad_address_stops_the_send_before_anyone_gets_it(settings, smtp, report_pdf):
    with pytest.raises(ValueError, match="exactly one email address"):
        send(mail_settings(settings, smtp), report_pdf, recipients=[ANN, f"{BOB}, eve@example.com"])
    assert smtp.handler.received == [] and logged_rows(settings) == []


def test_explicit_recipients_replace_the_configured_ones_and_duplicates_get_one_copy(settings, smtp, report_pdf):
    rows = send(mail_settings(settings, smtp), report_pdf, recipients=[BOB, BOB, "Bob <bob@example.com>"])
    assert [r["recipient"] for r in rows] == [BOB]
    assert [r.rcpt_tos for r in smtp.handler.received] == [[BOB]]


def test_connection_refused_is_retried_then_recorded(settings, report_pdf, sleeps):
    config = mail_settings(settings, None)  # a free port that nothing listens on
    with pytest.raises(SendFailed, match="ConnectionRefusedError") as failure:
        send(config, report_pdf, recipients=[ANN])
    assert failure.value.sent == []
    assert str(failure.value).endswith("; sent to nobody")
    assert [(r["status"], r["attempts"]) for r in logged_rows(settings)] == [("failed", 3)]
    assert sleeps == pytest.approx([0.02, 0.04])


def test_a_server_that_never_answers_times_out_and_is_retried(settings, report_pdf, sleeps):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog, but no greeting ever comes
        config = mail_settings(settings, None, smtp_port=silent.getsockname()[1], smtp_timeout_seconds=0.2)
        with pytest.raises(SendFailed, match="timed out"):
            send(config, report_pdf, recipients=[ANN])
    assert [(r["status"], r["attempts"]) for r in logged_rows(settings)] == [("failed", 3)]


def test_the_run_id_of_the_flow_run_is_recorded(settings, smtp, report_pdf, monkeypatch):
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "0b6f1c7e-run")
    rows = send(mail_settings(settings, smtp), report_pdf, recipients=[ANN])
    assert rows[0]["run_id"] == "0b6f1c7e-run"
    assert logged_rows(settings)[0]["run_id"] == "0b6f1c7e-run"


def test_read_sends_shows_the_latest_attempt_per_recipient_of_one_edition(settings, smtp, report_pdf):
    config = mail_settings(settings, smtp)
    smtp.handler.reject[BOB] = "550 5.1.1 mailbox unavailable"
    with pytest.raises(SendFailed):
        send(config, report_pdf)
    engine = get_engine(settings.warehouse_url)
    latest = read_sends(engine, WEEK)
    assert [(r["recipient"], r["status"], r["sends"]) for r in latest] == [(ANN, "sent", 1), (BOB, "failed", 1)]

    del smtp.handler.reject[BOB]
    send(config, report_pdf, recipients=[BOB])  # the resend to the one who missed it
    latest = read_sends(engine, WEEK)
    assert [(r["recipient"], r["status"], r["sends"], r["error"]) for r in latest] == [
        (ANN, "sent", 1, None),
        (BOB, "sent", 2, None),
    ]
    assert all(r["attempted_at"].tzinfo is not None for r in latest)
    send(config, report_pdf, region="North", recipients=[BOB, "cy@example.com"])
    assert [(r["recipient"], r["status"]) for r in read_sends(engine, WEEK)] == [(ANN, "sent"), (BOB, "sent")]
    assert [(r["recipient"], r["region"]) for r in read_sends(engine, WEEK, "North")] == [
        (BOB, "North"),
        ("cy@example.com", "North"),
    ]
    assert read_sends(engine, "2026-W46") == []


# --- the SMTP conversation: TLS and login ---------------------------------------------------------------------


@pytest.fixture
def plain_settings(tmp_path) -> Settings:
    """Settings for SMTP-only tests: send_one writes nothing to the warehouse."""
    return Settings(warehouse_url=f"sqlite:///{tmp_path / 'unused.db'}")


def _one_message(to: str = ANN) -> email.message.EmailMessage:
    return build_report_message(
        sender="reports@example.com",
        recipient=to,
        subject="s",
        html_summary="<p>h</p>",
        text_summary="t",
        pdf_bytes=b"%PDF-1.4\n%%EOF\n",
        pdf_filename="weekly-report-2026-W47.pdf",
    )


def test_starttls_then_login_over_the_encrypted_connection(plain_settings, start_smtp, tls):
    # auth_require_tls stays on: the server offers AUTH only after STARTTLS, so a login proves the upgrade.
    server = start_smtp(tls_context=tls, require_starttls=True, authenticator=accept_password, auth_required=True)
    config = mail_settings(
        plain_settings, server, smtp_security="starttls", smtp_user=SMTP_USER, smtp_password=SecretStr(PASSWORD)
    )
    send_one(config, _one_message())
    assert [(r.rcpt_tos, r.authenticated) for r in server.handler.received] == [([ANN], True)]


@NO_TLS_WARNING
def test_implicit_tls(plain_settings, start_smtp, tls):
    # aiosmtpd counts only STARTTLS as TLS when deciding to offer AUTH; here the whole connection is TLS
    # (the server speaks nothing else), so auth_require_tls is switched off rather than the login skipped.
    server = start_smtp(ssl_context=tls, authenticator=accept_password, auth_required=True, auth_require_tls=False)
    config = mail_settings(
        plain_settings, server, smtp_security="ssl", smtp_user=SMTP_USER, smtp_password=SecretStr(PASSWORD)
    )
    send_one(config, _one_message())
    assert [(r.rcpt_tos, r.authenticated) for r in server.handler.received] == [([ANN], True)]


def test_an_untrusted_certificate_is_refused(plain_settings, start_smtp, certificate):
    cert_path, key_path = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    server = start_smtp(tls_context=server_context)
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        send_one(mail_settings(plain_settings, server, smtp_security="starttls"), _one_message())
    assert not is_transient(refused.value)
    assert server.handler.received == []


def test_starttls_required_but_not_offered_fails_without_retry(settings, smtp, report_pdf, sleeps):
    with pytest.raises(SendFailed, match="SMTPNotSupportedError"):
        send(mail_settings(settings, smtp, smtp_security="starttls"), report_pdf, recipients=[ANN])
    assert sleeps == [] and smtp.handler.received == []
    assert [(r["status"], r["attempts"]) for r in logged_rows(settings)] == [("failed", 1)]


# --- the retry policy and the exception -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),
        (TimeoutError("timed out"), True),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True),
        (smtplib.SMTPRecipientsRefused({ANN: (421, b"try later")}), True),
        (smtplib.SMTPRecipientsRefused({ANN: (550, b"no such user")}), False),
        (smtplib.SMTPDataError(451, b"try later"), True),
        (smtplib.SMTPDataError(554, b"rejected"), False),
        (smtplib.SMTPSenderRefused(553, b"sender rejected", "reports@example.com"), False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (smtplib.SMTPAuthenticationError(454, b"temporary auth failure"), True),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), False),
        (ssl.SSLCertVerificationError("certificate verify failed"), False),
    ],
)
def test_which_errors_are_transient(error, transient):
    assert is_transient(error) is transient


def test_retry_delays_scale():
    assert retry_delays(1.0) == [2.0, 4.0]
    assert retry_delays(0.5) == [1.0, 2.0]


def test_send_failed_survives_pickling():
    message = "weekly report 2026-W47 not sent to b@x.com (550 x); sent to a@x.com"
    error = SendFailed(message, {"b@x.com": "550 x"}, ["a@x.com"])
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.failed, copy.sent) == (str(error), error.failed, error.sent)


def test_the_task_retries_nothing_itself_and_has_a_timeout():
    # A task-level retry would re-send to everyone who already got the report; retries are per recipient.
    assert send_report.name == "send-report"
    assert send_report.retries == 0
    assert send_report.timeout_seconds
