"""Render the report: one Jinja environment, HTML from templates, PDF from that HTML with WeasyPrint.

Safety with untrusted text, in three layers:
- Autoescape is on for every template suffix in use (``.html.j2``, ``.html``, ``.j2``); the default
  ``select_autoescape()`` would leave ``*.html.j2`` unescaped.
- WeasyPrint fetches through :class:`AssetFetcher`, which serves only the files of ``reports/assets`` by
  the ``asset:`` scheme and refuses every other URL (``file:``, ``http(s):``, ``data:``...), so no markup
  that slipped through could read a local file or call a server.
- Comments are cut to a fixed length before they reach a template (reports.context), which also bounds
  the layout time of a 30,000-character word.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import threading
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from weasyprint.urls import URLFetcher, URLFetcherResponse

from loyalty.textsafe import display_text

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
TEMPLATE = "weekly_report.html.j2"
EMAIL_TEMPLATE = "email_summary.html.j2"
AUTOESCAPED_SUFFIXES = ("html.j2", "html", "htm", "xml", "j2")

log = logging.getLogger(__name__)


class _SvgPresentationNoise(logging.Filter):
    """Drop WeasyPrint's "Ignored `fill: ...` unknown property" for the inline charts' SVG style attributes.

    WeasyPrint's HTML cascade sees those declarations too and warns (dozens per chart), although its SVG
    renderer applies them. Any other CSS warning still gets through.
    """

    _PROPERTIES = re.compile(
        r"^Ignored `(fill|stroke|text-anchor|clip-path|opacity|font|paint-order|dominant-baseline)[a-z-]*\s*:"
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._PROPERTIES.match(record.getMessage())


logging.getLogger("weasyprint").addFilter(_SvgPresentationNoise())


def make_environment() -> Environment:
    """The one Jinja environment of the project's reports."""
    env = Environment(
        loader=FileSystemLoader([TEMPLATES_DIR, ASSETS_DIR]),
        autoescape=select_autoescape(enabled_extensions=AUTOESCAPED_SUFFIXES, default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_shown,
    )
    env.tests["short_label"] = is_short_label
    return env


_SHORT_LABEL = re.compile(r"[A-Za-z0-9_ .-]{1,16}")


def is_short_label(value: object) -> bool:
    """A label that may be kept on one line (``td.label``): at most 16 plain ASCII letters, digits, spaces, dots,
    dashes or underscores. Anything else (wide or unusual characters, long names: region and channel names are
    data) keeps the untrusted-text rule and wraps anywhere, so no name can push a table off the page."""
    return isinstance(value, str) and _SHORT_LABEL.fullmatch(value) is not None


def _shown(value: Any) -> Any:
    """Every ``{{ value }}`` passes here before escaping: control and bidi characters become visible escapes
    (a customer id ending in U+202E would otherwise reverse the sentence it sits in). Line feeds stay."""
    if isinstance(value, Markup):
        return Markup(display_text(str(value)))  # noqa: S704 - already-safe markup, only controls replaced
    if isinstance(value, str):
        return display_text(value)
    return value


_ENV = make_environment()


def render_html(context: dict[str, Any], *, medium: str) -> str:
    """The report as HTML: ``medium`` "pdf" (paged CSS, stylesheet fetched as an asset) or "html" (standalone)."""
    if medium not in ("pdf", "html"):
        raise ValueError(f"medium must be pdf or html, got {medium!r}")
    return _ENV.get_template(TEMPLATE).render(**context, medium=medium)


def render_email_html(context: dict[str, Any]) -> str:
    return _ENV.get_template(EMAIL_TEMPLATE).render(**context)


class AssetFetcher(URLFetcher):
    """Serves ``asset:<name>`` from reports/assets and nothing else; every refusal is logged and kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, allowed_protocols=["asset"], **kwargs)
        self.refused: list[str] = []
        self._lock = threading.Lock()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        name = url.removeprefix("asset:") if url.startswith("asset:") else None
        path = (ASSETS_DIR / name).resolve() if name else None
        if path is None or path.parent != ASSETS_DIR or not path.is_file():
            with self._lock:
                self.refused.append(url[:200])
            log.warning("report renderer refused to fetch %r: only the project's assets are served", url[:200])
            raise ValueError(f"refused to fetch {url[:200]!r}")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": media_type})


def html_to_pdf(html: str, *, fetcher: AssetFetcher | None = None) -> bytes:
    """The PDF of ``html`` (rendered with medium="pdf"); metadata comes from its <title> and <meta> tags."""
    return html_to_pdf_with_pages(html, fetcher=fetcher)[0]


def html_to_pdf_with_pages(html: str, *, fetcher: AssetFetcher | None = None) -> tuple[bytes, int]:
    """The PDF of ``html`` and its page count, from one layout.

    Byte for byte the same in every process: WeasyPrint embeds font subsets made by fontTools, which stamps
    each subset's ``head.modified`` with the current time unless SOURCE_DATE_EPOCH is set, so two renders of
    one week a second apart differed (same text, different bytes and sha256). It is set here (for this process
    and its children) unless the caller set a valid one: the time is not a fact of the report.
    """
    import os

    from weasyprint import HTML

    if not os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():  # unset, or a value fontTools could not read
        os.environ["SOURCE_DATE_EPOCH"] = "0"

    fetcher = fetcher or AssetFetcher()
    # base_url is an asset: URL so that a relative link, too, can only resolve to a project asset.
    document = HTML(string=html, base_url="asset:", url_fetcher=fetcher).render()
    return document.write_pdf(pdf_identifier=b"loyalty-weekly-report", uncompressed_pdf=False), len(document.pages)
