"""Showing untrusted text safely: control and bidirectional-formatting characters made visible.

Source values (file names, regions, ids, comments) are hostile. Printed raw, an ESC sequence rewrites the
operator's terminal, a CR/LF forges a log line, and a right-to-left override (U+202E) reverses what follows it
in a PDF ("\\u202eTSAE" reads as "EAST"). Everything that *shows* data as text (the CLI, log lines, the PDF, the
HTML, email headers) passes it through :func:`display_line` or :func:`display_text`. The warehouse keeps the
exact value; only what is shown changes.

Each neutralised character becomes its Python escape (``\\x1b``, ``\\u202e``): visible, unambiguous and
greppable, and never a character a terminal, a log viewer or a text layout engine acts on.

Also here: :func:`has_forbidden_chars`, the contract's rule that a text value holds no NUL and no lone
surrogate (PostgreSQL refuses the first, UTF-8 cannot encode the second), and :func:`json_text`, JSON that
every driver can store even when it carries such characters; and :func:`region_slug`, the file-name part of a
region's report (light on purpose: run names use it in every flow's process, which must not import the renderer).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from typing import Any

# Explicit bidirectional formatting characters (Unicode UAX #9): embeddings, overrides, isolates and marks.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Line and paragraph separators break a line as surely as LF does in many viewers.
LINE_BREAKERS = frozenset("\u2028\u2029\u0085")

_SURROGATE = re.compile("[\ud800-\udfff]")
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unsafe_in_line(char: str) -> bool:
    return (
        unicodedata.category(char) in ("Cc", "Cs")  # C0, DEL, C1 (ESC, CR, LF, TAB...), lone surrogates
        or char in BIDI_CONTROLS
        or char in LINE_BREAKERS
    )


def _unsafe_in_text(char: str) -> bool:
    # Multi-line documents (HTML, PDF, email bodies) keep line feeds and tabs: they are layout, not commands.
    return char not in "\n\t" and _unsafe_in_line(char)


# Precomputed for the ASCII/Latin-1 range so the common case is a table lookup, not a category call.
_LINE_TABLE = {c: _escape(chr(c)) for c in range(0x100) if _unsafe_in_line(chr(c))}
_TEXT_TABLE = {c: v for c, v in _LINE_TABLE.items() if chr(c) not in "\n\t"}
_NEEDS_LOOK = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def _neutralise(value: str, unsafe, table: dict[int, str]) -> str:  # type: ignore[no-untyped-def]
    if not _NEEDS_LOOK.search(value):
        return value
    return "".join(table.get(ord(ch)) or (_escape(ch) if unsafe(ch) else ch) for ch in value)


def display_line(value: Any) -> str:
    """``value`` as one line of text with every control, bidi and line-breaking character escaped.

    For a terminal, a log line, a table cell, an email header: whatever the value holds, the result is one
    line that reads left to right as stored.
    """
    text = value if isinstance(value, str) else str(value)
    return _neutralise(text, _unsafe_in_line, _LINE_TABLE)


def display_text(value: Any) -> str:
    """Like :func:`display_line`, but line feeds and tabs stay: for multi-line text in HTML, PDF or email bodies."""
    text = value if isinstance(value, str) else str(value)
    return _neutralise(text, _unsafe_in_text, _TEXT_TABLE)


def has_forbidden_chars(value: str) -> bool:
    """True if ``value`` holds NUL or a lone surrogate: a contract violation (the row is quarantined)."""
    return bool(_FORBIDDEN.search(value))


def storable_text(value: str) -> str:
    """``value`` with NUL and lone surrogates escaped, for columns that label a row (``source_key``), not data."""
    return _FORBIDDEN.sub(lambda m: _escape(m.group()), value) if _FORBIDDEN.search(value) else value


def json_text(value: Any, default=None) -> str:  # type: ignore[no-untyped-def]
    """JSON of ``value`` keeping non-ASCII text readable, falling back to ``\\u`` escapes if it holds a lone
    surrogate (which UTF-8, and so every database driver, refuses). NUL is always escaped by JSON itself."""
    text = json.dumps(value, ensure_ascii=False, default=default)
    if _SURROGATE.search(text):
        return json.dumps(value, ensure_ascii=True, default=default)
    return text


def safe_log_args(args: Any) -> Any:
    """A log record's arguments (the data) with control and bidi characters escaped; numbers untouched."""
    if isinstance(args, tuple):
        return tuple(_safe_arg(a) for a in args)
    if isinstance(args, dict):
        return {k: _safe_arg(v) for k, v in args.items()}
    return args


def _safe_arg(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value  # keeps %d and %.1f working
    return display_line(value)


# The project's own loggers and Prefect's run loggers (what get_run_logger() writes to the console and the API).
_LOGGER_PREFIXES = (
    "loyalty",
    "tasks",
    "flows",
    "reports",
    "cli",
    "analytics",
    "prefect.flow_runs",
    "prefect.task_runs",
)
_installed = False


def install_log_filter() -> None:
    """Escape the arguments of every log record of the project's and Prefect's run loggers (idempotent).

    A record factory rather than a logger filter: filters are not inherited by child loggers
    (``tasks.render``), and handlers are Prefect's to configure. So a file name or a region holding ESC,
    CR/LF or U+202E can neither forge nor hide a log line, on the console or in Prefect's database. The format
    string is the code's own and is left alone.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.args and record.name.split(".")[0] in _ROOTS or record.name.startswith(_LOGGER_PREFIXES[-2:]):
            record.args = safe_log_args(record.args)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


_ROOTS = frozenset(p for p in _LOGGER_PREFIXES if "." not in p)


def region_slug(region: str) -> str:
    """A file-name-safe slug of a region name (which is data, so never trusted as a path), unique per name.

    Readable part: the name folded to lowercase ASCII. Unique part: always a digest of the exact name, because
    many names share a folded form ("North", "north", "NORTH"; "São Paulo", "Sao Paulo"), and a name could be
    chosen to look like another's slug. Lowercase only, so case-insensitive file systems keep them apart too.
    """
    ascii_name = unicodedata.normalize("NFKD", region).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40] or "region"
    digest = hashlib.sha256(region.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{slug}-{digest}"
