"""The call list a team receives: control customers never on it, formula cells neutralised (pure)."""

from __future__ import annotations

import csv
import io

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.call_list import CALL_LIST_COLUMNS, build_call_list, call_list_csv, neutralise_cell


def test_neutralise_cell_prefixes_every_formula_start():
    assert neutralise_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert [neutralise_cell(v) for v in ("+1", "-1", "@SUM(A1)", "\tx", "\rx")] == [
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
    ]
    assert neutralise_cell(-12.5) == "'-12.50" and neutralise_cell(12.5) == "12.50"
    assert neutralise_cell("North") == "North" and neutralise_cell(None) == "" and neutralise_cell(float("nan")) == ""


_text = st.text(alphabet=st.sampled_from(list("=+-@\t\r,\"'ab N1")), max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.booleans(),
            st.sampled_from(["North", "=South", "+East"]),
            st.sampled_from(["open", "contacted", "resolved"]),
            _text,
            st.floats(-500, 500),
        ),
        max_size=25,
    )
)
def test_no_control_case_and_no_live_formula_ever_reaches_the_export(rows):
    frame = pd.DataFrame(
        {
            "week": "2026-W47",
            "case_id": [f"C{i}:2026-W46" for i in range(len(rows))],
            "customer_id": [f"C{i}" for i in range(len(rows))],
            "email_masked": [r[3] for r in rows],
            "region": [r[1] for r in rows],
            "list_week": "2026-W46",
            "status": [r[2] for r in rows],
            "age_days": 7,
            "sla_due_day": pd.Timestamp("2026-11-17").date(),
            "contact_attempts": 0,
            "value_at_risk": [r[4] for r in rows],
            "is_detractor": True,
            "is_control": [r[0] for r in rows],
            "reason": [r[3] for r in rows],
        }
    )
    for region in ("North", "=South", "+East"):
        text = call_list_csv(build_call_list(frame, week="2026-W47", region=region))
        parsed = list(csv.reader(io.StringIO(text, newline="")))
        assert parsed[0] == CALL_LIST_COLUMNS
        exported = {row[0] for row in parsed[1:]}
        control = set(frame.loc[frame["is_control"], "case_id"])
        assert not exported & control
        expected = frame.loc[
            (frame["region"] == region) & ~frame["is_control"] & frame["status"].isin(["open", "contacted"])
        ]
        assert exported == set(expected["case_id"])
        for row in parsed[1:]:
            assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row
