"""Issue 14, finding 10: control and bidi characters are neutralised wherever data is shown as text."""

from __future__ import annotations

import logging
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from loyalty.textsafe import (
    BIDI_CONTROLS,
    display_line,
    display_text,
    has_forbidden_chars,
    install_log_filter,
    json_text,
    storable_text,
)

DANGEROUS = sorted(BIDI_CONTROLS) + ["\x1b", "\r", "\n", "\t", "\x00", "\x7f", "\x85", "\x9b", "\u2028", "\u2029"]
hostile_text = st.text(alphabet=st.one_of(st.sampled_from(DANGEROUS), st.characters()), max_size=40)


def _visible(text: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Cs") or c in BIDI_CONTROLS or c in "\u2028\u2029" for c in text)


def test_the_reported_inputs_are_shown_escaped():
    # "\u202eTSAE" rendered as "EAST"; an ESC sequence recoloured the terminal; CR/LF forged a log line.
    assert display_line("\u202eTSAE") == "\\u202eTSAE"
    assert display_line("2026-11-30_\x1b[31mred.csv") == "2026-11-30_\\x1b[31mred.csv"
    assert display_line("North\r\nINFO all good") == "North\\x0d\\x0aINFO all good"
    assert display_text("line one\nline two\x1b\u2067") == "line one\nline two\\x1b\\u2067"


@given(hostile_text)
def test_display_line_leaves_nothing_a_terminal_or_layout_engine_acts_on(value):
    shown = display_line(value)
    assert _visible(shown)
    assert "\n" not in shown and "\t" not in shown
    # Ordinary text is untouched, character for character.
    if _visible(value) and "\n" not in value and "\t" not in value:
        assert shown == value


@given(hostile_text)
def test_display_text_keeps_line_feeds_and_tabs_only(value):
    shown = display_text(value)
    assert _visible(shown.replace("\n", "").replace("\t", ""))
    assert shown.count("\n") == value.count("\n") and shown.count("\t") == value.count("\t")


@given(st.text(alphabet=st.one_of(st.just("\x00"), st.characters(), st.sampled_from(["\ud800", "\udfff"]))))
def test_forbidden_characters_and_storable_text(value):
    forbidden = "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value)
    assert has_forbidden_chars(value) == forbidden
    stored = storable_text(value)
    stored.encode("utf-8")  # never raises: storable by every driver
    assert "\x00" not in stored
    json_text({"v": value}).encode("utf-8")


def test_log_arguments_are_escaped_but_numbers_kept(caplog):
    install_log_filter()
    caplog.set_level(logging.INFO)
    for name in ("tasks.extract", "prefect.flow_runs", "loyalty.anything"):
        logging.getLogger(name).warning("file %s %s: %d rows (%.1f s)", "a\x1b[2J\u202e.csv", "x\r\ny", 7, 1.25)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["file a\\x1b[2J\\u202e.csv x\\x0d\\x0ay: 7 rows (1.2 s)"] * 3


def test_the_report_environment_neutralises_every_shown_value():
    from markupsafe import Markup

    from reports.render import make_environment

    env = make_environment()
    html = env.from_string("<p>{{ cid }}</p><p>{{ comment }}</p>{{ svg }}").render(
        cid="C42\u202e", comment="<b>hi</b>\nthere\x1b", svg=Markup("<svg>\n<text>\u2066x</text></svg>")
    )
    assert "\u202e" not in html and "\x1b" not in html and "\u2066" not in html
    assert "<p>C42\\u202e</p>" in html
    assert "&lt;b&gt;hi&lt;/b&gt;\nthere\\x1b" in html  # still escaped; line feed kept
    assert "<svg>\n<text>\\u2066x</text></svg>" in html  # markup stays markup
