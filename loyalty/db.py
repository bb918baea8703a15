"""Engines and SQL files: how the project talks to the warehouse and to a SQL source.

One helper, :func:`load_sql`, reads a statement from ``sql/`` by name; parameters are always bound.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from loyalty.settings import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; the message names the target without its password."""


def redact_url(url: str) -> str:
    """The URL as it may appear in a log or an error: never with its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is still worth naming, minus anything after '@'
        return url.split("@")[-1]


def create_engine(url: str) -> Engine:
    """An engine with the same transactional behaviour on SQLite and PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60})
        _use_real_sqlite_transactions(engine)
        return engine
    connect_args = {}
    if parsed.get_backend_name() == "postgresql":
        # Timestamps are written as naive UTC; make the server read them as UTC whatever its own zone is.
        connect_args = {"options": "-c TimeZone=UTC", "connect_timeout": 10}
    return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)


def _use_real_sqlite_transactions(engine: Engine) -> None:
    """SQLAlchemy's documented pysqlite recipe, so DDL and DML roll back together and writers serialise.

    pysqlite otherwise defers BEGIN until the first DML statement and commits around DDL, which would let
    a crash leave half a partition behind. BEGIN IMMEDIATE takes the write lock up front, so two loads of
    the same day queue instead of interleaving.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=60000")

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    return create_engine(url)


def check_connection(engine: Engine) -> None:
    """Fail fast with a one-line error that names the target."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach database {redact_url(str(engine.url))}: {reason}") from exc


@lru_cache(maxsize=64)
def load_sql(name: str) -> sa.TextClause:
    """The statement in ``sql/<name>.sql`` as a text clause with bound parameters."""
    path = (SQL_DIR / f"{name}.sql").resolve()
    if SQL_DIR.resolve() not in path.parents:
        raise ValueError(f"SQL name {name!r} escapes the sql/ folder")
    return sa.text(path.read_text(encoding="utf-8"))
