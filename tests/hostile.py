"""Shared checks for the hostile-source tests: run a day, then prove the three things every such test asserts.

1. the pipeline keeps working: the day loads without raising, and so does the next day;
2. rows in = rows loaded + rows quarantined, per file (from the file ledger) and per entity;
3. nothing leaks: a canary value planted in the hostile rows appears in no log line, no run-ledger error, no
   quarantine reason or detail, and no file-ledger reason or warning.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from loyalty.db import get_engine
from loyalty.delivery import LoadSummary
from loyalty.settings import Settings
from tests.helpers import run_day, write_csv

# Distinctive enough that finding it anywhere means it leaked.
CANARY = "canary-9d41@leak.example.com"
SURVEY_HEADER = ["response_id", "customer_id", "submitted_at", "channel", "nps", "comment", "region"]


def ledger(settings: Settings, entity: str, day: date) -> pd.DataFrame:
    with get_engine(settings.warehouse_url).connect() as conn:
        return pd.read_sql(
            sa.text("select * from file_ledger where entity = :e and delivery_day = :d order by path"),
            conn,
            params={"e": entity, "d": day},
        )


def quarantine(settings: Settings, entity: str, day: date) -> pd.DataFrame:
    with get_engine(settings.warehouse_url).connect() as conn:
        return pd.read_sql(
            sa.text("select * from quarantine where entity = :e and delivery_day = :d order by source, source_row"),
            conn,
            params={"e": entity, "d": day},
        )


def loaded(settings: Settings, table: str, day: date) -> pd.DataFrame:
    with get_engine(settings.warehouse_url).connect() as conn:
        return pd.read_sql(
            sa.text(f"select * from {table} where delivery_day = :d order by source, source_row"),  # noqa: S608
            conn,
            params={"d": day},
        )


def run_and_check(
    settings: Settings,
    day: date,
    entity: str,
    expected_in: dict[str, int] | None = None,
    caplog: pytest.LogCaptureFixture | None = None,
    secrets: tuple[str, ...] = (CANARY,),
) -> LoadSummary:
    """Run ``entity`` for ``day`` and assert the three properties; ``expected_in`` is rows in per loaded file."""
    if caplog is not None:
        caplog.set_level(logging.DEBUG)
    summary = run_day(settings, day, entities=[entity])[entity]
    assert summary.rows_in == summary.rows_loaded + summary.rows_quarantined
    files = ledger(settings, entity, day)
    per_file = files[files["status"] == "loaded"]
    for row in per_file.itertuples():
        assert row.rows_in == row.rows_loaded + row.rows_quarantined, row.path
    if expected_in is not None:
        assert dict(zip(per_file["path"], per_file["rows_in"], strict=True)) == expected_in
    assert int(per_file["rows_in"].sum()) == summary.rows_in
    assert_nothing_leaks(settings, caplog, secrets)
    next_day_loads(settings, entity, day + timedelta(days=1))
    return summary


def next_day_loads(settings: Settings, entity: str, day: date) -> None:
    """The day after the hostile one loads an ordinary file as usual."""
    if entity != "survey_responses":
        return
    rid = f"NEXT-{day.isoformat()}"
    write_csv(
        settings.landing_dir / entity / f"{day.isoformat()}_next.csv",
        SURVEY_HEADER,
        [[rid, "C1", f"{day.isoformat()}T10:00:00Z", "online", "9", "fine", "North"]],
    )
    summary = run_day(settings, day, entities=[entity])[entity]
    assert (summary.rows_in, summary.rows_loaded, summary.rows_quarantined) == (1, 1, 0)


def assert_nothing_leaks(
    settings: Settings, caplog: pytest.LogCaptureFixture | None, secrets: tuple[str, ...] = (CANARY,)
) -> None:
    texts: list[str] = []
    with get_engine(settings.warehouse_url).connect() as conn:
        for sql in (
            "select error from run_ledger",
            "select reason, detail, source_key from quarantine",
            "select reason, warnings from file_ledger",
        ):
            for row in conn.execute(sa.text(sql)):
                texts.extend(str(v) for v in row if v is not None)
    if caplog is not None:
        texts.extend(r.getMessage() for r in caplog.records)
        texts.append(caplog.text)
    for secret in secrets:
        assert not any(secret in t for t in texts), f"{secret!r} leaked"


def survey_csv(path: Path, rows: list[list[str]]) -> Path:
    return write_csv(path, SURVEY_HEADER, rows)
