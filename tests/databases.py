"""Where database tests run: SQLite in a temporary folder, or the real PostgreSQL of LOYALTY_TEST_POSTGRES_URL.

Where PostgreSQL cannot be reached its tests skip with the reason, except under CI=true, where that fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get("LOYALTY_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_problem() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
        engine.dispose()
    except Exception as exc:  # any failure to connect means the same thing here
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {str(exc).splitlines()[0]}"
    return None


_PG_PROBLEM: str | None | bool = False


def require_postgres() -> None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _postgres_problem()
    if _PG_PROBLEM:
        if IN_CI:
            pytest.fail(f"{_PG_PROBLEM} (CI=true: PostgreSQL tests must run)")
        pytest.skip(_PG_PROBLEM)


def make_warehouse_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    require_postgres()
    return POSTGRES_URL
