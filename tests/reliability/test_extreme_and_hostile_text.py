"""Extreme and hostile comments through the whole path: landing file -> validation -> warehouse -> metrics ->
report (PDF and HTML) -> email -> logs, on SQLite and PostgreSQL.

Cases 10, 13 and 14 of the reliability suite: a 100,000-character comment, a 30,000-character word with no
spaces, emoji and right-to-left text load unchanged and the report renders within its time bound with the
comment cut; HTML, script, file:// and http:// URLs and SQL-looking text stay inert everywhere; and the same
week renders to the same report text twice.
"""

from __future__ import annotations

import io
import logging
import re
import time
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from pypdf import PdfReader

from loyalty.db import get_engine
from loyalty.settings import Settings
from tasks.metrics import recompute_metrics, weeks_of_days
from tasks.render import render_files
from tasks.report_data import read_report_data
from tasks.send import send_report
from tests.helpers import run_day, write_csv

DELIVERY_DAY = date(2026, 11, 15)  # one late-arriving file holds nine weeks of responses
WEEK = "2026-W46"  # 9..15 November
RENDER_BOUND_SECONDS = 90  # generous: a shared 2-core machine; uncut, the long word alone takes ~20 s

# Each group shares a rising theme ("lost voucher", "damaged parcel"), and the report quotes each theme's three
# latest comments: the order below puts the ones the assertions need among them.
LONG_COMMENT = "refund lost voucher " + ("slow delivery and no reply " * 4000)[:100_000]  # 100,000+ characters
NO_SPACE_WORD = "refund lost voucher " + "x" * 30_000
EMOJI = "refund lost voucher, still missing 😡😡 📦❌ — never again 💔"
RTL = "refund lost voucher لم يصل المبلغ بعد עדיין לא קיבלתי את הכסף"


def _hostile(port: int) -> list[str]:
    # "damaged parcel" rises too: a second theme, so the report quotes more of these than one term's three.
    return [
        'refund damaged parcel <a href="javascript:alert(1)">click</a> <iframe src="//evil"></iframe>',
        f"refund damaged parcel, see http://127.0.0.1:{port}/beacon and file:///etc/shadow",
        "refund damaged parcel '; DROP TABLE customers; -- and 1=1",
        f'refund damaged parcel <img src="file:///etc/passwd"> <img src="http://127.0.0.1:{port}/pixel.png">',
        "refund damaged parcel <script>alert('owned')</script> please",
    ]


def _write_responses(landing, port: int) -> dict[str, str]:
    """Eight ordinary weeks, then a week where 'refund' rises in extreme and hostile comments."""
    header = ["response_id", "customer_id", "submitted_at", "channel", "nps", "csat", "ces", "comment", "region"]
    rows, special = [], {}
    start = datetime(2026, 9, 14, 10, 0, tzinfo=UTC)  # Monday of 2026-W38
    ordinary = ["friendly staff and quick checkout", "good prices, easy returns", "nice store, helpful team"]
    for week in range(8):
        for i in range(25):
            at = start + timedelta(weeks=week, hours=i * 5)
            rows.append([f"R{week}-{i}", f"C{i}", at.isoformat(), "online", "9", "5", "6", ordinary[i % 3], "North"])
    week_start = start + timedelta(weeks=8)
    extreme = {
        "plain": "refund lost voucher again",  # a theme needs five comments
        "emoji": EMOJI,
        "rtl": RTL,
        "long": LONG_COMMENT,
        "word": NO_SPACE_WORD,
    }
    for n, (name, text) in enumerate([*extreme.items(), *((f"hostile{i}", t) for i, t in enumerate(_hostile(port)))]):
        response_id = f"X-{name}"
        special[response_id] = text
        at = week_start + timedelta(hours=n * 7)
        rows.append([response_id, f"C{n}", at.isoformat(), "email", "2", "1", "2", text, "North"])
    for i in range(16):
        at = week_start + timedelta(hours=i * 9 + 3)
        rows.append([f"W-{i}", f"C{i}", at.isoformat(), "online", "8", "4", "5", ordinary[i % 3], "North"])
    write_csv(landing / "survey_responses" / f"{DELIVERY_DAY}_late.csv", header, rows)
    return special


def _load(settings: Settings, port: int) -> dict[str, str]:
    special = _write_responses(settings.landing_dir, port)
    summary = run_day(settings, DELIVERY_DAY)["survey_responses"]
    assert (summary.rows_in, summary.rows_loaded, summary.rows_quarantined) == (
        len(special) + 216,
        len(special) + 216,
        0,
    )
    recompute_metrics.fn(settings, weeks_of_days(sorted(summary.business_days)))
    return special


def _pdf_text(path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_extreme_and_hostile_comments_load_unchanged_and_stay_inert_in_the_report_and_email(
    settings, listener, start_smtp, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    port, hits = listener.port, listener.requests
    special = _load(settings, port)

    # Loaded byte for byte: nothing cut, escaped or stripped in the warehouse.
    with get_engine(settings.warehouse_url).connect() as conn:
        stored = dict(
            conn.execute(
                sa.text("select response_id, comment from survey_responses where response_id like 'X-%'")
            ).all()
        )
    assert stored == special

    started = time.perf_counter()
    files = render_files(settings, read_report_data.fn(settings, WEEK))
    elapsed = time.perf_counter() - started
    assert elapsed < RENDER_BOUND_SECONDS, f"rendering took {elapsed:.1f} s"

    html = files.html_path.read_text(encoding="utf-8")
    pdf_text = _pdf_text(files.pdf_path)
    # Not vacuous: the hostile comments are quoted in the report, as text.
    assert "&lt;script&gt;alert(" in html and "&lt;img src=" in html
    assert "<script>alert(" in pdf_text  # shown as the characters the customer typed
    assert "X-long" in html and "X-word" in html
    # Inert: no markup from a comment survives as markup.
    assert not re.search(r"<(script|img|iframe|a)\b", html, re.IGNORECASE)
    assert 'href="javascript' not in html and "<iframe" not in html
    # Nothing fetched, nothing embedded from the machine.
    assert hits == []
    assert files.refused_urls == []
    assert "root:x:0:0" not in pdf_text and "root:x:0:0" not in html
    # Cut to length in both editions: no 300-character run of the long comment or the long word.
    limit = settings.report_comment_chars
    assert ("x" * (limit + 1)) not in html and ("x" * (limit + 1)) not in pdf_text.replace("\n", "")
    assert LONG_COMMENT[:400] not in html
    # Emoji and right-to-left text reach the HTML intact (when they are among the quoted comments).
    if "X-emoji" in html:
        assert "😡😡" in html
    if "X-rtl" in html:
        assert "עדיין לא קיבלתי" in html

    # Email: the summary body holds no markup from comments; the attached PDF is the rendered one.
    smtp = start_smtp()
    mail = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none", "smtp_sender": "r@ex.com"}
    )
    send_report.fn(
        mail,
        week=WEEK,
        region=None,
        pdf_path=files.pdf_path,
        subject="weekly report",
        html_summary=files.email_html,
        text_summary="\n".join(files.summary),
        recipients=["ann@example.com"],
    )
    (received,) = smtp.handler.received
    body = received.parsed().get_body(("html",)).get_content()
    assert not re.search(r"<(script|img|iframe)\b", body, re.IGNORECASE)
    assert f"127.0.0.1:{port}" not in body
    (attachment,) = list(received.parsed().iter_attachments())
    assert len(PdfReader(io.BytesIO(attachment.get_content())).pages) == files.pages

    # Logs: no comment text is logged at all, hostile or not.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for text in special.values():
        assert text[:40] not in logged
    assert hits == []


def test_the_same_week_renders_the_same_report_text_twice(settings, listener, tmp_path):
    port = listener.port
    _load(settings, port)
    first = render_files(settings, read_report_data.fn(settings, WEEK))
    text, html = _pdf_text(first.pdf_path), first.html_path.read_bytes()
    second = render_files(
        settings.model_copy(update={"reports_dir": tmp_path / "again"}), read_report_data.fn(settings, WEEK)
    )
    assert _pdf_text(second.pdf_path) == text
    assert second.html_path.read_bytes() == html
    assert second.pdf_sha256 == first.pdf_sha256
