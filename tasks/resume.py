"""Resuming a backfill: which of its leading delivery days are already done, and where their rows begin.

A backfill never needs this to be correct: each delivery day replaces its own partitions, so re-running a
range that was half loaded (a crash, a ``kill -9``) finishes it and loads nothing twice. This only saves the
time of re-doing the days that are done.

A day is done when, for every entity asked for, a run finished it successfully and, for a landing folder,
the files of that day are still exactly the files the file ledger recorded (same names, same sha256): a file
added or changed since makes the day, and every day after it, run again. Only the *leading* done days are
skipped. Once one day is loaded again, every later day is loaded again too, because a delivery's duplicates
are judged against the deliveries before it. So a resumed backfill leaves the warehouse exactly as a full
re-run would.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date

import pandas as pd
from prefect.cache_policies import NO_CACHE

from loyalty.db import get_engine, load_sql
from loyalty.intake import FileRejected, landing_name, read_landing_file
from loyalty.settings import Settings
from tasks.extract import list_landing_files
from tasks.retry import retrying_task


def _day(value: object) -> date:
    return pd.Timestamp(value).date()  # SQLite hands back text, PostgreSQL dates


def _landing_files(settings: Settings, entity: str, day: date) -> set[tuple[str, str]]:
    landing = settings.landing_dir
    files = set()
    for path in list_landing_files(landing, entity, day):
        try:  # the same guard as the extract: a symlink or an oversized file is never read
            digest = hashlib.sha256(read_landing_file(path, landing, settings.max_file_bytes)).hexdigest()
        except FileRejected:
            digest = ""  # what the file ledger records for a rejected entry
        files.add((landing_name(path, landing), digest))
    return files


@retrying_task(
    name="find-done-days",
    retries=3,
    delay=5,
    timeout_seconds=600,
    cache_policy=NO_CACHE,
)
def leading_done_days(settings: Settings, days: list[date], entities: list[str]) -> list[date]:
    """The longest run of ``days`` from the first that are done (see the module docstring)."""
    if not days:
        return []
    params = {"first_day": days[0], "last_day": days[-1]}
    with get_engine(settings.warehouse_url).connect() as conn:
        succeeded = {
            (r.entity, _day(r.delivery_day)) for r in conn.execute(load_sql("ledger/succeeded_deliveries"), params)
        }
        recorded: dict[tuple[str, date], set[tuple[str, str]]] = defaultdict(set)
        for r in conn.execute(load_sql("ledger/recorded_files"), params):
            recorded[(r.entity, _day(r.delivery_day))].add((r.path, r.sha256))
    done: list[date] = []
    for day in days:
        for entity in entities:
            if (entity, day) not in succeeded:
                return done
            if settings.source_kind == "files" and _landing_files(settings, entity, day) != recorded[(entity, day)]:
                return done
        done.append(day)
    return done


def first_business_day_of(settings: Settings, first_day: date, last_day: date) -> date | None:
    """The earliest business day of the rows loaded by deliveries ``first_day`` .. ``last_day``."""
    with get_engine(settings.warehouse_url).connect() as conn:
        value = conn.execute(
            load_sql("metrics/first_business_day_of_deliveries"), {"first_day": first_day, "last_day": last_day}
        ).scalar()
    return None if value is None else _day(value)
