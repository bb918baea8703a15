"""Small helpers shared by tests: writing landing files and running a day through the tasks."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from loyalty.db import get_engine
from loyalty.delivery import LoadSummary
from loyalty.settings import Settings
from tasks.chunk import intake_chunk

PROVENANCE_OF_WRITE = {
    "run_id",
    "recorded_at",
    "quarantined_at",
    "quarantine_id",
    "started_at",
    "finished_at",
}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def run_day(settings: Settings, day: date, run_id: str = "test-run", entities=None) -> dict[str, LoadSummary]:
    """The nightly flow's intake of one day (the real chunk intake, as plain functions); summaries by entity."""
    outcome = intake_chunk(settings, [day], run_id, entities)
    if outcome.failures:
        raise RuntimeError(f"intake of {day} failed: {outcome.failures}")
    return {s.entity: s for s in outcome.summaries}


def table_snapshot(url: str, table: str, drop: set[str] = PROVENANCE_OF_WRITE) -> pd.DataFrame:
    """A table's contents in a stable order, without the columns that only say which run wrote a row."""
    engine = get_engine(url)
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text(f"select * from {table}"), conn)  # noqa: S608 - fixed table names in tests
    frame = frame.drop(columns=[c for c in frame.columns if c in drop])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame) else frame


def build_demo_warehouse(settings: Settings, start: date, end: date, *, n_customers: int = 200) -> list[str]:
    """Demo sources for [start, end] in settings.landing_dir, loaded day by day, metrics computed; the weeks."""
    from datetime import timedelta

    from demo import generate_demo_sources
    from loyalty.schema import migrate
    from tasks.metrics import recompute_metrics, weeks_of_days

    generate_demo_sources(settings.landing_dir, start, end, n_customers=n_customers, source_tz=settings.source_tz)
    migrate(get_engine(settings.warehouse_url))
    touched: set[date] = set()
    day = start
    while day <= end:
        for summary in run_day(settings, day, run_id=f"demo-{day}").values():
            touched.update(summary.business_days)
        day += timedelta(days=1)
    weeks = weeks_of_days(sorted(touched))
    recompute_metrics.fn(settings, weeks)
    return weeks


def load_six_answers(settings: Settings) -> None:
    """A tiny warehouse: on Wednesday 18 November 2026 (2026-W47) six phone answers with NPS 10, 9, 8, 3, 2, 9
    (NPS 16.7) and CSAT 4, and customer C1's purchases of 18 November and, arriving late in that day's file,
    10 November (2026-W46)."""
    write_csv(
        settings.landing_dir / "survey_responses" / "2026-11-18_cards.csv",
        ["response_id", "submitted_at", "channel", "nps", "csat"],
        [[f"R{i}", "2026-11-18T10:00:00Z", "phone", str(n), "4"] for i, n in enumerate([10, 9, 8, 3, 2, 9])],
    )
    write_csv(
        settings.landing_dir / "transactions" / "2026-11-18_pos.csv",
        ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel"],
        [
            ["T1", "C1", "2026-11-18T10:00:00Z", "10.00", "GBP", "online"],
            ["T0", "C1", "2026-11-10T10:00:00Z", "5", "GBP", "online"],
        ],
    )
    run_day(settings, date(2026, 11, 18))
