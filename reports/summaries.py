"""Short plain-text and markdown summaries of a rendered report: the Prefect artifact and the email's text part.

Pure. Values from data (a region, a term in a sentence) are made inert for markdown, which the Prefect UI renders.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Protocol


class RenderedReport(Protocol):
    week: str
    region: str | None
    title: str
    kpis: list[dict]
    summary: list[str]
    pdf_path: Path
    html_path: Path
    pages: int
    seconds: float


def _markdown_text(value: str) -> str:
    """Data (a region name, a term) made inert for the UI's markdown: HTML-escaped, markdown punctuation escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|>~])", r"\\\1", html.escape(value, quote=True))


def kpi_markdown(files: RenderedReport) -> str:
    edition = f"region {files.region}" if files.region else "company-wide"
    lines = [
        f"# Weekly loyalty report {files.week} ({_markdown_text(edition)})",
        "",
        "| KPI | This week | Change | Significance | n |",
        "|---|---:|---:|---|---:|",
    ]
    lines += [
        f"| {t['label']} | {t['value']} | {t['marker']} {t['change']} | {t['significance']} | {t['n']} |"
        for t in files.kpis
    ]
    lines += ["", *(f"- {_markdown_text(s)}" for s in files.summary), ""]
    lines.append(f"PDF: `{files.pdf_path}` ({files.pages} pages, rendered in {files.seconds:.1f} s)  ")
    lines.append(f"HTML: `{files.html_path}`")
    return "\n".join(lines)


def text_summary(files: RenderedReport) -> str:
    lines = [files.title, ""]
    lines += [f"{t['label']}: {t['value']} ({t['change']}, {t['significance']}, n = {t['n']})" for t in files.kpis]
    lines += ["", *files.summary, "", "The full report is attached as a PDF."]
    return "\n".join(lines)
