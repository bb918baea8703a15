"""The demo report's headline numbers are the ones `loyalty metrics --week ... --json` prints, read back out
of the PDF with poppler's pdftotext; and rendering a week twice gives the same files."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from datetime import date

import pytest

from loyalty.settings import Settings
from tasks.render import render_files
from tasks.report_data import read_report_data
from tests.cli.test_main import _loyalty
from tests.helpers import build_demo_warehouse

START, END = date(2026, 10, 26), date(2026, 11, 15)  # 2026-W44 .. 2026-W46
WEEK = "2026-W46"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("demo-report")
    settings = Settings(
        warehouse_url=f"sqlite:///{root / 'warehouse.db'}", landing_dir=root / "landing", reports_dir=root / "reports"
    )
    build_demo_warehouse(settings, START, END, n_customers=300)
    return settings


def _pdftotext(path) -> str:
    if shutil.which("pdftotext") is None:
        message = "pdftotext is missing: install Debian's poppler-utils (make install does, via scripts/system-deps.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_pdf_shows_the_headline_numbers_that_loyalty_metrics_prints(demo):
    files = render_files(demo, read_report_data.fn(demo, WEEK))
    result = _loyalty("metrics", "--week", WEEK, "--json", env={"LOYALTY_WAREHOUSE_URL": demo.warehouse_url})
    assert result.returncode == 0, result.stderr
    h = json.loads(result.stdout)
    pages = _pdftotext(files.pdf_path).split("\f")
    summary = pages[0]

    # Formatted here from the JSON, the way a reader would round them.
    expected = {
        "NPS": f"{h['nps']:.1f}",
        "CSAT": f"{h['csat'] * 100:.1f}%",
        "CES": f"{h['ces']:.2f}",
        "responses": f"{h['responses']:,}",
        "active customers": f"{h['active_customers']:,}",
        "repeat rate": f"{h['repeat_rate'] * 100:.1f}%",
        "churn rate": f"{h['churn_rate'] * 100:.2f}%",
        "NPS CI": f"95% CI {h['nps_ci_low']:.1f} to {h['nps_ci_high']:.1f}",
    }
    missing = {name: text for name, text in expected.items() if text not in summary}
    assert missing == {}, f"not on the summary page: {missing}"
    assert "Page 1 of" in summary and WEEK in summary
    assert len(pages) - 1 <= 12  # pdftotext ends with a form feed


def test_rendering_a_week_twice_gives_identical_files_and_weeks_keep_their_own(demo):
    first = render_files(demo, read_report_data.fn(demo, WEEK))
    pdf, html = first.pdf_path.read_bytes(), first.html_path.read_bytes()
    second = render_files(demo, read_report_data.fn(demo, WEEK))
    assert hashlib.sha256(second.pdf_path.read_bytes()).hexdigest() == hashlib.sha256(pdf).hexdigest()
    assert second.html_path.read_bytes() == html

    other = render_files(demo, read_report_data.fn(demo, "2026-W45"))
    assert other.pdf_path.parent.name == "2026-W45" and first.pdf_path.parent.name == WEEK
    assert first.pdf_path.read_bytes() == pdf  # the other week did not touch it
    assert sorted(p.name for p in first.pdf_path.parent.iterdir()) == ["weekly-report.html", "weekly-report.pdf"]


def test_the_pdf_has_its_metadata_and_a_standalone_html(demo):
    from pypdf import PdfReader

    files = render_files(demo, read_report_data.fn(demo, WEEK))
    meta = PdfReader(files.pdf_path).metadata
    assert meta.title == f"Weekly loyalty report {WEEK}"
    assert meta.author == demo.report_company
    assert meta.creation_date.date() == date(2026, 11, 16)  # the Monday after the week
    html = files.html_path.read_text(encoding="utf-8")
    assert "<style>" in html and "<svg" in html
    # standalone: nothing to fetch
    for needle in ('src="http', "src='http", 'href="http', "<link", "@import", "url(http", 'src="file'):
        assert needle not in html
