"""The call list a team receives: one region's open cases of one week, as CSV for a CRM import (pure).

Control cases are never on it (:func:`analytics.cases.team_list`). Every cell that a spreadsheet would read as
a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with a single quote,
as OWASP advises against CSV injection; a region or a reason is data, never a formula. That includes a
negative number such as a net refund's value at risk: the CRM then shows ``'-12.50``, which is safe.
Emails are masked; the outreach note is never read.
"""

from __future__ import annotations

import csv
import io

import pandas as pd

from analytics.cases import team_list

__all__ = ["CALL_LIST_COLUMNS", "build_call_list", "call_list_csv", "neutralise_cell"]

CALL_LIST_COLUMNS = [
    "case_id",
    "customer_id",
    "email_masked",
    "region",
    "list_week",
    "status",
    "age_days",
    "sla_due_day",
    "contact_attempts",
    "value_at_risk",
    "is_detractor",
    "reason",
]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> str:
    """The cell's text, with a leading ``'`` when a spreadsheet would otherwise evaluate it."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def build_call_list(weekly_cases: pd.DataFrame, *, week: str, region: str) -> pd.DataFrame:
    """The region's cases still open (open or contacted) at the week's end, control cases left out.

    Detractors first, then by value at risk (highest first), then customer_id.
    """
    cases = team_list(weekly_cases)
    cases = cases.loc[
        (cases["week"] == week) & (cases["region"] == region) & cases["status"].isin(["open", "contacted"])
    ]
    cases = cases.sort_values(
        ["is_detractor", "value_at_risk", "customer_id"], ascending=[False, False, True], kind="stable"
    )
    return cases[CALL_LIST_COLUMNS].reset_index(drop=True)


def call_list_csv(call_list: pd.DataFrame) -> str:
    """CSV text (header + one line per case, CRLF line ends as RFC 4180), every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CALL_LIST_COLUMNS)
    for row in call_list[CALL_LIST_COLUMNS].itertuples(index=False):
        writer.writerow([neutralise_cell(v) for v in row])
    return buffer.getvalue()
