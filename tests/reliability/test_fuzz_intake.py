"""Property-based tests: random rows and random files never crash intake or validation, and every record
written is either valid or rejected, once (in = loaded + quarantined, counted from what was written)."""

from __future__ import annotations

import csv
import io
import json
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.contract import ENTITIES
from loyalty.intake import FileRejected, parse_file
from loyalty.validation import validate_frame
from tasks.validate import check_delivery

LONDON = ZoneInfo("Europe/London")
SURVEYS = ENTITIES["survey_responses"]

cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "NaN",
            "inf",
            "-inf",
            "1e309",
            "1e20",
            "-9e18",
            "7",
            "7.5",
            "11",
            "-1",
            "2026-03-29T01:30:00",
            "2026-10-25 01:30",
            "2026-11-20T10:00:00+05:30",
            "online",
            "phone",
            "fax",
            "<br />",
            "\x00",
        ]
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.fixed_dictionaries({c: cell for c in SURVEYS.column_names}), max_size=25))
def test_random_rows_split_into_valid_and_rejected_without_loss(rows):
    import pandas as pd

    frame = pd.DataFrame(rows, columns=SURVEYS.column_names, dtype=object)
    frame["_source"] = "fuzz.csv"
    frame["_source_row"] = range(2, len(frame) + 2)
    result = validate_frame(frame, SURVEYS, LONDON)
    assert len(result.valid) + len(result.rejected) == len(frame)
    assert result.rejected["reason"].str.len().gt(0).all() if len(result.rejected) else True
    # Nothing invalid slips through: every valid row meets the contract's ranges and sets.
    for column in ("nps", "csat", "ces"):
        spec = SURVEYS.column(column)
        values = result.valid[column].dropna()
        assert values.between(spec.min_value, spec.max_value).all()
    assert result.valid["channel"].isin(SURVEYS.column("channel").allowed).all()
    assert result.valid["submitted_at"].notna().all() and result.valid["response_id"].notna().all()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), file_format=st.sampled_from(["csv", "jsonl", "parquet"]))
def test_random_bytes_are_rejected_or_parsed_never_a_crash(data, file_format):
    try:
        parse_file(data, file_format, "fuzz", SURVEYS, {})
    except FileRejected as exc:
        assert exc.reason


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(cell, min_size=0, max_size=len(SURVEYS.column_names) + 2), max_size=20),
    as_jsonl=st.booleans(),
)
def test_random_files_keep_in_equal_loaded_plus_quarantined(rows, as_jsonl):
    header = SURVEYS.column_names
    if as_jsonl:
        data = "\n".join(json.dumps(dict(zip(header, r, strict=False))) for r in rows).encode()
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        data = buffer.getvalue().encode("utf-8", "surrogatepass")
    try:
        parsed = parse_file(data, "jsonl" if as_jsonl else "csv", "fuzz", SURVEYS, {})
    except FileRejected:
        return
    from datetime import date

    from loyalty.delivery import Delivery
    from loyalty.settings import Settings

    delivery = Delivery("survey_responses", date(2026, 11, 20), "files", parsed.rows, parsed.malformed)
    checked = check_delivery(delivery, Settings())
    expected = len(rows) if as_jsonl else _csv_records_after_the_header(rows)
    # Every record written is accounted for exactly once: as a valid row or as a quarantined one.
    assert len(checked.valid) + len(checked.rejected) == expected
    assert delivery.rows_in == expected
    lines = [*checked.valid["_source_row"].tolist(), *checked.rejected["source_row"].tolist()]
    assert len(set(lines)) == len(lines), "a source line was counted twice"
    if as_jsonl:  # one JSON object per line, none blank: lines 1..n, each once
        assert sorted(lines) == list(range(1, len(rows) + 1))


def _csv_records_after_the_header(rows: list[list[str]]) -> int:
    """Records a CSV reader must report for these written rows, worked out from the rows themselves: every
    row but the blank ones (no field, or one empty field, is written as a blank line and skipped)."""
    return sum(1 for row in rows if len(row) > 1 or (len(row) == 1 and row[0] != ""))
