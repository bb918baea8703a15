"""Where each measure writes: one warehouse per engine and measure, always fresh, always under the bench's own.

* SQLite: a file ``state/bench/<scale>/warehouses/<measure>.db``.
* PostgreSQL: a schema ``bench_<scale>_<measure>`` of the bench database (never any other database).

The project's SQL names its tables without a schema and its engine sets the libpq ``options`` itself, so a
schema cannot be chosen through the URL's ``options``. Instead a bench URL carries
``application_name=bench:<schema>`` and :func:`install_search_path_hook` (installed in the bench process only)
sets ``search_path`` to that schema on every new connection whose application name says so. Connections of
anything else are left alone.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

APP_PREFIX = "bench:"
#: The bench database; ``BENCH_POSTGRES_URL`` (or ``--postgres-url``) names another, e.g. one per developer.
DEFAULT_POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/bench")
ENGINES = ("sqlite", "postgres")


@dataclass(frozen=True)
class Target:
    """One measure's warehouse on one engine."""

    engine: str
    measure: str
    folder: Path
    postgres_url: str = DEFAULT_POSTGRES_URL
    scale: str = ""

    @property
    def schema(self) -> str:
        return "bench_" + (f"{self.scale}_" if self.scale else "") + self.measure.replace("-", "_")

    @property
    def sqlite_path(self) -> Path:
        return self.folder / "warehouses" / f"{self.measure}.db"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL the project's settings get (LOYALTY_WAREHOUSE_URL)."""
        if self.engine == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        return schema_url(self.postgres_url, self.schema)

    def conninfo(self) -> str:
        """libpq connection string of the PostgreSQL target with search_path and UTC set (floor loader)."""
        return pg_conninfo(self.postgres_url)

    def drop(self) -> None:
        """Remove the warehouse (tests clean up with this)."""
        if self.engine == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                self.sqlite_path.with_name(self.sqlite_path.name + suffix).unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{self.schema}" cascade')

    def has_runs(self, through: date) -> bool:
        """Whether the warehouse holds a finished backfill: its run ledger has a succeeded run of delivery day
        ``through`` (a backfill that failed or was killed stops before its last days)."""
        query = "select count(*) from {table} where delivery_day = {mark} and status = 'succeeded'"
        if self.engine == "sqlite":
            if not self.sqlite_path.exists():
                return False
            import sqlite3

            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as conn:
                if not conn.execute("select 1 from sqlite_master where name = 'run_ledger'").fetchone():
                    return False
                found = conn.execute(query.format(table="run_ledger", mark="?"), (through.isoformat(),))
                return found.fetchone()[0] > 0
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            table = conn.execute("select to_regclass(%s)", (f'"{self.schema}".run_ledger',)).fetchone()
            if table is None or table[0] is None:
                return False
            found = conn.execute(query.format(table=f'"{self.schema}".run_ledger', mark="%s"), (through,))
            row = found.fetchone()
            return row is not None and row[0] > 0

    def reset(self) -> None:
        """An empty warehouse: the SQLite file removed, or the PostgreSQL schema dropped and created."""
        if self.engine == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                self.sqlite_path.with_name(self.sqlite_path.name + suffix).unlink(missing_ok=True)
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            return
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{self.schema}" cascade')
            conn.execute(f'create schema "{self.schema}"')


def schema_url(base_url: str, schema: str) -> str:
    """``base_url`` with ``application_name=bench:<schema>``, which the search-path hook reads."""
    url = make_url(base_url).update_query_dict({"application_name": f"{APP_PREFIX}{schema}"})
    return url.render_as_string(hide_password=False)


def pg_conninfo(url: str) -> str:
    """A libpq connection string for the database of a SQLAlchemy PostgreSQL URL (no driver prefix)."""
    parsed = make_url(url)
    parts = {
        "host": parsed.host or "127.0.0.1",
        "port": str(parsed.port or 5432),
        "dbname": parsed.database or "bench",
    }
    if parsed.username:
        parts["user"] = parsed.username
    if parsed.password:
        parts["password"] = str(parsed.password)
    return " ".join(f"{k}={v}" for k, v in parts.items())


def _create_database_if_missing(url: str) -> None:
    """Create the bench database on a server that answers but lacks it (a fresh machine); no other change."""
    import psycopg
    from psycopg import sql

    target = make_url(url)
    try:
        with psycopg.connect(pg_conninfo(url), connect_timeout=3):
            return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            return
    admin = target.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(pg_conninfo(admin), connect_timeout=3, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(target.database)))


def postgres_problem(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or None when it answers (its database is created if missing)."""
    try:
        import psycopg

        _create_database_if_missing(url)

        with psycopg.connect(pg_conninfo(url), connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:  # any failure to connect means the same thing here
        return (
            f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} is unreachable: "
            + (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        )
    return None


_HOOKED = False


def install_search_path_hook() -> None:
    """Set ``search_path`` on every new PostgreSQL connection whose application name is ``bench:<schema>``."""
    global _HOOKED
    if _HOOKED:
        return

    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        info = getattr(dbapi_connection, "info", None)
        status = getattr(info, "parameter_status", None)
        name = status("application_name") if callable(status) else None
        if not name or not name.startswith(APP_PREFIX):
            return
        schema = name[len(APP_PREFIX) :].replace('"', "")
        cursor = dbapi_connection.cursor()
        cursor.execute(f'set search_path to "{schema}"')
        cursor.close()
        dbapi_connection.commit()

    sa.event.listen(sa.pool.Pool, "connect", _on_connect)
    _HOOKED = True
