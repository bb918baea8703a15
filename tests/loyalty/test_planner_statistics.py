"""loyalty/warehouse.py:refresh_planner_statistics: PostgreSQL's statistics are refreshed where missing or stale.

Autovacuum is off on the development machines, and a freshly loaded table has none: the metrics' queries were
then planned for a few thousand rows (a sort on disk at a year's scale). The rule is autovacuum's own.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import sqlalchemy as sa

from loyalty.db import create_engine
from loyalty.schema import customers
from loyalty.warehouse import refresh_planner_statistics

TABLES = ["customer_months", "customers", "outreach", "survey_responses", "transactions"]


def _add_customers(engine: sa.Engine, first: int, count: int) -> None:
    rows = [
        {
            "customer_id": f"C{i:06d}",
            "created_at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None),
            "business_day": date(2026, 1, 1),
            "delivery_day": date(2026, 1, 1),
            "source": "test.csv",
            "run_id": "test",
            "record_hash": "0" * 64,
        }
        for i in range(first, first + count)
    ]
    with engine.begin() as conn:
        conn.execute(customers.insert(), rows)
        if engine.dialect.name == "postgresql":  # count the rows now, not when this backend next goes idle
            conn.execute(sa.text("select pg_stat_force_next_flush()"))


def test_missing_then_stale_statistics_are_refreshed_and_fresh_ones_left_alone(warehouse_url: str) -> None:
    engine = create_engine(warehouse_url)
    try:
        if engine.dialect.name != "postgresql":
            assert refresh_planner_statistics(engine) == []  # SQLite: nothing, by design
            return
        _add_customers(engine, 0, 1000)
        assert refresh_planner_statistics(engine) == TABLES  # never analyzed: every table
        assert refresh_planner_statistics(engine) == []  # just analyzed
        _add_customers(engine, 1000, 100)  # 100 changed rows <= 50 + 10% of the 1,100 live ones: still fresh
        assert refresh_planner_statistics(engine) == []
        _add_customers(engine, 1100, 200)  # 300 changed rows > 50 + 10% of the 1,300 live ones
        assert refresh_planner_statistics(engine) == ["customers"]
        with engine.connect() as conn:
            estimate = conn.execute(sa.text("select reltuples from pg_class where oid = 'customers'::regclass"))
            assert estimate.scalar_one() == 1300
    finally:
        engine.dispose()


def test_a_chunk_into_a_fresh_warehouse_plans_on_the_rows_the_chunk_before_loaded(warehouse_url, tmp_path) -> None:
    from datetime import timedelta

    from demo import generate_demo_sources
    from loyalty.settings import Settings
    from tasks.chunk import intake_chunk

    start, end = date(2026, 3, 2), date(2026, 3, 9)
    settings = Settings(warehouse_url=warehouse_url, landing_dir=tmp_path / "landing")
    generate_demo_sources(settings.landing_dir, start, end, n_customers=1500, source_tz=settings.source_tz)
    engine = create_engine(warehouse_url)
    try:
        first = [start + timedelta(days=i) for i in range(4)]
        assert not intake_chunk(settings, first, "stats-1").failures
        if engine.dialect.name != "postgresql":
            return  # SQLite keeps no statistics the intake relies on (refresh_planner_statistics: nothing)
        with engine.connect() as conn:
            loaded = conn.execute(sa.text("select count(*) from transactions")).scalar_one()
        assert loaded > 50  # more changed rows than autovacuum's rule lets pass (50 + 10% of the live rows)
        # The loader's backend reports its row counts at most once a second, and within 10 s once idle; a real
        # chunk's earlier days are long reported when the next chunk starts, this test's few rows may not be.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                counted = conn.execute(
                    sa.text(
                        "select n_mod_since_analyze from pg_stat_user_tables where relid = 'transactions'::regclass"
                    )
                ).scalar_one()
            if counted >= loaded:
                break
            time.sleep(0.5)
        assert not intake_chunk(settings, [start + timedelta(days=i) for i in range(4, 8)], "stats-2").failures
        with engine.connect() as conn:
            analyzed = conn.execute(
                sa.text(
                    "select last_analyze is not null from pg_stat_user_tables where relid = 'transactions'::regclass"
                )
            ).scalar_one()
            estimate = conn.execute(sa.text("select reltuples from pg_class where oid = 'transactions'::regclass"))
            # The second chunk's statistics were taken before it loaded: the first chunk's rows, exactly.
            assert analyzed and estimate.scalar_one() == loaded
    finally:
        engine.dispose()
