"""Issue 14: hostile source files, on SQLite and PostgreSQL. One test (or family) per finding of the intake.

Each test feeds the finding's input and similar ones, then asserts through tests/hostile.py: the day and the
next day load; rows in = loaded + quarantined per file; the canary planted in hostile rows leaks nowhere.
"""

from __future__ import annotations

import io
import json
import os
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.weeks import iso_week_label
from tests.helpers import write_jsonl
from tests.hostile import CANARY, SURVEY_HEADER, ledger, loaded, quarantine, run_and_check, survey_csv

DAY = date(2026, 11, 30)
SURVEYS = "survey_responses"


def reasons_by_row(settings, day=DAY) -> dict[int, str]:
    """Line -> the first reason (a value nulled as invalid also fails its required check; that comes second)."""
    q = quarantine(settings, SURVEYS, day)
    return dict(zip(q["source_row"], q["reason"], strict=True))


# --- finding 1: timestamps outside a plausible window -----------------------------------------------------------


def test_far_dated_and_ancient_timestamps_are_quarantined_with_their_own_reason(settings, caplog):
    # Window for delivery day 2026-11-30 (London is on GMT then): from 2000-01-01T00:00Z (the default
    # LOYALTY_EARLIEST_TIMESTAMP) to the end of the day (2026-12-01T00:00Z) + 24 h = 2026-12-02T00:00Z, exclusive.
    stamps = {
        2: ("9999-12-31T12:00:00Z", False),  # the reported row: crashed every nightly after it
        3: ("0001-01-01T00:00:00Z", False),  # year 0 in London time: crashed the day
        4: ("0001-01-01T00:00:00", False),  # naive, read in London
        5: ("1900-01-01T00:00:00Z", False),  # reopened 396 s worth of weeks
        6: ("2036-06-01T00:00:00+02:00", False),
        7: ("1999-12-31T23:59:59Z", False),  # one second before the earliest instant
        8: ("2000-01-01T00:00:00Z", True),  # the earliest instant itself
        9: ("2026-12-01T23:59:59Z", True),  # within 24 h after the day's end
        10: ("2026-12-02T00:00:00Z", False),  # exactly 24 h after: the end is exclusive
        11: ("2026-11-30T12:00:00Z", True),
    }
    rows = [
        [f"R{line}", "C1", stamp, "online", "8", f"mail me at {CANARY}", "North"] for line, (stamp, _) in stamps.items()
    ]
    survey_csv(settings.landing_dir / SURVEYS / "2026-11-30_a.csv", rows)

    summary = run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.csv": 10}, caplog)

    assert (summary.rows_loaded, summary.rows_quarantined) == (3, 7)
    assert reasons_by_row(settings) == {
        line: "timestamp_out_of_range:submitted_at" for line, (_, ok) in stamps.items() if not ok
    }
    # The weeks the load touched are the plausible ones only: no 1900, no 9999, no thousands of weeks.
    # (2000-01-01 was a Saturday of 1999-W52; 2026-11-30 is the Monday of 2026-W49.)
    assert {iso_week_label(d) for d in summary.business_days} == {"1999-W52", "2026-W49"}


def test_the_window_is_a_setting(settings):
    narrow = settings.model_copy(update={"earliest_timestamp": date(2026, 11, 1), "max_future_hours": 0})
    survey_csv(
        narrow.landing_dir / SURVEYS / "2026-11-30_a.csv",
        [
            ["R1", "C1", "2026-10-31T23:59:59Z", "online", "8", "", ""],  # before 2026-11-01 (GMT)
            ["R2", "C1", "2026-11-30T23:59:59Z", "online", "8", "", ""],  # last second of the day
            ["R3", "C1", "2026-12-01T00:00:00Z", "online", "8", "", ""],  # no future hours allowed
        ],
    )
    summary = run_and_check(narrow, DAY, SURVEYS)
    assert summary.rows_loaded == 1
    assert reasons_by_row(narrow) == {
        2: "timestamp_out_of_range:submitted_at",
        4: "timestamp_out_of_range:submitted_at",
    }


# --- finding 2: NUL and lone surrogates --------------------------------------------------------------------------


def test_nul_and_lone_surrogates_are_quarantined_per_row_and_never_leak(settings, caplog):
    # CSV: NUL in a region, in a comment, in an id. JSONL: a lone surrogate (escaped, as JSON allows) in an
    # email, in a customer id. The canary email rides in every hostile row.
    survey_csv(
        settings.landing_dir / SURVEYS / "2026-11-30_a.csv",
        [
            ["R1", "C1", "2026-11-30T10:00:00Z", "online", "9", f"ok {CANARY}", "No\x00rth"],
            ["R2", "C1", "2026-11-30T10:00:00Z", "online", "9", f"bad\x00 {CANARY}", "North"],
            ["R3\x00", "C1", "2026-11-30T10:00:00Z", "online", "9", CANARY, "North"],
            ["R4", "C1", "2026-11-30T10:00:00Z", "online", "9", "fine", "North"],
        ],
    )
    lines = [
        '{"customer_id":"C9","created_at":"2026-11-30T09:00:00Z","email":"' + CANARY + '\\ud800"}',
        '{"customer_id":"C9\\udfff","created_at":"2026-11-30T09:00:00Z","email":"' + CANARY + '"}',
        '{"customer_id":"C10","created_at":"2026-11-30T09:00:00Z","email":"ok@example.com"}',
    ]
    path = settings.landing_dir / "customers" / "2026-11-30_c.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.csv": 4}, caplog)
    customers = run_and_check(settings, DAY, "customers", {"customers/2026-11-30_c.jsonl": 3}, caplog)

    assert reasons_by_row(settings) == {
        2: "forbidden_character:region",
        3: "forbidden_character:comment",
        4: "forbidden_character:response_id",
    }
    assert (customers.rows_loaded, customers.rows_quarantined) == (1, 2)
    q = quarantine(settings, "customers", DAY)
    assert q["reason"].tolist() == ["forbidden_character:email", "forbidden_character:customer_id"]
    # The raw record is kept for replay (the surrogate as a JSON escape); the key label is storable text.
    assert json.loads(q["raw_record"].iloc[0])["email"] == CANARY + "\ud800"
    assert q["source_key"].iloc[1] == "C9\\udfff"


# --- finding 3: one bad line never fails the entity-day -----------------------------------------------------------


def test_deeply_nested_jsonl_line_is_one_quarantined_row(settings, caplog):
    good = {"response_id": "R1", "submitted_at": "2026-11-30T10:00:00Z", "channel": "online", "nps": 9}
    deep = "[" * 200_000 + "]" * 200_000
    objects = '{"a":' * 100 + "1" + "}" * 100
    lines = [
        json.dumps(good),
        deep,
        '{"response_id": "R2", "x": ' + objects + "}",
        json.dumps({**good, "response_id": "R3"}),
    ]
    (settings.landing_dir / SURVEYS / "2026-11-30_a.jsonl").write_text("\n".join(lines), encoding="utf-8")

    summary = run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.jsonl": 4}, caplog)

    assert (summary.rows_loaded, summary.rows_quarantined) == (2, 2)
    assert reasons_by_row(settings) == {2: "jsonl_unparseable", 3: "jsonl_unparseable"}


def test_parquet_binary_columns_are_text_when_utf8_and_quarantined_when_not(settings, caplog):
    table = pa.table(
        {
            "response_id": pa.array([b"R1", b"R2", b"R3"], type=pa.binary()),
            "submitted_at": ["2026-11-30T10:00:00Z"] * 3,
            "channel": ["online"] * 3,
            "nps": [9, 8, 7],
            "comment": pa.array([b"caf\xc3\xa9", b"\xff\xfe" + CANARY.encode(), None], type=pa.binary()),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    (settings.landing_dir / SURVEYS / "2026-11-30_a.parquet").write_bytes(buffer.getvalue())

    summary = run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.parquet": 3}, caplog)

    assert (summary.rows_loaded, summary.rows_quarantined) == (2, 1)
    assert reasons_by_row(settings) == {2: "not_utf8:comment"}
    comments = loaded(settings, SURVEYS, DAY)["comment"]
    assert comments.iloc[0] == "café" and pd.isna(comments.iloc[1])


def test_odd_iso_spellings_mixed_with_ordinary_timestamps_cost_their_own_row_at_most(settings):
    spellings = [
        "20261130T120000Z",  # ISO basic format
        "2026-11-30T12Z",  # hour only, with Z
        "2026-11-30T12:00:00",  # naive
        "2026-11-30T12:00:00+0100",
        "2026-11-30 12:00",
        "2026-11-30T12:00:00.123456789Z",
        "2026-W49-1",  # ISO week date: not a form pandas reads
        "2026-11-30T25:00:00Z",
    ]
    rows = [[f"R{i}", "C1", s, "online", "8", "", ""] for i, s in enumerate(spellings)]
    survey_csv(settings.landing_dir / SURVEYS / "2026-11-30_a.csv", rows)

    summary = run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.csv": len(spellings)})

    got = pd.to_datetime(loaded(settings, SURVEYS, DAY).set_index("response_id")["submitted_at"], utc=True)
    noon = pd.Timestamp("2026-11-30T12:00:00Z")
    # Every spelling of 12:00 UTC loads as that instant (London is on GMT); +0100 is 11:00 UTC.
    assert [got[f"R{i}"] for i in (0, 1, 2, 4)] == [noon] * 4
    assert got["R3"] == pd.Timestamp("2026-11-30T11:00:00Z")
    assert got["R5"].floor("s") == noon
    # An ISO week date and hour 25 are not timestamps pandas can read: those two rows only.
    assert reasons_by_row(settings) == {
        8: "unparseable_timestamp:submitted_at",
        9: "unparseable_timestamp:submitted_at",
    }
    assert summary.rows_quarantined == 2


def test_an_unreadable_file_is_rejected_and_the_other_files_load(settings, monkeypatch):
    survey_csv(
        settings.landing_dir / SURVEYS / "2026-11-30_a.csv",
        [["R1", "C1", "2026-11-30T10:00:00Z", "online", "9", "", ""]],
    )
    broken = survey_csv(
        settings.landing_dir / SURVEYS / "2026-11-30_b.csv",
        [["R2", "C1", "2026-11-30T10:00:00Z", "online", "9", "", ""]],
    )
    real_open = os.open

    def failing_open(path, flags, *args, **kwargs):  # root reads chmod-000 files, so the error is injected
        if os.fspath(path) == os.fspath(broken):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing_open)
    summary = run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.csv": 1})
    assert summary.rows_loaded == 1
    files = ledger(settings, SURVEYS, DAY).set_index("path")
    assert files.loc["survey_responses/2026-11-30_b.csv", "status"] == "rejected"
    assert files.loc["survey_responses/2026-11-30_b.csv", "reason"].startswith("unreadable_file")


# --- finding 4: long CSV fields ----------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [131_071, 131_072, 131_073, 1_000_000])
def test_long_csv_fields_load_whole_and_the_rows_after_them_too(settings, length):
    comment = ("x" * 99 + " ") * (length // 100) + "y" * (length % 100)
    assert len(comment) == length
    survey_csv(
        settings.landing_dir / SURVEYS / "2026-11-30_a.csv",
        [
            ["R1", "C1", "2026-11-30T10:00:00Z", "online", "9", comment, ""],
            ["R2", "C1", "2026-11-30T10:00:00Z", "online", "9", "after the long one", ""],
            ["R3", "C1", "2026-11-30T10:00:00Z", "online", "9", "and another", ""],
        ],
    )
    summary = run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.csv": 3})
    assert (summary.rows_loaded, summary.rows_quarantined) == (3, 0)
    assert loaded(settings, SURVEYS, DAY).set_index("response_id")["comment"]["R1"] == comment


def test_a_stray_quote_quarantines_its_own_line_only(settings):
    text = (
        ",".join(SURVEY_HEADER) + "\n"
        "R1,C1,2026-11-30T10:00:00Z,online,9,fine,\n"
        'R2,C1,2026-11-30T10:00:00Z,online,9,"never closed,\n'
        "R3,C1,2026-11-30T10:00:00Z,online,9,fine too,\n"
        'R4,C1,2026-11-30T10:00:00Z,online,9,"a ""quoted"" word",\n'
        "R5,C1,2026-11-30T10:00:00Z,online,9,last,\n"
    )
    (settings.landing_dir / SURVEYS / "2026-11-30_a.csv").write_text(text, encoding="utf-8")
    summary = run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.csv": 5})
    assert reasons_by_row(settings) == {3: "csv_malformed"}
    assert loaded(settings, SURVEYS, DAY)["response_id"].tolist() == ["R1", "R3", "R4", "R5"]
    assert summary.rows_quarantined == 1


def test_a_multi_line_record_with_a_wrong_field_count_is_quarantined_once(settings):
    # A legitimate quoted line break, in a record with one field too many: one record in, one quarantined (not one
    # per line, as when a stray quote is recovered from), and the records around it load.
    text = (
        ",".join(SURVEY_HEADER) + "\n"
        "R1,C1,2026-11-30T10:00:00Z,online,9,fine,\n"
        'R2,C1,2026-11-30T10:00:00Z,online,9,"line one\nline two",,extra\n'
        "R3,C1,2026-11-30T10:00:00Z,online,9,last,\n"
    )
    (settings.landing_dir / SURVEYS / "2026-11-30_a.csv").write_text(text, encoding="utf-8")
    summary = run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.csv": 3})
    assert reasons_by_row(settings) == {3: "csv_wrong_field_count"}
    assert loaded(settings, SURVEYS, DAY)["response_id"].tolist() == ["R1", "R3"]
    assert summary.rows_quarantined == 1


# --- finding 5: symlinks and other non-regular entries ------------------------------------------------------------


def test_only_regular_files_inside_the_landing_folder_are_read(settings, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "shadow"
    secret.write_text(f"root:{CANARY}:19000:0:99999:7:::\n", encoding="utf-8")
    foreign = survey_csv(outside / "foreign.csv", [["RX", "C1", "2026-11-30T10:00:00Z", "online", "9", CANARY, ""]])
    folder = settings.landing_dir / SURVEYS
    good = survey_csv(folder / "2026-11-30_a.csv", [["R1", "C1", "2026-11-30T10:00:00Z", "online", "9", "", ""]])
    (folder / "2026-11-30_shadow.csv").symlink_to(secret)
    (folder / "2026-11-30_foreign.csv").symlink_to(foreign)
    (folder / "2026-11-30_inside.csv").symlink_to(good)  # even a link to a landing file: not a regular file
    (folder / "2026-11-30_dangling.csv").symlink_to(outside / "missing.csv")
    (folder / "2026-11-30_dir.csv").mkdir()
    os.mkfifo(folder / "2026-11-30_fifo.csv")  # opening a FIFO for reading would block the run

    summary = run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.csv": 1})

    assert (summary.rows_in, summary.rows_loaded) == (1, 1)
    files = ledger(settings, SURVEYS, DAY).set_index("path")
    rejected = files[files["status"] == "rejected"]
    assert sorted(rejected.index) == [
        f"survey_responses/2026-11-30_{name}.csv" for name in ("dangling", "dir", "fifo", "foreign", "inside", "shadow")
    ]
    assert rejected["reason"].str.startswith("not_a_regular_file").all()
    assert quarantine(settings, SURVEYS, DAY).empty


# --- finding 12: nested values ------------------------------------------------------------------------------------


def test_nested_values_are_quarantined_never_loaded_as_text(settings, caplog):
    base = {"submitted_at": "2026-11-30T10:00:00Z", "channel": "online", "nps": 9}
    write_jsonl(
        settings.landing_dir / SURVEYS / "2026-11-30_a.jsonl",
        [
            {**base, "response_id": {"id": 7}},
            {**base, "response_id": "R2", "region": ["North", "South"]},
            {**base, "response_id": "R3", "comment": {"text": CANARY}},
            {**base, "response_id": "R4", "nps": [9]},
            {**base, "response_id": "R5"},
        ],
    )
    with (settings.landing_dir / SURVEYS / "2026-11-30_a.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"response_id": "R6", "submitted_at": "2026-11-30T10:00:00Z", "channel": "online", "nps": NaN}\n')
    table = pa.table(
        {
            "response_id": ["P1", "P2"],
            "submitted_at": ["2026-11-30T10:00:00Z"] * 2,
            "channel": ["online"] * 2,
            "nps": [9, 9],
            "region": pa.array([["North", "South"], None], type=pa.list_(pa.string())),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    (settings.landing_dir / SURVEYS / "2026-11-30_b.parquet").write_bytes(buffer.getvalue())

    expected = {"survey_responses/2026-11-30_a.jsonl": 6, "survey_responses/2026-11-30_b.parquet": 2}
    summary = run_and_check(settings, DAY, SURVEYS, expected, caplog)

    q = quarantine(settings, SURVEYS, DAY)
    got = dict(zip(zip(q["source"].str[-5:], q["source_row"], strict=True), q["reasons"], strict=True))
    assert got == {
        ("jsonl", 1): "not_a_scalar:response_id;missing_required:response_id",
        ("jsonl", 2): "not_a_scalar:region",
        ("jsonl", 3): "not_a_scalar:comment",
        ("jsonl", 4): "not_a_scalar:nps;no_answer",  # its only answer was invalid
        ("jsonl", 6): "non_finite_number:nps;no_answer",
        ("rquet", 1): "not_a_scalar:region",
    }
    assert (summary.rows_loaded, summary.rows_quarantined) == (2, 6)
    # The raw record keeps the nested value as JSON structure, for replay.
    first = json.loads(q.iloc[0]["raw_record"])
    assert first["response_id"] == {"id": 7}


# --- finding 13: size guard ----------------------------------------------------------------------------------------


def test_files_over_the_size_limit_are_rejected_unread(settings):
    folder = settings.landing_dir / SURVEYS
    survey_csv(folder / "2026-11-30_a.csv", [["R1", "C1", "2026-11-30T10:00:00Z", "online", "9", "", ""]])
    sparse = folder / "2026-11-30_huge.csv"
    with sparse.open("wb") as handle:  # 3 GiB of holes: reading it whole would need 3 GiB and more
        handle.truncate(3 * 1024**3)
    small_limit = settings.model_copy(update={"max_file_bytes": 1000})
    survey_csv(
        folder / "2026-11-30_c.csv",
        [[f"R{i}", "C1", "2026-11-30T10:00:00Z", "online", "9", "x" * 40, ""] for i in range(2, 40)],
    )

    summary = run_and_check(small_limit, DAY, SURVEYS, {"survey_responses/2026-11-30_a.csv": 1})

    assert summary.rows_loaded == 1
    files = ledger(small_limit, SURVEYS, DAY).set_index("path")
    assert files.loc["survey_responses/2026-11-30_huge.csv", "reason"].startswith("file_too_large")
    assert files.loc["survey_responses/2026-11-30_huge.csv", "size_bytes"] == 3 * 1024**3
    assert files.loc["survey_responses/2026-11-30_c.csv", "reason"].startswith("file_too_large")
    # The default limit (256 MiB) rejects the 3 GiB file too, without reading it.
    default = run_and_check(settings, DAY, SURVEYS)
    assert default.rows_loaded == 1 + 38


# --- finding 14: whitespace ---------------------------------------------------------------------------------------


def test_comments_keep_their_whitespace_byte_for_byte_and_ids_are_trimmed(settings):
    comments = ["  leading", "trailing  \t", "\n\nblank lines around\n\n", " \u00a0nbsp\u3000", "   "]
    rows = [[f" R{i} ", "C1", "2026-11-30T10:00:00Z", "online", "9", c, ""] for i, c in enumerate(comments)]
    survey_csv(settings.landing_dir / SURVEYS / "2026-11-30_a.csv", rows)
    summary = run_and_check(settings, DAY, SURVEYS)
    assert summary.rows_loaded == len(comments)
    stored = loaded(settings, SURVEYS, DAY).set_index("response_id")["comment"]
    assert [stored[f"R{i}"] for i in range(4)] == comments[:4]
    assert pd.isna(stored["R4"])  # only whitespace: no comment (and it does not count as an answer)


# --- finding 10: names and values shown on the terminal and in logs ---------------------------------------------


def test_hostile_file_names_and_regions_are_shown_escaped(project_env, caplog, prefect_harness):
    import logging

    from typer.testing import CliRunner

    from cli.main import app
    from tasks.chunk import intake_chunk

    settings = project_env
    folder = settings.landing_dir / SURVEYS
    names = ["2026-11-30_\x1b[2J\x1b[31mred.csv", "2026-11-30_a\r\nINFO forged.csv", "2026-11-30_\u202eVSC.txt"]
    for name in names:
        (folder / name).write_text("not,a,valid\nfile", encoding="utf-8")
    (folder / "2026-11-30_dir\x1b]0;title\x07").mkdir()
    survey_csv(folder / "2026-11-30_ok.csv", [["R1", "C1", "2026-11-30T10:00:00Z", "online", "9", "", "\u202eTSAE"]])

    caplog.set_level(logging.INFO)
    outcome = intake_chunk(settings, [DAY], "run-10", [SURVEYS], logger=logging.getLogger("flows.test"))
    assert not outcome.failures
    status = CliRunner().invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    shown = status.output + caplog.text
    for raw in ("\x1b", "\r", "\u202e", "\x07"):
        assert raw not in shown
    assert "\\x1b[2J\\x1b[31mred.csv" in status.output and "\\u202eVSC.txt" in shown
    assert "INFO forged" not in shown.split("\n")[0]  # never at the start of a line of its own
    assert not any(line.startswith("INFO forged") for line in shown.splitlines())
    # The warehouse keeps the exact values.
    assert loaded(settings, SURVEYS, DAY)["region"].tolist() == ["\u202eTSAE"]
    assert set(names) <= {p.rpartition("/")[2] for p in ledger(settings, SURVEYS, DAY)["path"]}
    # The "unknown region" error shows the name escaped too.
    result = CliRunner().invoke(app, ["report", "render", "--week", "2026-W49", "--region", "\u202eHTRON\x1b[2J"])
    assert result.exit_code == 2 and "\\u202eHTRON\\x1b[2J" in result.output and "\x1b" not in result.output


def test_a_huge_id_or_region_is_one_quarantined_row_not_a_failed_day(settings):
    # PostgreSQL cannot index a value over 2,704 bytes: before, one such customer id failed the entity-day.
    survey_csv(
        settings.landing_dir / SURVEYS / "2026-11-30_a.csv",
        [
            ["R1", "é" * 131_072, "2026-11-30T10:00:00Z", "online", "9", "", ""],
            ["R2", "C1", "2026-11-30T10:00:00Z", "online", "9", "", "North" * 101],
            ["R3", "C1", "2026-11-30T10:00:00Z", "online", "9", "", "N" * 500],
        ],
    )
    summary = run_and_check(settings, DAY, SURVEYS, {"survey_responses/2026-11-30_a.csv": 3})
    assert reasons_by_row(settings) == {2: "too_long:customer_id", 3: "too_long:region"}
    assert summary.rows_loaded == 1
