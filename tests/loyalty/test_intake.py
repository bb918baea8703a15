"""Reading files: header mapping, malformed rows with line numbers, whole-file faults."""

from __future__ import annotations

import json

import pytest

from loyalty.contract import ENTITIES
from loyalty.intake import FileRejected, load_column_mapping, map_columns, parse_file
from loyalty.settings import PROJECT_ROOT

TX = ENTITIES["transactions"]


def test_shipped_mapping_maps_every_vendor_header_onto_a_contract_column():
    mapping = load_column_mapping(PROJECT_ROOT / "config" / "column_mapping.yaml")
    for entity, headers in mapping.items():
        assert set(headers.values()) <= set(ENTITIES[entity].column_names), entity
    assert mapping["transactions"]["txn_id"] == "transaction_id"  # keys are matched case-insensitively


def test_map_columns_is_case_insensitive_and_warns_about_extras():
    chosen, warnings = map_columns(
        [" Transaction_ID", "customer_id", "OCCURRED_AT", "amount", "currency", "channel", "loyalty_tier"],
        TX,
        {},
    )
    assert chosen[" Transaction_ID"] == "transaction_id" and chosen["OCCURRED_AT"] == "occurred_at"
    assert warnings == ["ignored column 'loyalty_tier'"]


def test_missing_required_column_rejects_the_file_naming_the_column():
    with pytest.raises(FileRejected) as info:
        map_columns(["transaction_id", "customer_id", "occurred_at", "currency", "channel"], TX, {})
    assert info.value.reason == "missing_required_column:amount"


def test_two_headers_for_one_column_are_ambiguous():
    with pytest.raises(FileRejected) as info:
        map_columns(
            ["transaction_id", "txn_id", "customer_id", "occurred_at", "amount", "currency", "channel"],
            TX,
            {"txn_id": "transaction_id"},
        )
    assert info.value.reason == "ambiguous_column"


def test_csv_rows_keep_their_physical_line_numbers_across_quoted_newlines():
    text = (
        "response_id,submitted_at,channel,comment\n"
        'R1,2026-01-01T00:00:00Z,phone,"line one\nline two"\n'  # one record over lines 2-3
        "R2,2026-01-01T00:00:00Z,phone\n"  # line 4: too few fields
        "\n"  # line 5: blank, skipped
        "R3,2026-01-01T00:00:00Z,email,ok\n"  # line 6
    )
    parsed = parse_file(text.encode(), "csv", "f.csv", ENTITIES["survey_responses"], {})
    assert parsed.rows["response_id"].tolist() == ["R1", "R3"]
    assert parsed.rows["_source_row"].tolist() == [2, 6]
    assert parsed.rows["comment"].iloc[0] == "line one\nline two"
    assert [(m["source_row"], m["reason"]) for m in parsed.malformed] == [(4, "csv_wrong_field_count")]


def test_an_unterminated_quote_quarantines_its_own_line_only():
    # Line 3 opens a quote that never closes. The parser swallows lines 3-4 looking for its end; only line 3 is
    # quarantined and line 4 is read again as the row it is.
    text = 'response_id,submitted_at,channel,comment\nR1,2026-01-01T00:00:00Z,phone,ok\nR2,2026-01-01,phone,"oops\nR3,x,y,z\n'
    parsed = parse_file(text.encode(), "csv", "f.csv", ENTITIES["survey_responses"], {})
    assert parsed.rows["response_id"].tolist() == ["R1", "R3"]
    assert parsed.rows["_source_row"].tolist() == [2, 4]
    assert [(m["source_row"], m["reason"]) for m in parsed.malformed] == [(3, "csv_malformed")]
    assert parsed.malformed[0]["raw_record"]["text"] == 'R2,2026-01-01,phone,"oops\n'


def test_jsonl_bad_lines_are_rows_not_file_failures():
    lines = [
        json.dumps({"response_id": "R1", "submitted_at": "2026-01-01", "channel": "online", "nps": 9}),
        "{not json",
        "[1, 2]",
        "",
    ]
    parsed = parse_file("\n".join(lines).encode(), "jsonl", "f.jsonl", ENTITIES["survey_responses"], {})
    assert parsed.rows["response_id"].tolist() == ["R1"]
    assert [(m["source_row"], m["reason"]) for m in parsed.malformed] == [
        (2, "jsonl_unparseable"),
        (3, "jsonl_not_an_object"),
    ]


def test_non_utf8_is_a_file_fault():
    with pytest.raises(FileRejected) as info:
        parse_file("id,é\n".encode("latin-1"), "csv", "f.csv", TX, {})
    assert info.value.reason == "not_utf8"


def test_a_utf8_bom_is_not_part_of_the_first_header():
    text = "\ufefftransaction_id,customer_id,occurred_at,amount,currency,channel\nT1,C1,2026-01-01,1,GBP,online\n"
    parsed = parse_file(text.encode("utf-8"), "csv", "f.csv", TX, {})
    assert parsed.rows["transaction_id"].tolist() == ["T1"]
