"""The weekly report flow under the session's Prefect harness: files, artifacts, and the PDF emailed through a
real SMTP server (aiosmtpd), with a failed delivery failing the run and naming who did not get it."""

from __future__ import annotations

import asyncio
import io
from datetime import date

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from loyalty.db import get_engine
from loyalty.settings import reset_settings
from tests.helpers import build_demo_warehouse

pytestmark = pytest.mark.flow

START, END = date(2026, 11, 2), date(2026, 11, 15)  # 2026-W45 .. 2026-W46
WEEK = "2026-W46"
ANN, BOB = "ann@example.com", "bob@example.com"


def _mail_env(monkeypatch, port: int, recipients: str) -> None:
    for name, value in {
        "LOYALTY_SMTP_HOST": "127.0.0.1",
        "LOYALTY_SMTP_PORT": str(port),
        "LOYALTY_SMTP_SECURITY": "none",
        "LOYALTY_SMTP_SENDER": "reports@example.com",
        "LOYALTY_REPORT_RECIPIENTS": recipients,
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()


def _artifacts(flow_run_id) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read() -> dict:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
            )
        return {a.key: a for a in found}

    return asyncio.run(read())


def test_the_weekly_flow_renders_publishes_and_emails_the_pdf(prefect_harness, project_env, start_smtp, monkeypatch):
    build_demo_warehouse(project_env, START, END, n_customers=150)
    smtp = start_smtp()
    _mail_env(monkeypatch, smtp.port, f"{ANN}, {BOB}")
    from flows.weekly_report import weekly_report

    state = weekly_report(week=WEEK, send=True, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["sent"] == [ANN, BOB]
    pdf_path = project_env.reports_dir / WEEK / "weekly-report.pdf"
    assert result["pdf"] == str(pdf_path) and pdf_path.is_file()
    assert (project_env.reports_dir / WEEK / "weekly-report.html").is_file()

    from prefect.client.orchestration import get_client

    async def run_name() -> str:
        async with get_client() as client:
            return (await client.read_flow_run(state.state_details.flow_run_id)).name

    assert asyncio.run(run_name()) == f"weekly-report-{WEEK}"
    artifacts = _artifacts(state.state_details.flow_run_id)
    assert {"weekly-report-kpis", "weekly-report-pdf"} <= set(artifacts)
    assert "| NPS |" in artifacts["weekly-report-kpis"].data
    # Prefect keeps a link artifact as markdown: [text](link)
    assert f"]({pdf_path.resolve().as_uri()})" in str(artifacts["weekly-report-pdf"].data)

    assert [r.rcpt_tos for r in smtp.handler.received] == [[ANN], [BOB]]
    message = smtp.handler.received[0].parsed()
    assert message["Subject"] == f"{project_env.report_company}: weekly loyalty report {WEEK}"
    html = message.get_body(("html",)).get_content()
    assert "Weekly loyalty report" in html and "NPS" in html
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"weekly-report-{WEEK}.pdf"
    opened = PdfReader(io.BytesIO(attachment.get_content()))
    assert len(opened.pages) == result["pages"]
    assert "Weekly loyalty report" in opened.pages[0].extract_text()

    with get_engine(project_env.warehouse_url).connect() as conn:
        log = conn.execute(sa.text("select recipient, status from report_sends order by recipient")).all()
    assert [tuple(r) for r in log] == [(ANN, "sent"), (BOB, "sent")]


def test_a_failed_send_fails_the_run_and_names_who_did_not_get_it(
    prefect_harness, project_env, start_smtp, monkeypatch
):
    build_demo_warehouse(project_env, START, END, n_customers=150)
    smtp = start_smtp()
    smtp.handler.reject[BOB] = "550 5.1.1 mailbox unavailable"
    _mail_env(monkeypatch, smtp.port, f"{ANN},{BOB}")
    from flows.weekly_report import weekly_report

    state = weekly_report(week=WEEK, send=True, return_state=True)
    assert state.is_failed()
    assert BOB in state.message and "550" in state.message
    assert [r.rcpt_tos for r in smtp.handler.received] == [[ANN]]
    with get_engine(project_env.warehouse_url).connect() as conn:
        log = conn.execute(sa.text("select recipient, status from report_sends order by recipient")).all()
    assert [tuple(r) for r in log] == [(ANN, "sent"), (BOB, "failed")]


def test_a_render_without_a_server_writes_the_same_files_without_a_flow_run(prefect_harness, project_env):
    # `loyalty report render` with no server configured or running takes this path: the same steps as plain
    # functions. It must write byte-identical files and never reach for a Prefect API (here: a dead address).
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.weekly_report import render_without_a_flow_run, weekly_report

    build_demo_warehouse(project_env, START, END, n_customers=150)
    state = weekly_report(week=WEEK, send=False, return_state=True)
    assert state.is_completed(), state.message
    folder = project_env.reports_dir / WEEK
    by_flow = {name: (folder / name).read_bytes() for name in ("weekly-report.pdf", "weekly-report.html")}
    for path in folder.iterdir():
        path.unlink()
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        result = render_without_a_flow_run(WEEK)
    assert result["pdf"] == str(folder / "weekly-report.pdf") and result["pages"] == state.result()["pages"]
    assert {name: (folder / name).read_bytes() for name in by_flow} == by_flow
