"""The report email as a message: one recipient, a text and an HTML summary, the PDF attached.

Pure: builds an :class:`email.message.EmailMessage` and sends nothing (sending is ``tasks/send.py``).
Every message goes to exactly one recipient, so a failure names exactly who did not get the report and no
recipient sees the others' addresses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr


def single_address(value: str) -> str:
    """The one bare address in ``value`` (``"Ann <a@x.com>"`` -> ``"a@x.com"``); ValueError for none or several."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"not an email address (line break): {value!r}")
    found = [addr for _, addr in getaddresses([value]) if addr]
    if len(found) != 1 or "@" not in found[0] or found[0].startswith("@") or found[0].endswith("@"):
        raise ValueError(f"expected exactly one email address, got {value!r}")
    return found[0]


def _message_id_domain(sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2].strip()
    # make_msgid looks the host name up when given no domain: that is I/O, and leaks the machine name.
    return domain or "localhost"


def build_report_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    html_summary: str,
    text_summary: str,
    pdf_bytes: bytes,
    pdf_filename: str,
    sent_at: datetime | None = None,
) -> EmailMessage:
    """multipart/mixed: [multipart/alternative: text/plain, text/html], application/pdf attachment.

    ``html_summary`` must already be rendered and escaped by the caller; it is put in as given.
    ``sent_at`` (default now; naive means UTC) sets the Date header, in UTC.
    """
    single_address(sender)
    single_address(recipient)
    if not pdf_bytes:
        raise ValueError("the report PDF is empty")
    if not pdf_filename or any(ch in pdf_filename for ch in '/\\"\r\n'):
        raise ValueError(f"unusable attachment file name {pdf_filename!r}")

    # SMTP policy: CRLF line ends on the wire; header values with line breaks are refused (no header injection).
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    when = sent_at or datetime.now(UTC)
    message["Date"] = format_datetime((when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC))
    message["Message-ID"] = make_msgid(domain=_message_id_domain(sender))
    message.set_content(text_summary)
    message.add_alternative(html_summary, subtype="html")
    message.add_attachment(pdf_bytes, maintype="application", subtype="pdf", filename=pdf_filename)
    return message
