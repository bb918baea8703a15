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
from tasks.retry import retrying_task


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


def _loaded_files(engine: sa.Engine, entity: str) -> dict[date, dict[str, str]]:
    """Every loaded file of ``entity``: per delivery day, content hash -> path."""
    out: dict[date, dict[str, str]] = {}
    with engine.connect() as conn:
        for r in conn.execute(load_sql("ledger/loaded_files_of_entity"), {"entity": entity}):
            day = r.delivery_day if isinstance(r.delivery_day, date) else date.fromisoformat(str(r.delivery_day))
            out.setdefault(day, {})[r.sha256] = r.path
    return out


def read_landing(
    settings: Settings,
    entity_name: str,
    day: date,
    warehouse: sa.Engine | None,
    loaded_elsewhere: dict[str, str] | None = None,
    mapping: dict[str, str] | None = None,
) -> Delivery:
    """One day's files; ``loaded_elsewhere`` (hash -> path of files loaded on other days) and ``mapping`` (the
    entity's column mapping) are read if not given."""
    entity = get_entity(entity_name)
    landing = settings.landing_dir
    if mapping is None:
        mapping = load_column_mapping(settings.column_mapping_path).get(entity_name, {})
    if loaded_elsewhere is None:
        assert warehouse is not None
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


def _window(
    warehouse: sa.Engine, entity: str, day: date, settings: Settings, read_before: datetime | None = None
) -> tuple[datetime, datetime]:
    """The window of ``(entity, day)``. ``read_before``: the newest window end that earlier days of the same
    chunk will have recorded by the time this day loads (they are extracted together, before any is loaded)."""
    params = {"entity": entity, "delivery_day": day}
    with warehouse.connect() as conn:
        recorded = conn.execute(load_sql("ledger/recorded_window"), params).first()
        if recorded is not None:
            return _naive_utc(recorded.window_start), _naive_utc(recorded.window_end)  # type: ignore[return-value]
        watermark = _naive_utc(conn.execute(load_sql("ledger/watermark"), params).scalar())
    if read_before is not None and (watermark is None or read_before > watermark):
        watermark = read_before
    start, end = day_bounds_utc(day, settings.business_zone)
    if watermark is not None and watermark < start:
        start = watermark  # nights were missed: read the gap too, nothing is skipped
    return start, end


def read_sql_source(
    settings: Settings, entity_name: str, day: date, warehouse: sa.Engine, read_before: datetime | None = None
) -> Delivery:
    entity = get_entity(entity_name)
    if not settings.source_url:
        raise ValueError("source_kind is 'sql' but LOYALTY_SOURCE_URL is not set")
    source = get_engine(settings.source_url)
    check_connection(source)
    start, end = _window(warehouse, entity_name, day, settings, read_before)
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


def read_days(settings: Settings, entity: str, days: list[date]) -> list[Delivery]:
    """One entity's deliveries of ``days`` (in order), each exactly what a run of that day alone would read.

    The days are read before any of them is loaded, so what a day's read depends on from earlier days of the
    chunk is carried forward here: for files, the files an earlier day loads (a later copy is a duplicate);
    for a SQL source, the end of an earlier day's window (the next window starts there).
    """
    warehouse = get_engine(settings.warehouse_url)
    days = sorted(days)
    with source_slot(settings):
        if settings.source_kind == "sql":
            out, read_before = [], None
            for day in days:
                with masked_driver_errors(entity, day):
                    delivery = read_sql_source(settings, entity, day, warehouse, read_before)
                read_before = delivery.window_end
                out.append(delivery)
            return out
        loaded = _loaded_files(warehouse, entity)
        mapping = load_column_mapping(settings.column_mapping_path).get(entity, {})
        out = []
        for day in days:
            elsewhere: dict[str, str] = {}
            for other, files in loaded.items():
                if other != day:
                    elsewhere.update(files)
            with masked_driver_errors(entity, day):
                delivery = read_landing(settings, entity, day, warehouse, elsewhere, mapping)
            loaded[day] = {f.sha256: f.path for f in delivery.files if f.status == "loaded"}
            out.append(delivery)
        return out


def _days_name(parameters: dict) -> str:
    return f"{parameters['entity']}-{days_label(parameters['days'])}"


def days_label(days: list[date]) -> str:
    """``2026-11-16`` for one day, ``2026-11-16..2026-11-22`` for a range (task and flow run names)."""
    first, last = min(days).isoformat(), max(days).isoformat()
    return first if first == last else f"{first}..{last}"


@retrying_task(
    name="extract",
    task_run_name=lambda: "extract-" + _days_name(_task_parameters()),
    retries=3,
    delay=12,
    timeout_seconds=1800,
    cache_policy=NO_CACHE,
)
def extract_days(settings: Settings, entity: str, days: list[date]) -> list[Delivery]:
    """Read one entity's deliveries of a chunk of days from the configured source (SQL: in a source slot)."""
    return read_days(settings, entity, days)


def _task_parameters() -> dict:
    from prefect import runtime

    return runtime.task_run.parameters


__all__ = [
    "DatabaseUnavailable",
    "LandingMissing",
    "days_label",
    "extract_days",
    "list_landing_files",
    "read_landing",
]
