"""Issue 14: report file names per region (finding 9), file modes (finding 15), sends that fail before the
SMTP conversation are recorded (finding 11), and SMTP credentials never go out in clear text (finding 7)."""

from __future__ import annotations

import io
import re
import smtplib
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from pypdf import PdfWriter

from loyalty.db import get_engine
from loyalty.schema import report_sends
from loyalty.settings import Settings
from tasks import send
from tasks.render import _write_atomically, region_slug, report_paths
from tasks.send import SendFailed, send_report

WEEK = "2026-W47"

# --- finding 9: one file per region ---------------------------------------------------------------------------


def test_regions_that_fold_to_the_same_name_get_their_own_files(tmp_path):
    settings = Settings(reports_dir=tmp_path)
    crafted = f"north-{region_slug('North').rsplit('-', 1)[1]}"  # a region named like North's slug
    regions = ["North", "north", "NORTH", "Nörth", "north ", crafted, "\u202eHTRON", "../north", ""]
    paths = [report_paths(settings, WEEK, r)[0] for r in regions]
    assert len(set(paths)) == len(regions)
    # Case-insensitive file systems too: no two differ only by case.
    assert len({p.name.lower() for p in paths}) == len(regions)
    assert all(p.parent == tmp_path / WEEK for p in paths)


@given(st.lists(st.text(max_size=20), min_size=2, max_size=6, unique=True))
def test_distinct_region_names_never_share_a_file_name(regions):
    slugs = [region_slug(r) for r in regions]
    assert len(set(slugs)) == len(regions)
    assert all(re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{12}", s) for s in slugs)


# --- finding 15: file modes -----------------------------------------------------------------------------------


def test_report_files_are_written_with_the_configured_mode(tmp_path):
    default = Settings()
    assert default.report_file_mode_bits == 0o644
    _write_atomically(tmp_path / "a.pdf", b"%PDF", default.report_file_mode_bits)
    assert stat.S_IMODE((tmp_path / "a.pdf").stat().st_mode) == 0o644
    group_only = Settings(report_file_mode="640")
    _write_atomically(tmp_path / "a.pdf", b"%PDF-2", group_only.report_file_mode_bits)  # replaced: new mode
    assert stat.S_IMODE((tmp_path / "a.pdf").stat().st_mode) == 0o640
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("mode", ["999", "rw-r--r--", "4755", "64", ""])
def test_a_mode_that_is_not_plain_permission_bits_is_refused(mode):
    with pytest.raises(ValidationError):
        Settings(report_file_mode=mode)


# --- finding 11: every send attempt is recorded ---------------------------------------------------------------


@pytest.fixture
def report_pdf(tmp_path) -> Path:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    path = tmp_path / "reports" / WEEK / "weekly-report.pdf"
    path.parent.mkdir(parents=True)
    path.write_bytes(buffer.getvalue())
    return path


def _mail(settings: Settings, port: int, **update) -> Settings:
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_sender": "reports@example.com",
        "smtp_timeout_seconds": 5.0,
        "retry_backoff_scale": 0.01,
        "report_recipients": ["ann@example.com", "bob@example.com"],
    }
    return settings.model_copy(update={**values, **update})


def _rows(settings: Settings) -> list[dict]:
    with get_engine(settings.warehouse_url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(report_sends).order_by("send_id"))]


@pytest.mark.parametrize("region", ["North\r\nBcc: evil@example.com", "North\x1b[2J", "\u202eHTRON"])
def test_names_with_line_breaks_or_controls_are_sent_with_a_safe_subject(settings, start_smtp, report_pdf, region):
    server = start_smtp()
    config = _mail(settings, server.port, report_company="ACME\r\nX-Injected: 1")
    rows = send_report.fn(
        config,
        week=WEEK,
        region=region,
        pdf_path=report_pdf,
        subject=f"{config.report_company}: weekly loyalty report {WEEK} \u2013 {region}",
        html_summary="<p>ok</p>",
        text_summary="ok",
    )
    assert [r["status"] for r in rows] == ["sent", "sent"]
    assert [r["region"] for r in _rows(config)] == [region, region]  # the log keeps the exact name
    received = server.handler.received
    assert len(received) == 2
    message = received[0].parsed()
    # No header was injected: the line breaks stayed inside the Subject, as visible escapes.
    assert sorted(message.keys()) == ["Content-Type", "Date", "From", "MIME-Version", "Message-ID", "Subject", "To"]
    subject = str(message["Subject"])
    assert "\r" not in subject and "\n" not in subject and "\x1b" not in subject and "\u202e" not in subject
    assert subject.startswith("ACME\\x0d\\x0aX-Injected: 1: weekly loyalty report 2026-W47")


def test_a_message_that_cannot_be_built_is_recorded_for_every_recipient(settings, start_smtp, report_pdf):
    server = start_smtp()
    config = _mail(settings, server.port)
    with pytest.raises(SendFailed) as failed:
        send_report.fn(
            config,
            week=WEEK,
            region=None,
            pdf_path=report_pdf,
            subject="weekly report",
            html_summary="<p>ok</p>",
            text_summary="ok",
            pdf_filename="bad\r\nname.pdf",
        )
    rows = _rows(config)
    assert [(r["recipient"], r["status"], r["attempts"]) for r in rows] == [
        ("ann@example.com", "failed", 0),
        ("bob@example.com", "failed", 0),
    ]
    assert all("could not be built" in r["error"] for r in rows)
    assert set(failed.value.failed) == {"ann@example.com", "bob@example.com"}
    assert server.handler.received == []


# --- finding 7: SMTP credentials in clear text -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allow", "refused"),
    [
        ("smtp.example.com", False, True),
        ("10.0.0.5", False, True),
        ("smtp.example.com", True, False),
        ("127.0.0.1", False, False),
        ("::1", False, False),
        ("localhost", False, False),
        ("127.0.0.1.example.com", False, True),
    ],
)
def test_plaintext_credentials_are_refused_off_loopback(host, allow, refused):
    settings = Settings(
        smtp_host=host, smtp_security="none", smtp_user="reports", smtp_password="pw", smtp_allow_plaintext_auth=allow
    )
    assert (settings.smtp_plaintext_auth_refusal() is not None) == refused
    # Without credentials, or with TLS, there is nothing to refuse.
    assert Settings(smtp_host=host, smtp_security="none").smtp_plaintext_auth_refusal() is None
    assert Settings(smtp_host=host, smtp_security="starttls", smtp_user="u").smtp_plaintext_auth_refusal() is None


def test_a_refused_login_is_recorded_and_no_connection_is_made(settings, report_pdf, monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr(smtplib, "SMTP", lambda *a, **k: opened.append("connect"))
    config = _mail(
        settings, 25, smtp_host="smtp.example.com", smtp_user="reports", smtp_password=SecretStr("Zq7-secret")
    )
    monkeypatch.setattr(send, "_sleep", lambda _: None)
    with pytest.raises(SendFailed):
        send_report.fn(
            config,
            week=WEEK,
            region=None,
            pdf_path=report_pdf,
            subject="weekly report",
            html_summary="<p>ok</p>",
            text_summary="ok",
        )
    rows = _rows(config)
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 1), ("failed", 1)]  # final: no retry
    assert all("clear text" in r["error"] and "Zq7-secret" not in r["error"] for r in rows)
    assert opened == []
