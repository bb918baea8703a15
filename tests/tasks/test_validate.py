"""tasks/validate.py: a delivery splits into typed valid rows and quarantined rows with a reason each."""

from __future__ import annotations

from datetime import date

import pandas as pd

from loyalty.delivery import Delivery
from loyalty.settings import Settings
from tasks.validate import validate_days

DAY = date(2026, 11, 20)


def test_validate_days_keeps_valid_rows_typed_and_quarantines_the_rest_with_reasons() -> None:
    rows = pd.DataFrame(
        {
            "response_id": ["R1", "R2", None],
            "submitted_at": ["2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z", "2026-11-20T12:00:00Z"],
            "channel": ["phone", "phone", "online"],
            "nps": ["9", "11", "3"],
            "_source": "day.csv",
            "_source_row": [2, 3, 4],
        }
    )
    malformed = [
        {"source": "day.csv", "source_row": 5, "reason": "csv_wrong_field_count", "detail": "x", "raw_record": {}}
    ]
    delivery = Delivery("survey_responses", DAY, "files", rows, malformed)
    [checked] = validate_days.fn([delivery], Settings(), "survey_responses", [DAY])
    # R1 is valid; R2 has nps 11 (range 0-10); the third has no response_id; line 5 never parsed.
    assert checked.valid["response_id"].tolist() == ["R1"]
    assert int(checked.valid["nps"].iloc[0]) == 9
    assert checked.valid["submitted_at"].iloc[0] == pd.Timestamp("2026-11-20 10:00", tz="UTC")
    reasons = dict(zip(checked.rejected["source_row"], checked.rejected["reason"], strict=True))
    assert reasons == {
        3: "out_of_range:nps",
        4: "missing_required:response_id",
        5: "csv_wrong_field_count",
    }


def test_a_chunk_is_one_suite_run_with_each_days_own_timestamp_window(monkeypatch) -> None:
    # Europe/London is GMT in late November: day D's window ends at D+1 00:00 + 24 h = D+2 00:00 UTC.
    # A stamp of 21 Nov 12:00 lies inside the window of the delivery of 20 Nov (ends 22 Nov 00:00); 22 Nov 12:00
    # lies outside it but inside the window of 21 Nov (ends 23 Nov 00:00).
    import loyalty.validation as validation

    def day_rows(stamps: list[str], prefix: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "response_id": [f"{prefix}{i}" for i in range(len(stamps))],
                "submitted_at": stamps,
                "channel": "online",
                "nps": "9",
                "_source": f"{prefix}.csv",
                "_source_row": range(2, len(stamps) + 2),
            }
        )

    later = date(2026, 11, 21)
    stamps = ["2026-11-21T12:00:00Z", "2026-11-22T12:00:00Z"]
    deliveries = [
        Delivery("survey_responses", DAY, "files", day_rows(stamps, "A"), []),
        Delivery("survey_responses", later, "files", day_rows(stamps, "B"), []),
    ]
    calls = []
    suite = validation.run_suite
    monkeypatch.setattr(validation, "run_suite", lambda frame, entity: calls.append(len(frame)) or suite(frame, entity))
    first, second = validate_days.fn(deliveries, Settings(), "survey_responses", [DAY, later])
    assert calls == [4]  # both days' rows in one suite run
    assert first.valid["response_id"].tolist() == ["A0"]
    assert first.rejected["reason"].tolist() == ["timestamp_out_of_range:submitted_at"]
    assert first.rejected["source_row"].tolist() == [3]
    assert second.valid["response_id"].tolist() == ["B0", "B1"] and second.rejected.empty
    # Each day alone gives the same rows, quarantine details included.
    for together, delivery in zip((first, second), deliveries, strict=True):
        [alone] = validate_days.fn([delivery], Settings(), "survey_responses", [delivery.delivery_day])
        pd.testing.assert_frame_equal(together.valid, alone.valid)
        pd.testing.assert_frame_equal(together.rejected, alone.rejected)
