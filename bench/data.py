"""Bench data: the demo generator at a chosen scale, written once per scale as landing files and as a SQL source.

The demo generator (:mod:`demo`) simulates about 8 purchases per customer a year and a survey
after about 25% of them. A year at bench scale needs 100k customers with about 40 purchases each, a survey
after about 10% of purchases and a comment on 40% of the surveys, so :class:`Scale` carries three rate
knobs and :func:`build_bench_frames` passes them to the generator's own simulation
(``demo.simulation.Simulation``: ``purchase_rate``, ``survey_rate``, ``comment_rate``; 1.0 each is the demo).

Everything else is the demo's: the file layout, vendor headers, mixed timestamp formats, late rows, invalid
rows and planted patterns. Churn is per purchase in the simulation, so 5x the purchase rate does not give
5x the purchases; the knobs below were calibrated by measuring (see ``SCALES``).

Data is cached under ``state/bench/<scale>/``: the landing folder, a SQLite source database and a manifest
whose key is the scale's parameters plus :data:`GENERATOR_VERSION`. A run with the same key reuses them.
The PostgreSQL source lives in schema ``src_<scale>`` of the bench database with the same key in a table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

import demo
from demo.simulation import Simulation
from loyalty.contract import ANSWER_COLUMNS, CONTRACT_COLUMNS
from loyalty.settings import STATE_DIR

log = logging.getLogger(__name__)

BENCH_DIR = STATE_DIR / "bench"
#: Bump when the bench data a scale produces changes, so cached data is rebuilt.
GENERATOR_VERSION = 1
#: The last day of every bench range: a fixed Sunday, so the data (and its cache) does not depend on today.
BENCH_END = date(2026, 11, 22)


@dataclass(frozen=True)
class Scale:
    """One bench scale: the range, the customers and the rate knobs of the demo generator."""

    name: str
    length_days: int
    customers: int
    purchase_rate: float = 1.0
    survey_rate: float = 1.0
    comment_rate: float = 1.0
    seed: int = 7
    #: How many times the short measures (nightly, metrics of one week, report) are repeated.
    repeat: int = 3
    end: date = BENCH_END

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.length_days - 1)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def key(self) -> str:
        """What the data depends on (not ``repeat``): the cache key."""
        params = {k: v for k, v in asdict(self).items() if k != "repeat"}
        params["end"] = self.end.isoformat()
        params["generator_version"] = GENERATOR_VERSION
        text = json.dumps(params, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def folder(self) -> Path:
        return BENCH_DIR / self.name

    @property
    def landing(self) -> Path:
        return self.folder / "landing"

    @property
    def source_sqlite(self) -> Path:
        return self.folder / "source.db"

    @property
    def pg_source_schema(self) -> str:
        return f"src_{self.name}"


# Rates calibrated by measuring on this generator: 100k customers over 52 weeks gave 3.92M transactions,
# 394k responses and 39.8% comments with purchase_rate 6.0, survey_rate 0.42 and comment_rate 0.84, hence 6.15.
# (The demo's own rates give about 0.8M transactions, 0.2M responses and 47% comments for 100k customers.)
_YEAR_RATES = {"purchase_rate": 6.15, "survey_rate": 0.42, "comment_rate": 0.84}

SCALES: dict[str, Scale] = {
    # 52 ISO weeks, Monday 2025-11-24 .. Sunday 2026-11-22.
    "year": Scale("year", length_days=364, customers=100_000, **_YEAR_RATES),
    # The same shop over 104 ISO weeks, Monday 2024-11-25 .. Sunday 2026-11-22: does a night or a week cost more
    # with twice the history? (about 8M transactions and 0.8M responses)
    "two-year": Scale("two-year", length_days=728, customers=100_000, **_YEAR_RATES),
    # Everyday use, under 2 minutes: 8 days, so the nightly run of the last day has 7 days of history in both of
    # its measures (at this scale the two nightly measures are the same; the ratio only means something at year).
    "quick": Scale("quick", length_days=8, customers=3_000, **_YEAR_RATES),
    # 18 months of a small shop (the first case): 546 days, Monday 2025-05-26 .. Sunday 2026-11-22, files
    # every day. Measured on this generator: 25,075 customers, 69,057 transactions, 5,075 responses.
    "long": Scale("long", length_days=546, customers=25_000, purchase_rate=0.18, survey_rate=0.3),
    # For tests: a few days, a few hundred rows.
    "tiny": Scale("tiny", length_days=4, customers=150, **_YEAR_RATES),
}


# --------------------------------------------------------------------------------------------------------
# Generating
# --------------------------------------------------------------------------------------------------------


#: The entities the bench generates and loads: the demo simulation's sources. Outreach rows are the care teams'
#: answer to the pipeline's own RETAIN lists (demo/outreach.py), so an intake benchmark has none to load.
BENCH_ENTITIES = ("customers", "transactions", "survey_responses")


def build_bench_frames(scale: Scale, source_tz: str = "Europe/London") -> dict[str, pd.DataFrame]:
    """The demo generator's frames (see :func:`demo.build_demo_frames`) at ``scale``."""
    from zoneinfo import ZoneInfo

    sim = Simulation(
        scale.start,
        scale.end,
        scale.seed,
        scale.customers,
        ZoneInfo(source_tz),
        purchase_rate=scale.purchase_rate,
        survey_rate=scale.survey_rate,
        comment_rate=scale.comment_rate,
    )
    return sim.frames()


def describe_frames(frames: dict[str, pd.DataFrame]) -> dict[str, int | float]:
    """Row counts (invalid rows included) and the share of survey responses with a comment."""
    responses = frames["survey_responses"]
    comments = responses["comment"].fillna("").astype(str).str.strip() != ""
    return {
        "customers": len(frames["customers"]),
        "transactions": len(frames["transactions"]),
        "survey_responses": len(responses),
        "comment_share": round(float(comments.mean()) if len(responses) else 0.0, 4),
        "invalid_rows": int(sum((f["invalid_kind"] != "").sum() for f in frames.values())),
    }


# --------------------------------------------------------------------------------------------------------
# The SQL source: the same rows in the contract's source-table shape (what tasks/extract.py reads)
# --------------------------------------------------------------------------------------------------------

_TIMESTAMP = {"customers": "created_at", "transactions": "occurred_at", "survey_responses": "submitted_at"}
_INTEGERS = set(ANSWER_COLUMNS)


def source_frames(frames: dict[str, pd.DataFrame], source_tz: str = "Europe/London") -> dict[str, pd.DataFrame]:
    """Typed source tables: timestamps as naive UTC, amounts as float, scores as nullable integers.

    A typed source cannot hold what does not parse: rows whose timestamp does not parse are left out (no window
    would ever read them), an amount that is not a number becomes NULL (the pipeline quarantines it as missing).
    Everything else, including invalid channels, currencies, scores and duplicate ids, is kept as delivered.
    """
    out = {}
    for entity, frame in frames.items():
        df = frame.loc[:, list(CONTRACT_COLUMNS[entity])].copy()
        column = _TIMESTAMP[entity]
        df[column] = _utc_naive(df[column], source_tz)
        df = df.loc[df[column].notna()].reset_index(drop=True)
        if entity == "transactions":
            df["amount"] = pd.to_numeric(df["amount"], errors="coerce")
        for name in _INTEGERS & set(df.columns):
            df[name] = pd.to_numeric(df[name], errors="coerce").astype("Int64")
        out[entity] = df
    return out


def _utc_naive(values: pd.Series, source_tz: str) -> pd.Series:
    """Contract timestamps (offset, Z or naive wall-clock in ``source_tz``) as naive UTC; NaT where unparseable."""
    text = values.astype("string")
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(False).to_numpy(bool)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], format="ISO8601", errors="coerce", utc=True)
        out[has_offset] = aware.dt.tz_localize(None).dt.as_unit("us")
    if (~has_offset).any():
        naive = pd.to_datetime(text[~has_offset], format="ISO8601", errors="coerce")
        local = naive.dt.tz_localize(source_tz, ambiguous=True, nonexistent="shift_forward")
        out[~has_offset] = local.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("us")
    return out


def _sqlite_type(column: str) -> sa.types.TypeEngine:
    if column in _INTEGERS:
        return sa.Integer()
    if column == "amount":
        return sa.Float()
    return sa.Text()


def write_sqlite_source(tables: dict[str, pd.DataFrame], path: Path) -> None:
    """A SQLite source database: timestamps as UTC text ``YYYY-MM-DD HH:MM:SS`` (README, SQL source).

    The statements are SQLAlchemy Core compiled for SQLite (no SQL built from strings); rows go through
    ``sqlite3``'s ``executemany``."""
    dialect = sqlite.dialect(paramstyle="qmark")
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        for entity, df in tables.items():
            columns = list(df.columns)
            ts = _TIMESTAMP[entity]
            table = sa.Table(entity, sa.MetaData(), *(sa.Column(c, _sqlite_type(c)) for c in columns))
            conn.execute(str(sa.schema.CreateTable(table).compile(dialect=dialect)))
            values = {c: _plain_column(df[c], timestamp=c == ts) for c in columns}
            rows = zip(*values.values(), strict=True)
            insert = table.insert().values({c: sa.bindparam(c) for c in columns})
            conn.executemany(str(insert.compile(dialect=dialect)), rows)
            index = sa.Index(f"ix_{entity}_{ts}", table.c[ts])
            conn.execute(str(sa.schema.CreateIndex(index).compile(dialect=dialect)))
        conn.commit()
    finally:
        conn.close()


def _plain_column(series: pd.Series, *, timestamp: bool = False) -> list:
    if timestamp:
        return series.dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
    if str(series.dtype) == "Int64":
        return [None if v is pd.NA else int(v) for v in series.tolist()]
    if pd.api.types.is_float_dtype(series.dtype):
        return [None if np.isnan(v) else float(v) for v in series.tolist()]
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in series.tolist()]


def _pg_type(column: str, timestamp: bool) -> str:
    if timestamp:
        return "timestamp"
    if column in _INTEGERS:
        return "smallint"
    if column == "amount":
        return "double precision"
    return "text"


def write_postgres_source(tables: dict[str, pd.DataFrame], conninfo: str, schema: str, key: str) -> None:
    """The same tables in ``schema`` of a PostgreSQL database, by COPY; the cache key in ``bench_manifest``."""
    import psycopg

    with psycopg.connect(conninfo, options="-c TimeZone=UTC") as conn:
        conn.execute(f'drop schema if exists "{schema}" cascade')
        conn.execute(f'create schema "{schema}"')
        for entity, df in tables.items():
            ts = _TIMESTAMP[entity]
            ddl = ", ".join(f"{c} {_pg_type(c, c == ts)}" for c in df.columns)
            conn.execute(f'create table "{schema}".{entity} ({ddl})')
            values = {c: _plain_column(df[c]) if c != ts else df[c].dt.to_pydatetime().tolist() for c in df.columns}
            with conn.cursor().copy(f'copy "{schema}".{entity} ({", ".join(df.columns)}) from stdin') as copy:
                for row in zip(*values.values(), strict=True):
                    copy.write_row(row)
            conn.execute(f'create index on "{schema}".{entity} ({ts})')
        conn.execute(f'create table "{schema}".bench_manifest (key text not null)')
        conn.execute(f'insert into "{schema}".bench_manifest values (%s)', (key,))


def postgres_source_key(conninfo: str, schema: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(conninfo) as conn:
            row = conn.execute(f'select key from "{schema}".bench_manifest').fetchone()
            return row[0] if row else None
    except psycopg.errors.UndefinedTable:
        return None


# --------------------------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------------------------


def manifest_path(scale: Scale) -> Path:
    return scale.folder / "manifest.json"


def read_manifest(scale: Scale) -> dict | None:
    path = manifest_path(scale)
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    return manifest if manifest.get("key") == scale.key() else None


def ensure_data(scale: Scale, *, postgres_conninfo: str | None = None, source_tz: str = "Europe/London") -> dict:
    """Landing files, the SQLite source and (with ``postgres_conninfo``) the PostgreSQL source of ``scale``.

    Reuses what a previous run built with the same key; returns the manifest (counts and build seconds).
    """
    manifest = read_manifest(scale)
    pg_ready = postgres_conninfo is None or (
        postgres_source_key(postgres_conninfo, scale.pg_source_schema) == scale.key()
    )
    if manifest is not None and pg_ready:
        return {**manifest, "reused": True}
    started = time.perf_counter()
    frames = build_bench_frames(scale, source_tz)
    built = time.perf_counter()
    counts = describe_frames(frames)
    if manifest is None:
        if scale.landing.exists():
            shutil.rmtree(scale.landing)
        files = demo.write_demo_files(frames, scale.landing)
    else:
        files = [p for p in scale.landing.rglob("*") if p.is_file()]
    written = time.perf_counter()
    tables = source_frames(frames, source_tz)
    del frames
    if manifest is None:
        write_sqlite_source(tables, scale.source_sqlite)
    sqlite_done = time.perf_counter()
    if postgres_conninfo is not None and not pg_ready:
        write_postgres_source(tables, postgres_conninfo, scale.pg_source_schema, scale.key())
    manifest = {
        "key": scale.key(),
        "scale": scale.name,
        "start": scale.start.isoformat(),
        "end": scale.end.isoformat(),
        "params": {k: v for k, v in asdict(scale).items() if k not in ("name", "end", "repeat")},
        "rows": counts,
        "source_rows": {entity: len(df) for entity, df in tables.items()},
        "files": len(files),
        "landing_bytes": sum(p.stat().st_size for p in files),
        "seconds": {
            "simulate": round(built - started, 1),
            "write_files": round(written - built, 1),
            "sqlite_source": round(sqlite_done - written, 1),
            "postgres_source": round(time.perf_counter() - sqlite_done, 1),
        },
    }
    scale.folder.mkdir(parents=True, exist_ok=True)
    manifest_path(scale).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return {**manifest, "reused": False}


def landing_files(landing: Path, entity: str, day: date) -> list[Path]:
    """The entity's files of one delivery day, in name order (as the pipeline lists them)."""
    folder = landing / entity
    return sorted(p for p in folder.glob(f"{day.isoformat()}*") if p.is_file()) if folder.is_dir() else []
