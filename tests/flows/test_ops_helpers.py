"""The helpers behind what the UI shows: artifact keys, the report link, interrupted ledger rows."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa

from flows._ops import artifact_key, report_link
from loyalty.db import get_engine
from loyalty.schema import migrate, run_ledger
from loyalty.settings import Settings
from tasks.interrupted import mark_interrupted, on_run_stopped


def test_artifact_keys_keep_only_lowercase_letters_digits_and_dashes():
    assert artifact_key("backfill-progress", date(2026, 11, 16), "to", date(2026, 11, 18)) == (
        "backfill-progress-2026-11-16-to-2026-11-18"
    )
    assert artifact_key("Weekly Report", "Île_de France!") == "weekly-report-le-de-france"


def test_the_report_link_is_under_the_reports_url_when_one_is_set(tmp_path: Path):
    reports = tmp_path / "reports"
    pdf = reports / "2026-W47" / "north east" / "weekly-report.pdf"
    served = Settings(reports_dir=reports, reports_url="http://127.0.0.1:4281/")
    assert report_link(served, pdf) == "http://127.0.0.1:4281/2026-W47/north%20east/weekly-report.pdf"
    assert report_link(Settings(reports_dir=reports), pdf) == pdf.resolve().as_uri()
    elsewhere = tmp_path / "other" / "x.pdf"  # not under the served folder: no made-up URL
    assert report_link(served, elsewhere) == elsewhere.resolve().as_uri()


def _ledger_row(run_id: str, entity: str, status: str) -> dict:
    return dict(
        run_id=run_id,
        entity=entity,
        delivery_day=date(2026, 11, 16),
        status=status,
        source="files",
        started_at=datetime(2026, 11, 30, 9),
    )


def test_a_stopped_run_marks_only_its_own_running_rows_interrupted(tmp_path: Path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = get_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            run_ledger.insert(),
            [
                _ledger_row("11111111-1111-1111-1111-111111111111", "customers", "succeeded"),
                _ledger_row("11111111-1111-1111-1111-111111111111", "transactions", "running"),
                _ledger_row("22222222-2222-2222-2222-222222222222", "transactions", "running"),
            ],
        )
    settings = Settings(warehouse_url=url)
    monkeypatch.setattr("loyalty.settings.get_settings", lambda: settings)
    run = SimpleNamespace(id="11111111-1111-1111-1111-111111111111", name="backfill-x")
    on_run_stopped(None, run, SimpleNamespace(name="Cancelled"))
    assert mark_interrupted(settings, "11111111-1111-1111-1111-111111111111", "again") == 0  # nothing left
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(run_ledger.c.run_id, run_ledger.c.entity, run_ledger.c.status, run_ledger.c.error)
        ).all()
    assert sorted((r.run_id[:1], r.entity, r.status, r.error) for r in rows) == [
        ("1", "customers", "succeeded", None),
        ("1", "transactions", "interrupted", "run cancelled"),
        ("2", "transactions", "running", None),
    ]


def test_without_a_reports_url_the_link_uses_a_running_reports_server_that_serves_the_file(tmp_path: Path):
    # A report rendered from the CLI while `loyalty serve` runs: its reports server serves the same folder, so
    # the link is http, not file:// (which the UI cannot open). Another folder served there, or nothing
    # listening, keeps the file link.
    import socket

    from cli.server import ReportsServer

    reports = tmp_path / "reports"
    pdf = reports / "2026-W47" / "weekly-report.pdf"
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.7 a report")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(reports_dir=reports, prefect_server_host="127.0.0.1", reports_port=port)
    assert report_link(settings, pdf) == pdf.resolve().as_uri()  # nothing listening
    with ReportsServer(settings):
        assert report_link(settings, pdf) == f"http://127.0.0.1:{port}/2026-W47/weekly-report.pdf"
    other = Settings(reports_dir=tmp_path / "other", prefect_server_host="127.0.0.1", reports_port=port)
    with ReportsServer(other):  # serves a folder without this file
        assert report_link(settings, pdf) == pdf.resolve().as_uri()


def test_the_backfill_logs_one_line_of_counts_per_chunk():
    import logging

    from flows.backfill import _log_chunk
    from loyalty.failures import Failure

    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("test-backfill-chunk-line")
    logger.addHandler(Capture())
    logger.setLevel(logging.INFO)
    days = [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]
    out = {
        "days": [
            {"delivery day": "2026-11-16", "rows in": 1200, "loaded": 1190, "quarantined": 10},
            {"delivery day": "2026-11-17", "rows in": 30, "loaded": 30, "quarantined": 0},
            {"delivery day": "2026-11-18", "status": "failed: survey_responses"},
        ],
        "failures": [Failure(date(2026, 11, 18), "survey_responses", "IntegrityError")],
    }
    _log_chunk(logger, days, out)
    assert lines == [
        "chunk 2026-11-16 .. 2026-11-18: 3 days, in 1,230, loaded 1,220, quarantined 10; "
        "1 failed entity-days (see the failures table)"
    ]
