"""The Prefect artifact's markdown and the email's text part: data in them stays inert."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reports.summaries import kpi_markdown, text_summary


@dataclass
class _Files:
    week: str = "2026-W47"
    region: str | None = None
    title: str = "Weekly loyalty report 2026-W47"
    kpis: list[dict] = field(
        default_factory=lambda: [
            {
                "label": "NPS",
                "value": "17.1",
                "marker": "",
                "change": "\u22122.9 pts",
                "significance": "not significant",
                "n": "158",
            }
        ]
    )
    summary: list[str] = field(default_factory=lambda: ["\u201capp\u201d is rising: see [this](http://x) <b>now</b>"])
    pdf_path: Path = Path("/r/2026-W47/weekly-report.pdf")
    html_path: Path = Path("/r/2026-W47/weekly-report.html")
    pages: int = 10
    seconds: float = 2.84


def test_the_kpi_markdown_has_the_table_and_makes_data_inert():
    text = kpi_markdown(_Files(region="<img src=x onerror=alert(1)>"))
    assert "| NPS | 17.1 |  \u22122.9 pts | not significant | 158 |" in text
    assert "<img" not in text and "&lt;img src=x onerror=alert\\(1\\)&gt;" in text
    assert "<b>" not in text and "\\[this\\]\\(http://x\\)" in text  # no live link or markup from a sentence
    assert "(10 pages, rendered in 2.8 s)" in text


def test_the_text_summary_lists_each_kpi_and_sentence():
    text = text_summary(_Files())
    assert text.splitlines()[0] == "Weekly loyalty report 2026-W47"
    assert "NPS: 17.1 (\u22122.9 pts, not significant, n = 158)" in text
    assert text.rstrip().endswith("The full report is attached as a PDF.")
