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
