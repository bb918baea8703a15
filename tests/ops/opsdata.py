"""A small landing folder for backfill tests, with the cross-day cases whose outcome depends on day order.

Each day has a customer file, a POS file (one valid sale, one with a bad currency) and a survey file. Day 2
re-sends day 1's first sale row for row (quarantined as ``duplicate_id_same_content`` on day 2), and day 3
re-delivers day 1's whole POS file under another name (recorded as a ``duplicate`` file on day 3). A parallel
backfill that ignored day order would load those differently.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from tests.helpers import write_csv

CUSTOMER_HEADER = ["customer_id", "created_at", "region"]
SALE_HEADER = ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel", "region"]
RESPONSE_HEADER = ["response_id", "customer_id", "submitted_at", "channel", "nps", "comment"]


def days_from(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def write_small_landing(landing: Path, days: list[date]) -> None:
    first_sale: list[str] | None = None
    for number, day in enumerate(days, start=1):
        d = day.isoformat()
        write_csv(
            landing / "customers" / f"{d}_crm.csv",
            CUSTOMER_HEADER,
            [[f"C{number}a", f"{d}T09:00:00Z", "North"], [f"C{number}b", f"{d}T10:00:00Z", "South"]],
        )
        sale = [f"T{number}", f"C{number}a", f"{d}T12:00:00Z", f"{10 + number}.50", "GBP", "online", "North"]
        rows = [sale, [f"T{number}x", f"C{number}b", f"{d}T13:00:00Z", "3", "EURO", "phone", "South"]]
        if number == 2 and first_sale is not None:
            rows.append(first_sale)  # a row of day 1, re-sent unchanged
        write_csv(landing / "transactions" / f"{d}_pos.csv", SALE_HEADER, rows)
        if number == 1:
            first_sale = sale
        if number == 3:  # day 1's POS file delivered again, under another name
            first_pos = (landing / "transactions" / f"{days[0].isoformat()}_pos.csv").read_bytes()
            (landing / "transactions" / f"{d}_pos_resend.csv").write_bytes(first_pos)
        write_csv(
            landing / "survey_responses" / f"{d}_cards.csv",
            RESPONSE_HEADER,
            [[f"R{number}", f"C{number}a", f"{d}T15:00:00Z", "email", str(number % 11), "fine"]],
        )


WAREHOUSE_TABLES = ["customers", "transactions", "survey_responses", "quarantine", "file_ledger"]
