"""tasks/resume.py: the leading days a run already finished, with their files unchanged, are skipped."""

from __future__ import annotations

from datetime import date

from loyalty.contract import ENTITIES
from tasks.resume import first_business_day_of, leading_done_days
from tests.helpers import run_day, write_csv

DAYS = [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]


def _customers_file(settings, day: date, ids: list[str]):
    return write_csv(
        settings.landing_dir / "customers" / f"{day}_crm.csv",
        ["customer_id", "created_at"],
        [[i, f"{day}T09:00:00Z"] for i in ids],
    )


def test_only_the_leading_finished_days_with_unchanged_files_are_done(settings) -> None:
    for number, day in enumerate(DAYS):
        _customers_file(settings, day, [f"C{number}"])
    entities = list(ENTITIES)
    assert leading_done_days.fn(settings, DAYS, entities) == []
    run_day(settings, DAYS[0])
    run_day(settings, DAYS[2])  # finished, but not leading: day 2 is not done
    assert leading_done_days.fn(settings, DAYS, entities) == [DAYS[0]]
    run_day(settings, DAYS[1])
    assert leading_done_days.fn(settings, DAYS, entities) == DAYS
    _customers_file(settings, DAYS[1], ["C1", "C1b"])  # day 2's file changed since it was loaded
    assert leading_done_days.fn(settings, DAYS, entities) == [DAYS[0]]


def test_the_first_business_day_of_the_metric_rows_a_range_loaded(settings) -> None:
    # A late row: the file of the 18th holds a sale of the 12th. The CRM's customer created in 2023 is not a
    # metric row: the metrics of a resumed range start at the 12th, as a load's touched days would.
    write_csv(
        settings.landing_dir / "customers" / "2026-11-18_crm.csv",
        ["customer_id", "created_at"],
        [["C1", "2026-11-18T09:00:00Z"], ["C0", "2023-01-05T09:00:00Z"]],
    )
    write_csv(
        settings.landing_dir / "transactions" / "2026-11-18_pos.csv",
        ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel"],
        [
            ["T1", "C1", "2026-11-18T10:00:00Z", "20.00", "GBP", "online"],
            ["T0", "C0", "2026-11-12T10:00:00Z", "5", "GBP", "online"],
        ],
    )
    run_day(settings, DAYS[2])
    assert first_business_day_of(settings, DAYS[2], DAYS[2]) == date(2026, 11, 12)
    assert first_business_day_of(settings, DAYS[0], DAYS[1]) is None
