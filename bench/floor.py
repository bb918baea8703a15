"""The floor: the bare read plus write of the same rows into the warehouse, nothing else.

Every landing file of every delivery day is read with the plainest reader of its format (the ``csv`` module,
``json`` per line, pyarrow for Parquet), its headers mapped onto contract names, and every row written as text
into a table per entity with the contract's columns: ``executemany`` on SQLite, ``COPY`` on PostgreSQL, one
transaction per entity and delivery day (the project's unit of work). No parsing of values, no validation,
no duplicates check, no provenance columns, no metrics. Whatever the pipeline does beyond this costs more.

The statements are SQLAlchemy Core, compiled once per dialect into text for the raw driver (no SQL is built
from strings here): the writes themselves go through ``sqlite3`` and ``psycopg`` directly, as a floor should.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from bench.data import BENCH_ENTITIES, landing_files
from bench.targets import Target
from loyalty.contract import CONTRACT_COLUMNS
from loyalty.intake import load_column_mapping

Row = tuple[str | None, ...]


def _header_map(entity: str, mapping: dict[str, dict[str, str]]) -> dict[str, str]:
    folded = {k.strip().casefold(): v for k, v in (mapping.get(entity) or {}).items()}
    folded.update({c.casefold(): c for c in CONTRACT_COLUMNS[entity]})
    return folded


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def read_file(path: Path, entity: str, headers: dict[str, str]) -> list[Row]:
    """The file's rows as tuples of text in contract column order (None where absent)."""
    columns = CONTRACT_COLUMNS[entity]
    position = {c: i for i, c in enumerate(columns)}
    suffix = path.suffix.lower()
    rows: list[Row] = []
    if suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            slots = [position.get(headers.get(h.strip().casefold(), ""), -1) for h in header]
            width = len(columns)
            for record in reader:
                row: list[str | None] = [None] * width
                for slot, value in zip(slots, record, strict=False):
                    if slot >= 0 and value != "":
                        row[slot] = value
                rows.append(tuple(row))
    elif suffix == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                record = json.loads(line)
                mapped = {headers.get(k.strip().casefold()): v for k, v in record.items()}
                rows.append(tuple(_text(mapped.get(c)) for c in columns))
    elif suffix == ".parquet":
        table = pq.read_table(path)
        by_name = {headers.get(n.strip().casefold()): n for n in table.column_names}
        values = [table.column(by_name[c]).to_pylist() if c in by_name else [None] * table.num_rows for c in columns]
        rows.extend(tuple(_text(v) for v in row) for row in zip(*values, strict=True))
    return rows


_FLOOR_TABLES = sa.MetaData()
TABLES = {
    entity: sa.Table(entity, _FLOOR_TABLES, *(sa.Column(c, sa.Text()) for c in CONTRACT_COLUMNS[entity]))
    for entity in BENCH_ENTITIES
}


def _sql(statement: sa.ClauseElement, dialect: Dialect) -> str:
    return str(statement.compile(dialect=dialect))


def _create_tables_sql(dialect: Dialect) -> list[str]:
    return [_sql(sa.schema.CreateTable(table), dialect) for table in TABLES.values()]


def _count_sql(entity: str, dialect: Dialect) -> str:
    return _sql(sa.select(sa.func.count()).select_from(TABLES[entity]), dialect)


def _deliveries(landing: Path, days: Iterable[date], mapping_path: Path) -> Iterable[tuple[str, list[Row]]]:
    mapping = load_column_mapping(mapping_path)
    headers = {entity: _header_map(entity, mapping) for entity in BENCH_ENTITIES}
    for day in days:
        for entity in BENCH_ENTITIES:
            rows: list[Row] = []
            for path in landing_files(landing, entity, day):
                rows.extend(read_file(path, entity, headers[entity]))
            yield entity, rows


def load_floor(target: Target, landing: Path, days: list[date], mapping_path: Path) -> dict[str, int]:
    """Write every row of the landing files of ``days`` into a fresh warehouse; rows written per entity."""
    target.reset()
    written = dict.fromkeys(BENCH_ENTITIES, 0)
    if target.engine == "sqlite":
        dialect = sqlite.dialect(paramstyle="qmark")
        inserts = {
            e: _sql(t.insert().values({c.name: sa.bindparam(c.name) for c in t.c}), dialect) for e, t in TABLES.items()
        }
        conn = sqlite3.connect(target.sqlite_path, isolation_level=None)
        try:
            conn.execute("pragma journal_mode=wal")
            for ddl in _create_tables_sql(dialect):
                conn.execute(ddl)
            for entity, rows in _deliveries(landing, days, mapping_path):
                conn.execute("begin immediate")
                conn.executemany(inserts[entity], rows)
                conn.execute("commit")
                written[entity] += len(rows)
        finally:
            conn.close()
        return written
    import psycopg
    from psycopg import sql

    options = f"-c search_path={target.schema} -c TimeZone=UTC"
    with psycopg.connect(target.conninfo(), options=options) as conn:
        for ddl in _create_tables_sql(postgresql.dialect()):
            conn.execute(ddl.encode())
        conn.commit()
        for entity, rows in _deliveries(landing, days, mapping_path):
            copy_sql = sql.SQL("copy {} from stdin").format(sql.Identifier(entity))
            with conn.transaction(), conn.cursor().copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            written[entity] += len(rows)
    return written


def count_rows(target: Target) -> dict[str, int]:
    """Rows in the floor's tables (tests and a check after each run)."""
    if target.engine == "sqlite":
        conn = sqlite3.connect(target.sqlite_path)
        try:
            return {e: conn.execute(_count_sql(e, sqlite.dialect())).fetchone()[0] for e in BENCH_ENTITIES}
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(target.conninfo(), options=f"-c search_path={target.schema}") as conn:
        return {e: conn.execute(_count_sql(e, postgresql.dialect()).encode()).fetchone()[0] for e in BENCH_ENTITIES}
