"""Engines and SQL files: how the project talks to the warehouse and to a SQL source.

One helper, :func:`load_sql`, reads a statement from ``sql/`` by name; parameters are always bound.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from loyalty.settings import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; the message names the target without its password."""


class DatabaseBusy(DatabaseUnavailable):
    """Another run holds the write lock longer than we wait: the database is there, just busy."""


class WarehouseWriteError(RuntimeError):
    """A driver error while reading or writing a delivery, with every row value left out.

    A driver's own message can quote the statement's parameters (customer emails, comments) or the offending
    value itself; this one names only the entity, the delivery day and the error's class. The original is
    kept as ``__cause__`` for a debugger, and is never formatted into a log line, an artifact or an alert.
    """

    def __init__(self, entity: str, day: date | str, error_class: str) -> None:
        super().__init__(f"{entity} {day}: the warehouse refused the write ({error_class})")
        self.entity, self.day, self.error_class = entity, str(day), error_class

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.entity, self.day, self.error_class))  # Prefect may pickle task exceptions


# scheme://userinfo@host...: the userinfo is everything up to the LAST '@', so a password holding an unencoded
# '@', ':', '/', '?' or '#' is still masked whole (an '@' later in the URL only masks more than needed).
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>.*@)(?P<rest>[^@]*)$", re.DOTALL)


def redact_url(url: str) -> str:
    """The URL as it may appear in a log or an error: never with its password, whatever the URL parser says.

    Masked by pattern, not by parsing: a password with an unencoded ``@`` or ``:`` makes a parser read part of
    it as the host or the port, and its error would quote it.
    """
    text = str(url)
    match = _USERINFO.match(text)
    if match is None:
        return text
    user = match.group("userinfo")[:-1].split(":", 1)[0]
    masked = f"{user}:***@" if ":" in match.group("userinfo") else f"{user}@"
    return f"{match.group('scheme')}{masked}{match.group('rest')}"


def _parse_url(url: str) -> sa.engine.URL:
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - sqlalchemy parses the port lazily in some versions
    except Exception as exc:  # the parser's message can quote the password ("invalid literal ... 'Hunter2@...'")
        raise ValueError(f"invalid database URL {redact_url(url)} ({type(exc).__name__})") from None
    if "@" in (parsed.host or ""):  # an unencoded '@' in the password: the parser took part of it for the host
        raise ValueError(
            f"invalid database URL {redact_url(url)}: percent-encode '@' in the user name or password (%40)"
        )
    return parsed


def create_engine(url: str) -> Engine:
    """An engine with the same transactional behaviour on SQLite and PostgreSQL.

    ``hide_parameters``: SQLAlchemy then leaves the bound values (row data) out of every error it raises.
    """
    parsed = _parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": 60}, hide_parameters=True)
        _use_real_sqlite_transactions(engine)
        return engine
    connect_args = {}
    if parsed.get_backend_name() == "postgresql":
        # Timestamps are written as naive UTC; make the server read them as UTC whatever its own zone is.
        # Every statement is planned for its own values and the table as it is now (force_custom_plan): psycopg
        # prepares a statement run five times, and PostgreSQL may then keep one generic plan for the
        # connection's life. A first backfill's lookup of 900 loaded ids, planned while its table was nearly
        # empty, took over 5 s of the server's CPU once the table held 200,000 rows (10 ms on a new connection),
        # and the year bench's first chunk stalled (likely that cached plan). Planning a lookup costs about 4 ms.
        connect_args = {"options": "-c TimeZone=UTC -c plan_cache_mode=force_custom_plan", "connect_timeout": 10}
    return sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True, hide_parameters=True)


READ = "read"


def reading(engine: Engine) -> Engine:
    """The same engine for reads only: on SQLite its transactions begin DEFERRED, so they never wait for a load.

    SQLite in WAL mode lets readers run beside a writer; ``BEGIN IMMEDIATE`` (what writers need, so two loads
    of a day queue instead of interleaving) would make a reader wait for the write lock too. Use it for
    status, metrics and report reads; never write through it.
    """
    return engine.execution_options(loyalty_access=READ)


def get_read_engine(url: str) -> Engine:
    return reading(get_engine(url))


def is_busy_error(exc: BaseException) -> bool:
    """A lock wait that ran out: SQLite's "database is locked"/"busy", PostgreSQL's lock_not_available."""
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    return (
        "database is locked" in text
        or "database table is locked" in text
        or getattr(orig, "sqlstate", None) in ("55P03", "40P01")
        or getattr(getattr(orig, "diag", None), "sqlstate", None) == "55P03"
    )


def describe_db_error(exc: BaseException, url: str | None = None) -> str:
    """One line about a database error, with no SQL, no parameters and no row values in it."""
    target = f" {redact_url(url)}" if url else ""
    if is_busy_error(exc):
        return f"busy: another run is writing to the database{target}; try again when it has finished"
    orig = getattr(exc, "orig", None)
    return f"database error{target} ({type(orig or exc).__name__})"


# SQLite's result codes of the file and the disk, not of a statement (a raw sqlite3 error carries its name).
_SQLITE_CONNECTION_ERRORS = ("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_NOTADB", "SQLITE_CORRUPT")


def _is_connection_error(exc: BaseException) -> bool:
    """An error of the connection, not of the statement: PostgreSQL's SQLSTATE classes 08 (connection), 53
    (resources), 57 (operator intervention), or a driver error with no SQLSTATE at all (SQLite's I/O errors).

    ``exc`` is SQLAlchemy's wrapper or the driver's own error (the fast paths use the driver directly). For a
    raw sqlite3 error its result code decides (an I/O, open, full-disk or not-a-database error), so a refused
    statement there ("no such table") stays a refused write of that day.
    """
    import sqlite3

    import psycopg

    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        orig = getattr(exc, "orig", None)
    elif isinstance(exc, sqlite3.Error):
        return str(getattr(exc, "sqlite_errorname", "")).startswith(_SQLITE_CONNECTION_ERRORS)
    elif isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        orig = exc
    else:
        return False
    sqlstate = getattr(orig, "sqlstate", None)
    return sqlstate is None or str(sqlstate).startswith(("08", "53", "57"))


def is_raw_driver_error(exc: BaseException) -> bool:
    """An error of the driver itself, not wrapped by SQLAlchemy: the fast write path (``COPY``, the cursor's
    ``executemany``) uses the driver's connection directly, and its text may quote row values (PostgreSQL's
    "Failing row contains (...)", "Key (id)=(...)")."""
    import sqlite3

    import psycopg

    return isinstance(exc, sqlite3.Error | psycopg.Error)


def masked_driver_errors(entity: str, day: date | str):  # type: ignore[no-untyped-def]
    """Context manager: a database or encoding error inside becomes :class:`WarehouseWriteError` (no row values),
    :class:`DatabaseBusy` or :class:`DatabaseUnavailable`, whether SQLAlchemy wrapped it or the driver raised it
    itself (``COPY``, a cursor's ``executemany``: their text can quote the row)."""
    return _MaskedDriverErrors(entity, day)


class _MaskedDriverErrors:
    def __init__(self, entity: str, day: date | str) -> None:
        self.entity, self.day = entity, day

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:  # type: ignore[no-untyped-def]
        if exc is None:
            return False
        if isinstance(exc, sa.exc.DBAPIError | sa.exc.StatementError | UnicodeError) or is_raw_driver_error(exc):
            if is_busy_error(exc):
                raise DatabaseBusy(f"{self.entity} {self.day}: {describe_db_error(exc)}") from None
            orig = getattr(exc, "orig", None)
            if _is_connection_error(exc):  # the connection: worth a retry
                raise DatabaseUnavailable(
                    f"{self.entity} {self.day}: the database connection failed ({type(orig or exc).__name__})"
                ) from None
            raise WarehouseWriteError(self.entity, self.day, type(orig or exc).__name__) from None
        return False


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
        # Readers (see reading()) begin DEFERRED: in WAL mode they then never wait for a writer.
        if conn.get_execution_options().get("loyalty_access") == READ:
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    return create_engine(url)


def check_connection(engine: Engine) -> None:
    """Fail fast with a one-line error that names the target (a read: it never waits for a writer)."""
    try:
        with reading(engine).connect() as conn:
            conn.exec_driver_sql("select 1")
    except sa.exc.DBAPIError as exc:
        target = redact_url(engine.url.render_as_string(hide_password=False))
        if is_busy_error(exc):
            raise DatabaseBusy(describe_db_error(exc, target)) from None
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach database {target}: {redact_secret(reason, engine)}") from None


def redact_secret(text: str, engine: Engine) -> str:
    """``text`` with the engine's password blanked out, should a driver ever quote it."""
    password = engine.url.password
    return text.replace(str(password), "***") if password else text


@lru_cache(maxsize=64)
def load_sql(name: str) -> sa.TextClause:
    """The statement in ``sql/<name>.sql`` as a text clause with bound parameters."""
    path = (SQL_DIR / f"{name}.sql").resolve()
    if SQL_DIR.resolve() not in path.parents:
        raise ValueError(f"SQL name {name!r} escapes the sql/ folder")
    return sa.text(path.read_text(encoding="utf-8"))
