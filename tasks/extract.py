"""Extract: one entity's delivery for one day, from the landing folder or from a SQL source.

Landing files are read, never edited or moved. Each file is hashed; a file whose content was already
loaded on another delivery day is recorded as a duplicate and skipped, so a file delivered twice loads
once. A SQL source is read by window: the run for day D reads ``[watermark, end of D)``, where the
watermark is where the previous run stopped (or the start of D), and a re-run of D reads the window it
read the first time, so re-running a day is idempotent.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from prefect import task
from prefect.cache_policies import NO_CACHE

from loyalty.contract import get_entity
from loyalty.db import DatabaseUnavailable, check_connection, get_engine, load_sql, masked_driver_errors, redact_url
from loyalty.delivery import Delivery, FileRecord
from loyalty.intake import (
    SUPPORTED_FORMATS,
    FileRejected,
    landing_format,
    landing_name,
    list_landing_entries,
    load_column_mapping,
    parse_file,
    read_landing_file,
)
from loyalty.settings import Settings
from loyalty.timeutil import day_bounds_utc
from tasks.limits import source_slot
from tasks.retry import backoff, retry_on_transient


class LandingMissing(FileNotFoundError):
    pass


def list_landing_files(landing: Path, entity: str, day: date) -> list[Path]:
    """The entity's entries dated ``day``: ``<landing>/<entity>/<YYYY-MM-DD>*``, in name order, any kind."""
    if not landing.is_dir():
        raise LandingMissing(f"landing folder {landing} does not exist")
    return list_landing_entries(landing, entity, day)


def _already_loaded(engine: sa.Engine, entity: str, day: date) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(load_sql("ledger/loaded_files_by_hash"), {"entity": entity, "delivery_day": day})
        return {r.sha256: r.path for r in rows}


def read_landing(settings: Settings, entity_name: str, day: date, warehouse: sa.Engine) -> Delivery:
    entity = get_entity(entity_name)
    landing = settings.landing_dir
    mapping = load_column_mapping(settings.column_mapping_path).get(entity_name, {})
    loaded_elsewhere = _already_loaded(warehouse, entity_name, day)
    seen_today: dict[str, str] = {}
    frames: list[pd.DataFrame] = []
    delivery = Delivery(entity=entity_name, delivery_day=day, source=f"files:{landing}", rows=pd.DataFrame())
    for path in list_landing_files(landing, entity_name, day):
        relative, file_format = landing_name(path, landing), landing_format(path)
        try:  # not a regular file inside the landing folder, too large, unreadable: recorded, never read
            data = read_landing_file(path, landing, settings.max_file_bytes)
        except FileRejected as exc:
            rejected = FileRecord(path=relative, sha256="", size_bytes=exc.size_bytes, file_format=file_format)
            rejected.status, rejected.reason = "rejected", f"{exc.reason}: {exc.detail}"
            delivery.files.append(rejected)
            continue
        record = FileRecord(
            path=relative,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            file_format=file_format,
        )
        delivery.files.append(record)
        original = loaded_elsewhere.get(record.sha256) or seen_today.get(record.sha256)
        if original is not None:
            record.status, record.duplicate_of = "duplicate", original
            record.reason = "same content as an already loaded file"
            continue
        try:
            if path.suffix.lower() not in SUPPORTED_FORMATS:
                raise FileRejected("unsupported_format", f"{path.suffix or 'no suffix'} is not csv, parquet or jsonl")
            parsed = parse_file(data, file_format, relative, entity, mapping)
        except FileRejected as exc:
            record.status, record.reason = "rejected", f"{exc.reason}: {exc.detail}"
            continue
        seen_today[record.sha256] = relative
        record.status, record.warnings = "loaded", parsed.warnings
        frames.append(parsed.rows)
        delivery.malformed.extend(parsed.malformed)
    if frames:
        delivery.rows = pd.concat(frames, ignore_index=True)
    return delivery


def _naive_utc(value: datetime | str | None) -> datetime | None:
    """Ledger timestamps as naive UTC: SQLite hands back text from raw SQL, PostgreSQL aware datetimes."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _window(warehouse: sa.Engine, entity: str, day: date, settings: Settings) -> tuple[datetime, datetime]:
    params = {"entity": entity, "delivery_day": day}
    with warehouse.connect() as conn:
        recorded = conn.execute(load_sql("ledger/recorded_window"), params).first()
        if recorded is not None:
            return _naive_utc(recorded.window_start), _naive_utc(recorded.window_end)  # type: ignore[return-value]
        watermark = _naive_utc(conn.execute(load_sql("ledger/watermark"), params).scalar())
    start, end = day_bounds_utc(day, settings.business_zone)
    if watermark is not None and watermark < start:
        start = watermark  # nights were missed: read the gap too, nothing is skipped
    return start, end


def read_sql_source(settings: Settings, entity_name: str, day: date, warehouse: sa.Engine) -> Delivery:
    entity = get_entity(entity_name)
    if not settings.source_url:
        raise ValueError("source_kind is 'sql' but LOYALTY_SOURCE_URL is not set")
    source = get_engine(settings.source_url)
    check_connection(source)
    start, end = _window(warehouse, entity_name, day, settings)
    mapping = load_column_mapping(settings.column_mapping_path).get(entity_name, {})
    with source.connect() as conn:
        frame = pd.read_sql(load_sql(f"extract/{entity_name}"), conn, params={"window_start": start, "window_end": end})
    from loyalty.intake import map_columns

    chosen, _warnings = map_columns(list(frame.columns), entity, mapping)
    rows = frame[list(chosen)].rename(columns=chosen).astype(object)
    rows["_source"] = f"sql:{entity_name}"
    rows["_source_row"] = None
    return Delivery(
        entity=entity_name,
        delivery_day=day,
        source=f"sql:{redact_url(settings.source_url)}",
        rows=rows.reset_index(drop=True),
        window_start=start,
        window_end=end,
    )


@task(
    name="extract-entity",
    task_run_name="extract-{entity}-{day}",
    retries=3,
    retry_delay_seconds=backoff(5),
    retry_condition_fn=retry_on_transient,
    timeout_seconds=900,
    cache_policy=NO_CACHE,
)
def extract_entity(settings: Settings, entity: str, day: date) -> Delivery:
    """Read one entity's delivery for ``day`` from the configured source (SQL: in a ``loyalty-source`` slot)."""
    warehouse = get_engine(settings.warehouse_url)
    with source_slot(settings), masked_driver_errors(entity, day):
        if settings.source_kind == "sql":
            return read_sql_source(settings, entity, day, warehouse)
        return read_landing(settings, entity, day, warehouse)


def extraction_basis(settings: Settings, entity: str, day: date) -> dict[str, str | None]:
    """What an extract of ``(entity, day)`` would take from the warehouse now.

    For files: the already-loaded files of other days by content hash (a file whose hash is here is recorded
    as a duplicate). For a SQL source: the window that would be read. An extract made ahead of time (a parallel
    backfill prepares days before the days before them are loaded) is only valid if this is unchanged when
    it is loaded: see :func:`basis_unchanged`.
    """
    warehouse = get_engine(settings.warehouse_url)
    if settings.source_kind == "sql":
        start, end = _window(warehouse, entity, day, settings)
        return {"window": f"{start.isoformat()}/{end.isoformat()}"}
    return dict[str, str | None](_already_loaded(warehouse, entity, day))


def basis_unchanged(delivery: Delivery, before: dict[str, str | None], now: dict[str, str | None]) -> bool:
    """Whether ``delivery``, extracted when the warehouse said ``before``, is what an extract would give ``now``."""
    if "window" in before or "window" in now:
        return before.get("window") == now.get("window")
    return all(before.get(f.sha256) == now.get(f.sha256) for f in delivery.files)


__all__ = [
    "DatabaseUnavailable",
    "LandingMissing",
    "basis_unchanged",
    "extract_entity",
    "extraction_basis",
    "list_landing_files",
    "read_landing",
]
