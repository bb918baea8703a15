"""Writing a delivery day into the warehouse: one transaction per entity and day, replaced whole.

The unit a run replaces is the delivery partition ``(entity, delivery_day)``: its rows, its quarantine rows
and its file-ledger rows. Inside the same transaction each valid row is checked against rows that other
deliveries already loaded: an identical copy is quarantined as ``duplicate_id_same_content`` (the first
delivery keeps it), a different row under a loaded id as ``duplicate_id_conflict``. So a re-run of a day
leaves the warehouse identical, and a late row (a file of one day holding rows of an earlier day) lands in
its own ``business_day`` without disturbing the rows already loaded for that day.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from loyalty.contract import get_entity
from loyalty.db import load_sql
from loyalty.delivery import CheckedDelivery, LoadSummary
from loyalty.derived import mark_customer_months, month_of, partition_customer_months
from loyalty.quality import failed_rules
from loyalty.schema import ENTITY_TABLES, file_ledger, quarantine
from loyalty.textsafe import json_text
from loyalty.timeutil import utc_now_naive

_CHUNK = 5000


def lock_partition(conn: Connection, entity: str, day: date) -> None:
    """Serialise writers of one partition. SQLite's BEGIN IMMEDIATE already holds the database write lock."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"{entity}:{day.isoformat()}".encode())
        conn.execute(sa.text("select pg_advisory_xact_lock(:key)"), {"key": key})


def _column_values(series: pd.Series) -> list[Any]:
    """One column as plain Python values for the driver: None for missing, naive UTC datetimes, ints, floats."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        naive = series.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_pydatetime()
        return [None if v is pd.NaT or v is None else v for v in naive.tolist()]
    if str(series.dtype) == "Int64":
        return [None if v is pd.NA else int(v) for v in series.tolist()]
    if pd.api.types.is_float_dtype(series.dtype):
        return [None if v != v else float(v) for v in series.tolist()]
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in series.tolist()]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain Python rows for the driver: None for missing, naive UTC datetimes, ints and floats."""
    out = {column: _column_values(frame[column]) for column in frame.columns}
    return [dict(zip(out, row, strict=True)) for row in zip(*out.values(), strict=True)] if out else []


def _tuples(frame: pd.DataFrame) -> list[tuple]:
    """The frame's rows as tuples of plain Python values, built column by column."""
    columns = [_column_values(frame[c]) for c in frame.columns]
    return list(zip(*columns, strict=True)) if columns else []


def _insert(conn: Connection, table: sa.Table, columns: list[str], rows: list[tuple]) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) through the driver's fast path, inside ``conn``'s transaction.

    PostgreSQL: ``COPY ... FROM STDIN``. SQLite: the driver's ``executemany`` of tuples. Either way each value
    first goes through the column type's own bind processor, so what is stored is exactly what SQLAlchemy's
    ``insert()`` would store (SQLite keeps dates and timestamps as ISO text in SQLAlchemy's format).
    """
    if not rows:
        return
    dialect = conn.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    if any(processors):
        converters = [(i, p) for i, p in enumerate(processors) if p is not None]
        processed = []
        for row in rows:
            values = list(row)
            for i, process in converters:
                if values[i] is not None:
                    values[i] = process(values[i])
            processed.append(tuple(values))
        rows = processed
    driver = conn.connection.driver_connection
    assert driver is not None, "a checked-out connection always has its DBAPI connection"
    cursor = driver.cursor()
    try:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{c}"' for c in columns)
            with cursor.copy(f'copy "{table.name}" ({names}) from stdin') as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            names = ", ".join(f'"{c}"' for c in columns)
            statement = f'insert into "{table.name}" ({names}) values ({", ".join("?" for _ in columns)})'
            for start in range(0, len(rows), _CHUNK):
                cursor.executemany(statement, rows[start : start + _CHUNK])
    finally:
        cursor.close()


def _insert_dicts(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        columns = list(rows[0])
        _insert(conn, table, columns, [tuple(r[c] for c in columns) for r in rows])


def _loaded_ids(conn: Connection, table: sa.Table, key: str, ids: list[str]) -> dict[str, tuple[str, date]]:
    """Of ``ids``, those the table holds: id -> (record_hash, delivery_day of its partition)."""
    found: dict[str, tuple[str, date]] = {}
    column = table.c[key]
    for chunk in _in_chunks(ids):  # SQLite caps bound parameters per statement
        rows = conn.execute(sa.select(column, table.c.record_hash, table.c.delivery_day).where(column.in_(chunk)))
        found.update({r[0]: (r[1], _as_day(r[2])) for r in rows})
    return found


def _as_day(value: Any) -> date:
    """A Date column's value: a date, or its ISO text from a raw SQLite read."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def write_partitions(
    engine: Engine,
    checked: list[CheckedDelivery],
    run_id: str,
    business_tz: str,
    finish: Callable[[Connection, list[LoadSummary]], None] | None = None,
) -> list[LoadSummary]:
    """Replace the delivery partitions of one entity's deliveries (a chunk of days, in day order) in one
    transaction; return each day's exact counts, in the same order.

    The rows are what replacing the days one after another, each in its own transaction, leaves: a valid row
    whose id an earlier delivery loaded is quarantined as a duplicate of it (same content or conflict), and
    inside the chunk the first day that holds an id is that earlier delivery for the later ones. Each day's
    quarantine rows keep their order (its rejected rows, then its same-content duplicates, then its
    conflicts). A re-run included: a day's rows are compared with the old rows of the chunk's later days too,
    which replacing the days one by one would still find when that day is replaced. ``finish`` runs inside the
    same transaction once every day's counts are known, with the days' summaries (the run ledger's end of those
    days), so the partitions and their ledger records commit together or not at all.

    The work is per chunk, not per day: one DELETE per table, one lookup of earlier ids, one insert per table
    (tasks/load.py falls back to one day per call when a chunk's write fails, to find the failing day)."""
    if not checked:
        return []
    entity = get_entity(checked[0].delivery.entity)
    if any(item.delivery.entity != entity.name for item in checked):
        raise ValueError("write_partitions takes deliveries of one entity")
    days = [item.delivery.delivery_day for item in checked]
    if len(set(days)) != len(days):
        raise ValueError("write_partitions takes one delivery per day")
    table = ENTITY_TABLES[entity.name]
    now = utc_now_naive()
    # Every day's valid rows in one frame, in day order; _DAY is the day's position in ``checked``.
    valid_parts = [item.valid.assign(**{_DAY: i}) for i, item in enumerate(checked) if len(item.valid)]
    valid = pd.concat(valid_parts, ignore_index=True) if valid_parts else None

    with engine.begin() as conn:
        for day in sorted(days):
            lock_partition(conn, entity.name, day)
        keeps_months = entity.name == "transactions"
        months_before: set[tuple[str, str]] = set()
        if keeps_months:
            for day in days:
                months_before |= partition_customer_months(conn, day)
        # Which ids the warehouse holds, and in which partition, before this chunk's are deleted: the old rows
        # of a later day of the chunk are still there when an earlier day is replaced, one day after another.
        found = (
            _loaded_ids(conn, table, entity.key, pd.unique(valid[entity.key].to_numpy()).tolist())
            if valid is not None
            else {}
        )
        for day_chunk in _in_chunks(days):
            conn.execute(table.delete().where(table.c.delivery_day.in_(day_chunk)))
            conn.execute(
                quarantine.delete().where(
                    (quarantine.c.entity == entity.name) & quarantine.c.delivery_day.in_(day_chunk)
                )
            )
            conn.execute(
                file_ledger.delete().where(
                    (file_ledger.c.entity == entity.name) & file_ledger.c.delivery_day.in_(day_chunk)
                )
            )

        late: dict[int, list[pd.DataFrame]] = {}
        if valid is not None:
            valid, late = _without_loaded_ids(found, days, entity.key, entity.column_names, valid)
        rows = _partition_rows(valid, entity.column_names, entity.timestamp, days, business_tz, run_id)
        _insert(conn, table, list(rows.columns), _tuples(rows))
        if keeps_months:  # its derived rows are pending with the partition, in its transaction (loyalty/derived.py)
            months_now = {
                (customer_id, month_of(day))
                for customer_id, day in zip(rows["customer_id"], rows["business_day"], strict=True)
                if customer_id is not None
            }
            mark_customer_months(conn, months_before | months_now)

        rejected_parts = []
        for i, item in enumerate(checked):
            for part in (item.rejected, *late.get(i, [])):
                if len(part):
                    rejected_parts.append(part.assign(**{_DAY: i}))
        rejected = pd.concat(rejected_parts, ignore_index=True) if rejected_parts else None
        quarantine_rows = _quarantine_records(rejected, entity.name, days, run_id, now)
        _insert_dicts(conn, quarantine, quarantine_rows)

        day_of_row = rows["delivery_day"].tolist()
        loaded_per_file = Counter(zip(day_of_row, rows["source"].tolist(), strict=True))
        rejected_per_file = Counter((r["delivery_day"], r["source"]) for r in quarantine_rows)
        business_days: dict[date, set[date]] = {day: set() for day in days}
        for day, business_day in zip(day_of_row, rows["business_day"].tolist(), strict=True):
            business_days[day].add(business_day)
        reasons: dict[date, list[str]] = {day: [] for day in days}
        rules: dict[date, list[str]] = {day: [] for day in days}
        for quarantined in quarantine_rows:
            reasons[quarantined["delivery_day"]].append(quarantined["reason"])
            rules[quarantined["delivery_day"]].append(quarantined["reasons"])
        loaded_count = Counter(day_of_row)

        ledger_rows = []
        summaries = []
        for item in checked:
            delivery = item.delivery
            day = delivery.delivery_day
            for record in delivery.files:
                if record.status == "loaded":
                    record.rows_loaded = loaded_per_file.get((day, record.path), 0)
                    record.rows_quarantined = rejected_per_file.get((day, record.path), 0)
                    record.rows_in = record.rows_loaded + record.rows_quarantined
                ledger_rows.append(_ledger_row(entity.name, day, record, run_id, now))
            rows_loaded = loaded_count.get(day, 0)
            rows_quarantined = len(reasons[day])
            if rows_loaded + rows_quarantined != item.rows_in:  # the invariant the whole design rests on
                raise AssertionError(
                    f"{entity.name} {day}: in={item.rows_in} but loaded={rows_loaded} + quarantined={rows_quarantined}"
                )
            statuses = Counter(f.status for f in delivery.files)
            summaries.append(
                LoadSummary(
                    entity=entity.name,
                    delivery_day=day,
                    rows_in=item.rows_in,
                    rows_loaded=rows_loaded,
                    rows_quarantined=rows_quarantined,
                    files_seen=len(delivery.files),
                    files_loaded=statuses.get("loaded", 0),
                    files_duplicate=statuses.get("duplicate", 0),
                    files_rejected=statuses.get("rejected", 0),
                    business_days=tuple(sorted(business_days[day])),
                    quarantined_by_reason=dict(sorted(Counter(reasons[day]).items())),
                    failed_rules=failed_rules(rules[day]),
                )
            )
        _insert_dicts(conn, file_ledger, ledger_rows)
        if finish is not None:
            finish(conn, summaries)
    return summaries


def write_partition(
    engine: Engine,
    checked: CheckedDelivery,
    run_id: str,
    business_tz: str,
    finish: Callable[[Connection, list[LoadSummary]], None] | None = None,
) -> LoadSummary:
    """Replace one delivery partition with this delivery, in one transaction (:func:`write_partitions`)."""
    return write_partitions(engine, [checked], run_id, business_tz, finish)[0]


_DAY = "_day_position"


def _in_chunks(values: list, size: int = 900) -> list[list]:
    """``values`` in lists of at most ``size``: under SQLite's older limit of 999 bound parameters."""
    return [values[start : start + size] for start in range(0, len(values), size)]


def _without_loaded_ids(
    found: dict[str, tuple[str, date]], days: list[date], key: str, columns: list[str], valid: pd.DataFrame
) -> tuple[pd.DataFrame, dict[int, list[pd.DataFrame]]]:
    """The valid rows (of every day, _DAY in order) that replacing the days one after another would load, and
    per day position the rows that become quarantine rows instead: [same content, conflict] as REJECTED frames.

    ``found``: what the warehouse held before the chunk's partitions were deleted (id -> hash, partition; an id
    is in one partition at most). Replacing the days in order, a row of day i meets, as an earlier delivery of
    its id: a row of a partition outside the chunk; else the old row of a later day j > i of the chunk (still
    there when day i is replaced); else the row of the first day of the chunk that loaded the id (an id repeats
    at most once per day: the validation quarantined repeats inside one delivery)."""
    ids = valid[key]
    position = valid[_DAY].to_numpy()
    day_position = {day: i for i, day in enumerate(days)}
    outside = {i: h for i, (h, d) in found.items() if d not in day_position}
    old_later = {i: (h, day_position[d]) for i, (h, d) in found.items() if d in day_position}
    known = ids.map(outside) if outside else pd.Series(None, index=valid.index, dtype="object")
    if old_later:
        old_hash = ids.map({i: h for i, (h, _) in old_later.items()})
        old_position = ids.map({i: p for i, (_, p) in old_later.items()}).to_numpy(dtype=np.float64, na_value=np.nan)
        before_old = known.isna().to_numpy() & (position < old_position)  # NaN compares False
        known[before_old] = old_hash[before_old]
    loads = known.isna().to_numpy()  # rows no earlier delivery holds: the first of each id loads it
    later = np.zeros(len(valid), dtype=bool)
    later[loads] = ids[loads].duplicated(keep="first").to_numpy()
    if later.any():
        first_hash = valid.loc[loads & ~later].set_index(key)["record_hash"]
        known[later] = ids[later].map(first_hash)
    has_known = known.notna().to_numpy()
    if not has_known.any():
        return valid, {}
    same = has_known & (known == valid["record_hash"]).to_numpy()
    conflict = has_known & ~same
    late: dict[int, list[pd.DataFrame]] = {}
    for mask, reason, detail in (
        (same, "duplicate_id_same_content", f"{key} already loaded by an earlier delivery"),
        (conflict, "duplicate_id_conflict", f"{key} already loaded with different content"),
    ):
        if not mask.any():
            continue
        part = valid.loc[mask]
        rejected = pd.DataFrame(
            {
                "source": part["_source"].to_numpy(),
                "source_row": part["_source_row"].to_numpy(),
                "source_key": part[key].astype(str).to_numpy(),
                "reason": reason,
                "reasons": reason,
                "detail": detail,
                "raw_record": _raw_from_typed(part, columns),
            }
        )
        for day, rows in rejected.groupby(position[mask], sort=True):
            late.setdefault(int(day), []).append(rows)
    return valid.loc[~(same | conflict)], late


def _partition_rows(
    valid: pd.DataFrame | None,
    columns: list[str],
    timestamp: str,
    days: list[date],
    business_tz: str,
    run_id: str,
) -> pd.DataFrame:
    """The table's rows of the valid rows: the contract's columns, the business day of the row's timestamp in
    the business time zone, its delivery day, provenance and record hash."""
    if valid is None or not len(valid):
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
        for column in ("business_day", "delivery_day", "source", "source_row", "run_id", "record_hash"):
            empty[column] = pd.Series(dtype="object")
        return empty
    rows = valid[columns].copy()
    rows["business_day"] = pd.to_datetime(valid[timestamp], utc=True).dt.tz_convert(business_tz).dt.date
    rows["delivery_day"] = np.asarray(days, dtype="object")[valid[_DAY].to_numpy()]
    rows["source"] = valid["_source"].to_numpy()
    rows["source_row"] = [None if pd.isna(v) else int(v) for v in valid["_source_row"]]
    rows["run_id"] = run_id
    rows["record_hash"] = valid["record_hash"].to_numpy()
    return rows.reset_index(drop=True)


def _ledger_row(entity: str, day: date, record: Any, run_id: str, now: datetime) -> dict[str, Any]:
    return {
        "entity": entity,
        "delivery_day": day,
        "path": record.path,
        "sha256": record.sha256,
        "size_bytes": record.size_bytes,
        "file_format": record.file_format,
        "status": record.status,
        "reason": record.reason,
        "duplicate_of": record.duplicate_of,
        "warnings": "; ".join(record.warnings) or None,
        "rows_in": record.rows_in,
        "rows_loaded": record.rows_loaded,
        "rows_quarantined": record.rows_quarantined,
        "run_id": run_id,
        "recorded_at": now,
    }


def _raw_from_typed(part: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    records = []
    for row in _records(part[columns]):
        records.append({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()})
    return records


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    return str(value)


def _quarantine_records(
    rejected: pd.DataFrame | None, entity: str, days: list[date], run_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The quarantine table's rows of REJECTED rows carrying _DAY (the position of their day in ``days``)."""
    if rejected is None or not len(rejected):
        return []
    rows = []
    for record in rejected.to_dict("records"):
        source_row = record.get("source_row")
        rows.append(
            {
                "run_id": run_id,
                "entity": entity,
                "delivery_day": days[int(record[_DAY])],
                "source": record["source"],
                "source_row": None if source_row is None or pd.isna(source_row) else int(source_row),
                "source_key": record.get("source_key"),
                "reason": record["reason"][:120],
                "reasons": record["reasons"],
                "detail": record["detail"],
                "raw_record": json_text(record["raw_record"], default=_json_default),
                "quarantined_at": now,
            }
        )
    return rows


#: The tables a load writes that the metrics query (the ledgers and the quarantine are read by key or by day).
_ANALYZED = ("transactions", "survey_responses", "customers", "outreach", "customer_months")
# What the intake looks up per delivery day (ids loaded earlier, the partition's rows, its months, ledgers).
INTAKE_ANALYZED = (*_ANALYZED, "customer_months_pending", "quarantine", "file_ledger")


def refresh_planner_statistics(engine: Engine, tables: tuple[str, ...] = _ANALYZED) -> list[str]:
    """On PostgreSQL, ANALYZE the tables a load wrote whose statistics are missing or stale, before the metrics
    query them (autovacuum's default rule, roughly: more than 50 + 10% of the live rows changed since the last
    ANALYZE or autoanalyze); returns the tables analyzed. The tables are the ones the metrics' queries name,
    found through the search path as those queries find them. A load's last changes reach the statistics
    views within a second or so; a rule about 10% of a table does not hinge on them.

    Autovacuum may be off (it is off on the development machines) or not have run yet after a large load. After the
    year bench's backfill the planner, with no statistics, guessed 8,239 transactions for 3,970,090, chose a
    bitmap scan and sorted the metrics' window on disk (259 MB, 6.9 s) before sending its first row; with them it
    walks ix_transactions_business_day and sorts each day in memory while it streams (3.2 s, overlapping the
    client). One week's metrics on that warehouse, alternating: 35.3 and 36.6 s without statistics, 27.2 and
    29.4 s with. ANALYZE reads a sample (30,000 rows a table by default): about 1 s there, whatever the size;
    a nightly run on fresh statistics pays one query. SQLite: nothing (not measured; its ANALYZE would change
    its plans from then on).

    The intake asks too, before each chunk (``tables``: INTAKE_ANALYZED): a first backfill into an empty
    warehouse otherwise plans its lookups for an empty table all along. The year bench's backfill on a fresh
    PostgreSQL slowed so chunk after chunk: 84 days loaded in its first 20 minutes, a lookup of 900 earlier ids
    taking over 5 s of the server's CPU by then (340 sequential scans of transactions; the same query on a new
    connection 10 ms); after an ANALYZE by hand, the next chunks of 28 days took about 20 s each.
    """
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as conn:
        stale = list(conn.execute(load_sql("derived/stale_statistics"), {"tables": list(tables)}).scalars())
        if stale:
            # Names from pg_stat_user_tables, filtered to the constants above; DDL cannot bind them.
            conn.execute(sa.text(f"analyze {', '.join(stale)}"))
    return stale
