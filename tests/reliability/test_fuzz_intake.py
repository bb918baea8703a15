"""Property-based tests: random rows and random files never crash intake or validation, and every record
written is either valid or rejected, once (in = loaded + quarantined, counted from what was written)."""

from __future__ import annotations

import csv
import io
import json
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, Phase, given, settings
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


# --- issue 14: hostile families, through the whole day on SQLite and PostgreSQL ------------------------------------
#
# Each example writes one delivery day's file(s) of a family, runs the day through extract -> validate -> load,
# and checks: the day loads (nothing raises), rows in = loaded + quarantined per file and equals the records
# written, the day after loads an ordinary file, and the canary planted in every row leaks nowhere.

import itertools  # noqa: E402
import os  # noqa: E402
from datetime import date, timedelta  # noqa: E402

from tests.hostile import CANARY, SURVEY_HEADER, ledger, run_and_check  # noqa: E402

_days = itertools.count()
CONTROL = [chr(c) for c in range(0x20)] + ["\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u202e", "\u2066", "\u200f"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]


def _next_day() -> date:
    return date(2027, 1, 1) + timedelta(days=3 * next(_days))


def _record(day: date, n: int, **overrides) -> dict:
    base = {
        "response_id": f"F{day:%Y%m%d}-{n}",
        "customer_id": "C1",
        "submitted_at": f"{day.isoformat()}T10:00:00Z",
        "channel": "online",
        "nps": "9",
        "comment": f"hello {CANARY}",
        "region": "North",
    }
    return {**base, **overrides}


def _write_jsonl(settings, day: date, records: list[dict]) -> str:
    name = f"survey_responses/{day.isoformat()}_fuzz.jsonl"
    text = "\n".join(json.dumps(r) for r in records) + "\n"  # ASCII escapes: every record one line
    (settings.landing_dir / name).write_text(text, encoding="utf-8")
    return name


def _write_csv(settings, day: date, records: list[dict]) -> str:
    name = f"survey_responses/{day.isoformat()}_fuzz.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SURVEY_HEADER)
    writer.writerows([[r.get(c, "") for c in SURVEY_HEADER] for r in records])
    (settings.landing_dir / name).write_text(buffer.getvalue(), encoding="utf-8")
    return name


def _check_day(settings, day: date, name: str, records: list[dict]) -> None:
    summary = run_and_check(settings, day, "survey_responses", {name: len(records)})
    assert summary.rows_in == len(records)


# No shrinking: each example is a whole day on a real database, and a failure prints its inputs anyway.
fuzz = settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
column = st.sampled_from(["response_id", "customer_id", "channel", "comment", "region", "nps", "submitted_at"])


@fuzz
@given(data=st.data())
def test_family_control_characters(settings, data):
    day = _next_day()
    records = [
        _record(day, n, **{data.draw(column): data.draw(st.text(st.sampled_from(CONTROL + list("ab")), max_size=8))})
        for n in range(data.draw(st.integers(1, 5)))
    ]
    as_csv = data.draw(st.booleans())
    name = (_write_csv if as_csv else _write_jsonl)(settings, day, records)
    _check_day(settings, day, name, records)


@fuzz
@given(data=st.data())
def test_family_surrogates(settings, data):
    day = _next_day()
    records = []
    for n in range(data.draw(st.integers(1, 4))):
        name = data.draw(column)
        # The canary rides in data columns; an id is the quarantine row's label (source_key), so not there.
        value = "x" + data.draw(st.sampled_from(SURROGATES)) + ("" if name == "response_id" else CANARY)
        records.append(_record(day, n, **{name: value}))
    _check_day(settings, day, _write_jsonl(settings, day, records), records)
    # Every such row is a contract violation: quarantined, none loaded.
    assert ledger(settings, "survey_responses", day)["rows_loaded"].sum() == 0


nested = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
).filter(lambda v: isinstance(v, list | dict))


@fuzz
@given(data=st.data(), depth=st.sampled_from([1, 50, 5_000, 300_000]))
def test_family_nesting(settings, data, depth):
    day = _next_day()
    records = [_record(day, n, **{data.draw(column): data.draw(nested)}) for n in range(data.draw(st.integers(1, 3)))]
    name = _write_jsonl(settings, day, records)
    with (settings.landing_dir / name).open("a", encoding="utf-8") as handle:
        handle.write('{"comment": ' + "[" * depth + "]" * depth + "}\n")  # one more line, nested `depth` deep
    _check_day(settings, day, name, [*records, {}])
    assert ledger(settings, "survey_responses", day)["rows_loaded"].sum() == 0


@fuzz
@given(data=st.data(), size=st.sampled_from([131_072, 131_073, 400_000, 2_000_000]))
def test_family_huge_fields(settings, data, size):
    day = _next_day()
    field = data.draw(st.sampled_from(["comment", "region", "customer_id"]))
    filler = data.draw(st.sampled_from(["x", "é", '"', "\n", ","]))
    records = [_record(day, 0), _record(day, 1, **{field: filler * size}), _record(day, 2)]
    as_csv = data.draw(st.booleans())
    name = (_write_csv if as_csv else _write_jsonl)(settings, day, records)
    _check_day(settings, day, name, records)
    # Free text may be any length; ids and other short text over 500 characters are too_long (PostgreSQL cannot
    # index them); a value of only whitespace is trimmed to missing.
    expected_loaded = 3 if field == "comment" or not filler.strip() else 2
    assert ledger(settings, "survey_responses", day)["rows_loaded"].sum() == expected_loaded


odd_timestamp = st.one_of(
    st.datetimes(
        min_value=__import__("datetime").datetime(1, 1, 1), max_value=__import__("datetime").datetime(9999, 12, 31)
    ).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
            "20261130T120000Z",
            "2026-11-30T12Z",
            "2026-11-30T12:00:00+2400",
            "2026-02-29T00:00:00",
            "1677-09-21T00:12:43Z",
            "2262-04-11T23:47:17Z",
            "-2026-11-30",
            "+12026-11-30",
            "2026-11-30T12:00:00.9999999999Z",
        ]
    ),
)


@fuzz
@given(stamps=st.lists(odd_timestamp, min_size=1, max_size=6), as_csv=st.booleans())
def test_family_odd_timestamps(settings, stamps, as_csv):
    day = _next_day()
    records = [_record(day, n, submitted_at=s) for n, s in enumerate(stamps)]
    name = (_write_csv if as_csv else _write_jsonl)(settings, day, records)
    _check_day(settings, day, name, records)


@fuzz
@given(
    kinds=st.lists(st.sampled_from(["symlink_out", "symlink_in", "dangling", "dir", "fifo"]), min_size=1, max_size=5)
)
def test_family_non_regular_files(settings, tmp_path_factory, kinds):
    day = _next_day()
    folder = settings.landing_dir / "survey_responses"
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.csv").write_text(",".join(SURVEY_HEADER) + f"\nS1,C1,{day}T10:00:00Z,online,9,{CANARY},\n")
    records = [_record(day, 0)]
    name = _write_csv(settings, day, records)
    for n, kind in enumerate(kinds):
        entry = folder / f"{day.isoformat()}_{kind}_{n}.csv"
        if kind == "symlink_out":
            entry.symlink_to(outside / "secret.csv")
        elif kind == "symlink_in":
            entry.symlink_to(settings.landing_dir / name)
        elif kind == "dangling":
            entry.symlink_to(outside / "nothing.csv")
        elif kind == "dir":
            entry.mkdir()
        else:
            os.mkfifo(entry)
    _check_day(settings, day, name, records)
    files = ledger(settings, "survey_responses", day)
    rejected = files[files["status"] == "rejected"]
    assert len(rejected) == len(kinds) and rejected["reason"].str.startswith("not_a_regular_file").all()
