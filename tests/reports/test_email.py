"""The report email as built, before any SMTP: its MIME tree, headers, one recipient, and the PDF bytes intact."""

from __future__ import annotations

import email
import email.policy
import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader, PdfWriter

from reports.email import build_report_message, single_address


def _pdf(pages: int = 2) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _message(**overrides):
    arguments = {
        "sender": "Loyalty Reports <reports@example.com>",
        "recipient": "ann@example.com",
        "subject": "Weekly report 2026-W47",
        "html_summary": "<p>NPS &lt;up&gt; 4 points</p>",
        "text_summary": "NPS <up> 4 points",
        "pdf_bytes": _pdf(),
        "pdf_filename": "weekly-report-2026-W47.pdf",
    }
    arguments.update(overrides)
    return build_report_message(**arguments)


def _reparse(message) -> email.message.EmailMessage:
    """What a receiving client sees: the message as wire bytes, parsed again."""
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def test_mime_tree_is_mixed_alternative_text_html_then_pdf():
    parsed = _reparse(_message())
    assert parsed.get_content_type() == "multipart/mixed"
    body, attachment = parsed.get_payload()
    assert body.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in body.get_payload()] == ["text/plain", "text/html"]
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content_disposition() == "attachment"
    assert 'filename="weekly-report-2026-W47.pdf"' in attachment["Content-Disposition"]
    assert attachment.get_filename() == "weekly-report-2026-W47.pdf"


def test_headers_name_one_sender_one_recipient_and_a_message_id_on_the_sender_domain():
    parsed = _reparse(_message(sent_at=datetime(2026, 11, 23, 7, 30, tzinfo=UTC)))
    assert parsed["From"] == "Loyalty Reports <reports@example.com>"
    assert parsed["To"] == "ann@example.com"
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ann@example.com"]
    assert parsed["Cc"] is None and parsed["Bcc"] is None
    assert parsed["Subject"] == "Weekly report 2026-W47"
    assert parsed["Message-ID"].startswith("<") and parsed["Message-ID"].endswith("@example.com>")
    assert parsed["Date"].datetime == datetime(2026, 11, 23, 7, 30, tzinfo=UTC)


def test_each_message_gets_its_own_message_id():
    assert _message()["Message-ID"] != _message()["Message-ID"]


def test_html_is_put_in_as_given_and_text_alternative_is_plain():
    parsed = _reparse(_message())
    html = parsed.get_body(preferencelist=("html",))
    text = parsed.get_body(preferencelist=("plain",))
    # The caller escaped it already: no second escaping (&amp;lt;) and no unescaping.
    assert html.get_content().strip() == "<p>NPS &lt;up&gt; 4 points</p>"
    assert text.get_content().strip() == "NPS <up> 4 points"


def test_attachment_bytes_round_trip_and_open_as_the_same_pdf():
    pdf = _pdf(pages=3)
    parsed = _reparse(_message(pdf_bytes=pdf))
    (attachment,) = list(parsed.iter_attachments())
    received = attachment.get_content()
    assert received == pdf
    assert len(PdfReader(io.BytesIO(received)).pages) == 3


def test_non_ascii_subject_and_summary_survive():
    parsed = _reparse(_message(subject="Rapport hebdo 2026-W47 — Île-de-France", text_summary="Satisfaction: élevée"))
    assert parsed["Subject"] == "Rapport hebdo 2026-W47 — Île-de-France"
    assert "élevée" in parsed.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.parametrize(
    "recipient",
    ["a@example.com, b@example.com", "a@example.com; b@example.com", "", "not-an-address", "a@example.com\nBcc: x@y.z"],
)
def test_anything_but_exactly_one_recipient_is_refused(recipient):
    with pytest.raises(ValueError):
        _message(recipient=recipient)


def test_header_injection_in_the_subject_is_refused():
    with pytest.raises(ValueError):
        _message(subject="Weekly report\r\nBcc: everyone@example.com")


@pytest.mark.parametrize("filename", ["", "../weekly.pdf", 'we"ekly.pdf'])
def test_unusable_attachment_names_are_refused(filename):
    with pytest.raises(ValueError):
        _message(pdf_filename=filename)


def test_empty_pdf_is_refused():
    with pytest.raises(ValueError, match="empty"):
        _message(pdf_bytes=b"")


@pytest.mark.parametrize(
    ("value", "address"), [("a@x.com", "a@x.com"), ("Ann <a@x.com>", "a@x.com"), (" a@x.com ", "a@x.com")]
)
def test_single_address_returns_the_bare_address(value, address):
    assert single_address(value) == address
