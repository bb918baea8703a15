"""The renderer's two safety layers on their own: autoescape in every template, and a fetcher that serves the
project's assets and nothing else (no local file, no server, no data: URL reaches the PDF)."""

from __future__ import annotations

import base64
import io

import pandas as pd
import pytest
from markupsafe import escape
from pypdf import PdfReader
from weasyprint.urls import URLFetcher

from analytics.kpis import compute_kpi_tiles
from reports.context import ReportOptions, build_report_context
from reports.render import (
    ASSETS_DIR,
    TEMPLATE,
    AssetFetcher,
    html_to_pdf,
    make_environment,
    render_email_html,
    render_html,
)
from tests.httplistener import tiny_png

HOSTILE_COMPANY = "<b>Acme</b>"
ESCAPED_COMPANY = "&lt;b&gt;Acme&lt;/b&gt;"


# ---------------------------------------------------------------- helpers


DATA_PNG = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()


def _image_xobjects(pdf: bytes) -> list[str]:
    """Names of every image XObject in the PDF, including those nested in form XObjects."""
    found: list[str] = []

    def walk(resources, seen: set[int]) -> None:
        if resources is None:
            return
        resources = resources.get_object()
        xobjects = resources.get("/XObject")
        if xobjects is None:
            return
        for name, ref in xobjects.get_object().items():
            key = getattr(ref, "idnum", None)
            if key is not None and key in seen:
                continue
            if key is not None:
                seen.add(key)
            xobject = ref.get_object()
            if xobject.get("/Subtype") == "/Image":
                found.append(str(name))
            elif xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources"), seen)

    reader = PdfReader(io.BytesIO(pdf))
    seen: set[int] = set()
    for page in reader.pages:
        walk(page.get("/Resources"), seen)
    return found


def _embedded_files(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    names = list(reader.attachments)
    root = reader.trailer["/Root"].get_object()
    if "/Names" in root and "/EmbeddedFiles" in root["/Names"].get_object():
        names.append("/Names/EmbeddedFiles")
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            if annotation.get_object().get("/Subtype") == "/FileAttachment":
                names.append("/FileAttachment annotation")
    return names


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def _empty_context(company: str = "Loyalty Analytics") -> dict:
    # A week with no data still has its seven KPI tiles stored (every figure missing, no responses).
    tiles = compute_kpi_tiles("2026-W45", pd.DataFrame(), pd.DataFrame()).assign(week="2026-W45")
    return build_report_context(
        {"weekly_kpi_tiles": tiles},
        week="2026-W45",
        region=None,
        data_quality_counts={},
        options=ReportOptions(company=company),
    )


# ---------------------------------------------------------------- autoescape


@pytest.mark.parametrize("name", ["x.html.j2", "x.html", "x.j2", TEMPLATE, "email_summary.html.j2"])
def test_autoescape_is_on_for_every_template_suffix_in_use(name):
    env = make_environment()
    assert callable(env.autoescape)
    assert env.autoescape(name) is True


def test_autoescape_is_on_for_templates_made_from_strings():
    env = make_environment()
    assert env.autoescape(None) is True
    assert env.from_string("{{ v }}").render(v="<i>x</i>") == "&lt;i&gt;x&lt;/i&gt;"


def test_every_template_file_in_the_folder_is_autoescaped():
    env = make_environment()
    names = env.list_templates(filter_func=lambda n: n.endswith(".j2"))
    assert TEMPLATE in names
    for name in names:
        assert env.autoescape(name) is True, name
        # Through the loader, not only by name: a value in any included template comes out escaped.
        template = env.get_template(name)
        assert template.environment.autoescape(template.name) is True


@pytest.mark.parametrize("medium", ["html", "pdf"])
def test_the_real_weekly_template_escapes_a_hostile_company_name(medium):
    html = render_html(_empty_context(HOSTILE_COMPANY), medium=medium)
    assert ESCAPED_COMPANY in html
    assert HOSTILE_COMPANY not in html
    assert "<b>" not in html
    # In the <meta name="author"> attribute too, and in the running header.
    assert f'<meta name="author" content="{ESCAPED_COMPANY}">' in html
    assert html.count(ESCAPED_COMPANY) >= 2


def test_the_email_template_escapes_a_hostile_company_name():
    html = render_email_html(_empty_context(HOSTILE_COMPANY))
    assert ESCAPED_COMPANY in html
    assert "<b>" not in html


def test_attribute_breakout_is_escaped():
    hostile = '"><script>alert(1)</script><meta name="x'
    html = render_html(_empty_context(hostile), medium="html")
    assert "<script" not in html
    # The value stays inside its attribute: the quote that would close it is escaped.
    assert f'<meta name="author" content="{escape(hostile)}">' in html
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_hostile_company_name_is_plain_text_in_the_pdf():
    fetcher = AssetFetcher()
    pdf = html_to_pdf(render_html(_empty_context(HOSTILE_COMPANY), medium="pdf"), fetcher=fetcher)
    assert HOSTILE_COMPANY in _pdf_text(pdf)
    assert fetcher.refused == []


# ---------------------------------------------------------------- the fetcher


def _hostile_html(port: int) -> str:
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>t</title>
<link rel="stylesheet" href="file:///etc/passwd">
<link rel="stylesheet" href="http://127.0.0.1:{port}/style.css">
<link rel="attachment" href="file:///etc/passwd" title="passwd">
<style>
  @import url("http://127.0.0.1:{port}/import.css");
  body {{ background: url("file:///etc/passwd"); }}
  p.b {{ background-image: url("http://127.0.0.1:{port}/bg.png"); }}
</style>
</head><body>
<p>Before the images.</p>
<img src="file:///etc/passwd">
<img src="http://127.0.0.1:{port}/x.png">
<img src="{DATA_PNG}">
<img src="asset:../render.py">
<img src="asset:/etc/passwd">
<img src="relative.png">
<object data="file:///etc/passwd"></object>
<embed src="http://127.0.0.1:{port}/embed.png">
<a rel="attachment" href="file:///etc/hostname">attach</a>
<p class="b">After the images.</p>
</body></html>"""


def test_asset_fetcher_refuses_files_servers_data_urls_and_escapes_from_the_assets_folder(listener):
    fetcher = AssetFetcher()
    pdf = html_to_pdf(_hostile_html(listener.port), fetcher=fetcher)

    refused = set(fetcher.refused)
    expected = {
        "file:///etc/passwd",
        f"http://127.0.0.1:{listener.port}/x.png",
        f"http://127.0.0.1:{listener.port}/style.css",
        f"http://127.0.0.1:{listener.port}/import.css",
        f"http://127.0.0.1:{listener.port}/bg.png",
        f"http://127.0.0.1:{listener.port}/embed.png",
        "file:///etc/hostname",
        DATA_PNG[:200],
        "asset:../render.py",
        "asset:/etc/passwd",
    }
    assert expected <= refused, expected - refused
    assert listener.requests == []

    text = _pdf_text(pdf)
    assert "Before the images." in text and "After the images." in text
    assert "root:x:0:0" not in text and "/bin/" not in text
    assert _image_xobjects(pdf) == []
    assert _embedded_files(pdf) == []
    assert b"root:x:0:0" not in pdf


def test_the_pdf_checks_would_see_an_image_that_got_through():
    """Control: with a fetcher that does allow data: URLs the same checks find the image, so the test above
    cannot pass merely because the checks are blind."""
    html = f'<html><body><p>x</p><img src="{DATA_PNG}" style="width: 20px"></body></html>'
    from weasyprint import HTML

    pdf = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=["data"])).write_pdf()
    assert len(_image_xobjects(pdf)) == 1
    fetcher = AssetFetcher()
    assert _image_xobjects(html_to_pdf(html, fetcher=fetcher)) == []
    assert fetcher.refused == [DATA_PNG[:200]]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x.png",
        "https://example.com/x.png",
        "data:text/css,body{color:red}",
        "asset:../render.py",
        "asset:../../pyproject.toml",
        "asset:/etc/passwd",
        "asset:",
        "asset:missing.css",
        "ftp://127.0.0.1/x",
    ],
)
def test_asset_fetcher_refuses_and_records(url):
    fetcher = AssetFetcher()
    with pytest.raises(ValueError, match="refused"):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_asset_fetcher_serves_the_report_stylesheet():
    fetcher = AssetFetcher()
    response = fetcher.fetch("asset:report.css")
    body = response.read()
    assert body == (ASSETS_DIR / "report.css").read_bytes()
    assert response.content_type == "text/css"
    assert len(body) > 100
    assert fetcher.refused == []


def test_the_real_report_pdf_fetches_its_stylesheet_and_nothing_else():
    fetcher = AssetFetcher()
    pdf = html_to_pdf(render_html(_empty_context(), medium="pdf"), fetcher=fetcher)
    assert fetcher.refused == []
    assert _image_xobjects(pdf) == []
    assert "Weekly loyalty report" in _pdf_text(pdf)


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("comment_card", True),
        ("in_store", True),
        ("North West", True),
        ("W" * 16, True),
        ("W" * 17, False),  # long: wraps anywhere, as untrusted text does
        ("\u2031" * 5, False),  # one of the widest glyphs: never kept on one line
        ("São Paulo", False),
        ("North\u202e", False),
        ("", False),
        (None, False),
    ],
)
def test_only_short_plain_labels_are_kept_on_one_line(name, short):
    from reports.render import is_short_label, make_environment

    assert is_short_label(name) is short
    cell = make_environment().from_string('<td class="text{% if n is short_label %} label{% endif %}">')
    assert ("label" in cell.render(n=name)) is short
