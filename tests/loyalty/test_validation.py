"""The GX suites built from the contract, run on tiny frames whose outcome is worked out by hand."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd

from loyalty.contract import ENTITIES
from loyalty.validation import rules_for, validate_frame

LONDON = ZoneInfo("Europe/London")
SURVEYS = ENTITIES["survey_responses"]


def _raw(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype=object)
    frame["_source"] = "f.csv"
    frame["_source_row"] = range(2, len(frame) + 2)
    return frame


def test_every_contract_rule_is_an_expectation_with_a_reason():
    reasons = {r.reason: r.expectation for r in rules_for(SURVEYS)}
    assert reasons["missing_required:response_id"] == "ExpectColumnValuesToNotBeNull"
    assert reasons["unknown_value:channel"] == "ExpectColumnValuesToBeInSet"
    for score in ("nps", "csat", "ces", "reliability", "responsiveness", "assurance", "empathy", "tangibles"):
        assert reasons[f"out_of_range:{score}"] == "ExpectColumnValuesToBeBetween"
    assert "no_answer" in reasons


def test_survey_rows_split_exactly_with_reasons():
    base = {"submitted_at": "2026-11-20T10:00:00Z", "channel": "online"}
    rows = [
        {**base, "response_id": "R1", "nps": "10"},  # valid (edge of range)
        {**base, "response_id": "R2", "nps": "11"},  # nps above 10
        {**base, "response_id": "R3", "csat": "0"},  # csat below 1
        {**base, "response_id": "R4", "ces": "8", "comment": "hard"},  # ces above 7
        {**base, "response_id": "R5", "channel": "fax", "nps": "5"},  # unknown channel
        {**base, "response_id": "R6"},  # none of nps, csat, comment
        {**base, "response_id": "R7", "comment": "anonymous card", "channel": "comment_card"},  # valid
        {**base, "response_id": "R8", "nps": "0", "empathy": "6"},  # dimension above 5
        {**base, "response_id": None, "nps": "9"},  # no id
        {**base, "response_id": "R10", "submitted_at": "31/12/2026", "nps": "9"},  # not ISO 8601
    ]
    result = validate_frame(_raw(rows), SURVEYS, LONDON)
    assert result.valid["response_id"].tolist() == ["R1", "R7"]
    got = dict(zip(result.rejected["source_row"], result.rejected["reasons"], strict=True))
    assert got == {
        3: "out_of_range:nps",
        4: "out_of_range:csat",
        5: "out_of_range:ces",
        6: "unknown_value:channel",
        7: "no_answer",
        9: "out_of_range:empathy",
        10: "missing_required:response_id",
        11: "unparseable_timestamp:submitted_at;missing_required:submitted_at",
    }
    assert len(result.valid) + len(result.rejected) == len(rows)


def test_duplicate_ids_in_one_delivery():
    base = {"submitted_at": "2026-11-20T10:00:00Z", "channel": "online"}
    rows = [
        {**base, "response_id": "A", "nps": "9"},
        {**base, "response_id": "A", "nps": "9"},  # identical copy: first kept, this one quarantined
        {**base, "response_id": "B", "nps": "3"},
        {**base, "response_id": "B", "nps": "4"},  # conflicting copies: both quarantined
        {**base, "response_id": "C", "nps": "12"},
        {**base, "response_id": "C", "nps": "7"},  # the invalid copy does not make the valid one a duplicate
    ]
    result = validate_frame(_raw(rows), SURVEYS, LONDON)
    assert result.valid["response_id"].tolist() == ["A", "C"]
    got = dict(zip(result.rejected["source_row"], result.rejected["reason"], strict=True))
    assert got == {
        3: "duplicate_id_same_content",
        4: "duplicate_id_conflict",
        5: "duplicate_id_conflict",
        6: "out_of_range:nps",
    }


def test_hostile_comment_text_is_kept_verbatim_as_data():
    comment = "<script>alert('x')</script>'; DROP TABLE survey_responses; -- http://127.0.0.1:9/"
    rows = [{"response_id": "R1", "submitted_at": "2026-11-20", "channel": "email", "comment": comment}]
    result = validate_frame(_raw(rows), SURVEYS, LONDON)
    assert result.valid["comment"].tolist() == [comment]
