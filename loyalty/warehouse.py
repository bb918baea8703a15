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


def _loaded_elsewhere(conn: Connection, table: sa.Table, key: str, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    column = table.c[key]
    for start in range(0, len(ids), 900):  # SQLite caps bound parameters per statement
        chunk = ids[start : start + 900]
        rows = conn.execute(sa.select(column, table.c.record_hash).where(column.in_(chunk)))
        found.update({r[0]: r[1] for r in rows})
    return found


def write_partition(
    engine: Engine,
    checked: CheckedDelivery,
    run_id: str,
    business_tz: str,
    finish: Callable[[Connection, LoadSummary], None] | None = None,
) -> LoadSummary:
    """Replace the delivery partition with this delivery, in one transaction; return exact counts.

    ``finish`` runs inside the same transaction once the counts are known (the run ledger's end of this day),
    so the partition and its ledger record commit together or not at all.
    """
    delivery = checked.delivery
    entity = get_entity(delivery.entity)
    table = ENTITY_TABLES[entity.name]
    now = utc_now_naive()
    valid = checked.valid
    rejected = checked.rejected.copy()

    with engine.begin() as conn:
        lock_partition(conn, entity.name, delivery.delivery_day)
        keeps_months = entity.name == "transactions"
        months_before = partition_customer_months(conn, delivery.delivery_day) if keeps_months else set()
        conn.execute(table.delete().where(table.c.delivery_day == delivery.delivery_day))
        conn.execute(
            quarantine.delete().where(
                (quarantine.c.entity == entity.name) & (quarantine.c.delivery_day == delivery.delivery_day)
            )
        )
        conn.execute(
            file_ledger.delete().where(
                (file_ledger.c.entity == entity.name) & (file_ledger.c.delivery_day == delivery.delivery_day)
            )
        )

        existing = _loaded_elsewhere(conn, table, entity.key, valid[entity.key].tolist()) if len(valid) else {}
        if existing:
            known = valid[entity.key].map(existing)
            same = (known.notna() & (known == valid["record_hash"])).to_numpy()
            conflict = (known.notna() & (known != valid["record_hash"])).to_numpy()
            late_rejects = []
            for mask, reason, detail in (
                (same, "duplicate_id_same_content", f"{entity.key} already loaded by an earlier delivery"),
                (conflict, "duplicate_id_conflict", f"{entity.key} already loaded with different content"),
            ):
                if mask.any():
                    part = valid.loc[mask]
                    late_rejects.append(
                        pd.DataFrame(
                            {
                                "source": part["_source"].to_numpy(),
                                "source_row": part["_source_row"].to_numpy(),
                                "source_key": part[entity.key].astype(str).to_numpy(),
                                "reason": reason,
                                "reasons": reason,
                                "detail": detail,
                                "raw_record": _raw_from_typed(part, entity.column_names),
                            }
                        )
                    )
            rejected = pd.concat([rejected, *late_rejects], ignore_index=True)
            valid = valid.loc[~(same | conflict)]

        business_zone = business_tz
        rows = valid[entity.column_names].copy()
        rows["business_day"] = (
            pd.to_datetime(valid[entity.timestamp], utc=True).dt.tz_convert(business_zone).dt.date
            if len(valid)
            else pd.Series([], dtype=object)
        )
        rows["delivery_day"] = delivery.delivery_day
        rows["source"] = valid["_source"].to_numpy()
        rows["source_row"] = [None if pd.isna(v) else int(v) for v in valid["_source_row"]]
        rows["run_id"] = run_id
        rows["record_hash"] = valid["record_hash"].to_numpy()
        _insert(conn, table, list(rows.columns), _tuples(rows))
        if keeps_months:  # its derived rows are pending with the partition, in its transaction (loyalty/derived.py)
            months_now = {
                (customer_id, month_of(day))
                for customer_id, day in zip(rows["customer_id"], rows["business_day"], strict=True)
                if customer_id is not None
            }
            mark_customer_months(conn, months_before | months_now)

        quarantine_rows = _quarantine_records(rejected, entity.name, delivery.delivery_day, run_id, now)
        _insert_dicts(conn, quarantine, quarantine_rows)

        loaded_per_file = Counter(valid["_source"].tolist())
        rejected_per_file = Counter(rejected["source"].tolist()) if len(rejected) else Counter()
        ledger_rows = []
        for record in delivery.files:
            if record.status == "loaded":
                record.rows_loaded = loaded_per_file.get(record.path, 0)
                record.rows_quarantined = rejected_per_file.get(record.path, 0)
                record.rows_in = record.rows_loaded + record.rows_quarantined
            ledger_rows.append(
                {
                    "entity": entity.name,
                    "delivery_day": delivery.delivery_day,
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
            )
        _insert_dicts(conn, file_ledger, ledger_rows)

        rows_loaded = len(rows)
        rows_quarantined = len(quarantine_rows)
        if rows_loaded + rows_quarantined != checked.rows_in:  # the invariant the whole design rests on
            raise AssertionError(
                f"{entity.name} {delivery.delivery_day}: in={checked.rows_in} but loaded={rows_loaded} "
                f"+ quarantined={rows_quarantined}"
            )
        statuses = Counter(f.status for f in delivery.files)
        summary = LoadSummary(
            entity=entity.name,
            delivery_day=delivery.delivery_day,
            rows_in=checked.rows_in,
            rows_loaded=rows_loaded,
            rows_quarantined=rows_quarantined,
            files_seen=len(delivery.files),
            files_loaded=statuses.get("loaded", 0),
            files_duplicate=statuses.get("duplicate", 0),
            files_rejected=statuses.get("rejected", 0),
            business_days=tuple(sorted(set(rows["business_day"]))),
            quarantined_by_reason=dict(sorted(Counter(r["reason"] for r in quarantine_rows).items())),
            failed_rules=failed_rules([r["reasons"] for r in quarantine_rows]),
        )
        if finish is not None:
            finish(conn, summary)
    return summary


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
    rejected: pd.DataFrame, entity: str, day: date, run_id: str, now: datetime
) -> list[dict[str, Any]]:
    rows = []
    for record in rejected.to_dict("records"):
        source_row = record.get("source_row")
        rows.append(
            {
                "run_id": run_id,
                "entity": entity,
                "delivery_day": day,
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
