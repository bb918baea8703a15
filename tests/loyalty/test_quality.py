"""loyalty/quality.py: validation results as counts (the UI artifact), a quarantined row masked for the terminal,
and a day's changes between two replays. Tiny inputs worked out by hand."""

from __future__ import annotations

import json
from datetime import date

import pytest

from loyalty.delivery import LoadSummary
from loyalty.quality import DayState, day_changes, expectation_of, failed_rules, masked_record, validation_rows

DAY = date(2026, 11, 16)
CANARY = "canary-9d41@leak.example.com"


def _summary(entity: str, rows_in: int, loaded: int, rules: dict[str, int]) -> LoadSummary:
    return LoadSummary(entity, DAY, rows_in, loaded, rows_in - loaded, 1, 1, 0, 0, (), {}, rules)


@pytest.mark.parametrize(
    ("entity", "code", "check"),
    [
        ("survey_responses", "out_of_range:nps", "expect_column_values_to_be_between(nps)"),
        ("transactions", "bad_format:currency", "expect_column_values_to_match_regex(currency)"),
        ("transactions", "missing_required:channel", "expect_column_values_to_not_be_null(channel)"),
        ("survey_responses", "no_answer", "expect_column_values_to_be_in_set(has_any_answer)"),
        ("transactions", "not_a_number:amount", "contract type of amount (parsed before the suite)"),
        ("customers", "duplicate_id_conflict", "unique id (in the delivery and across deliveries)"),
        ("customers", "csv_wrong_field_count", "file parser (CSV)"),
    ],
)
def test_each_reason_code_names_its_check(entity: str, code: str, check: str) -> None:
    assert expectation_of(entity, code) == check


def test_failed_rules_counts_every_reason_of_a_row() -> None:
    assert failed_rules(["unknown_value:channel;out_of_range:nps", "out_of_range:nps", ""]) == {
        "out_of_range:nps": 2,
        "unknown_value:channel": 1,
    }


def test_validation_rows_hold_counts_and_codes_only() -> None:
    rows = validation_rows(
        [
            _summary("survey_responses", 3, 1, {"out_of_range:nps": 2, "unknown_value:channel": 1}),
            _summary("customers", 2, 2, {}),
            _summary("outreach", 0, 0, {}),
        ],
        {(DAY, "transactions"): f"ValueError: bad {CANARY}"},
    )
    assert [(r["entity"], r["reason code"], r["check"], r["rows failing"]) for r in rows] == [
        ("customers", "", "every rule passed", 0),
        ("survey_responses", "out_of_range:nps", "expect_column_values_to_be_between(nps)", 2),
        ("survey_responses", "unknown_value:channel", "expect_column_values_to_be_in_set(channel)", 1),
        ("outreach", "", "no rows delivered", 0),
        ("transactions", "", "not validated: the delivery failed (see the run's failures)", None),
    ]
    assert rows[1]["rows in"] == 3 and rows[1]["loaded"] == 1 and rows[1]["quarantined"] == 2
    assert CANARY not in json.dumps(rows)  # a failure's message is not copied: it is the failures table's


def test_a_quarantined_row_is_masked_as_the_report_masks() -> None:
    raw = {
        "response_id": "R1",
        "customer_id": "C1\x1b[31m",
        "nps": "12",
        "comment": f"write to {CANARY}",
        "region": "\u202eTSAE",
    }
    shown = masked_record("survey_responses", json.dumps(raw))
    assert shown == "response_id=R1 customer_id=C1\\x1b[31m nps=12 comment=(free text, 37 chars) region=\\u202eTSAE"
    customer = masked_record("customers", json.dumps({"customer_id": "C9", "email": "jane.doe@example.com"}))
    assert customer == "customer_id=C9 email=j***@example.com"
    note = masked_record("outreach", json.dumps({"outreach_id": "O1", "note": CANARY}))
    assert CANARY not in note and "note=(hidden, 28 chars)" in note
    line = masked_record("survey_responses", json.dumps({"text": f"R2,{CANARY},oops"}))
    assert line == "text=(36 chars)"
    assert masked_record("transactions", json.dumps({"region": "x" * 100})) == "region=" + "x" * 39 + "…"


def test_day_changes_name_what_moved() -> None:
    before = DayState(
        DAY,
        loaded={"survey_responses": 1, "customers": 2},
        quarantined={"survey_responses": 1},
        rules={"survey_responses": {"out_of_range:nps": 1, "unknown_value:channel": 1}},
        files={"survey_responses": {"loaded": 1}, "customers": {"loaded": 1}},
    )
    after = DayState(
        DAY,
        loaded={"survey_responses": 2, "customers": 2},
        quarantined={"survey_responses": 1},
        rules={"survey_responses": {"no_answer": 1}},
        files={"survey_responses": {"loaded": 1}, "customers": {"loaded": 1}},
    )
    counts, rules = day_changes(before, after)
    assert [(c.entity, c.before, c.after, c.changed) for c in counts] == [
        ("customers", (2, 2, 0), (2, 2, 0), False),
        ("survey_responses", (2, 1, 1), (3, 2, 1), True),
    ]
    assert [(r.code, r.before, r.after, r.verdict) for r in rules] == [
        ("no_answer", 0, 1, "appeared"),
        ("out_of_range:nps", 1, 0, "disappeared"),
        ("unknown_value:channel", 1, 0, "disappeared"),
    ]
    assert day_changes(after, after)[1] == []
