"""The warehouse schema and its migrations, on SQLite and PostgreSQL.

A warehouse built before migration 4 has ``load_date`` columns, a ``report_deliveries`` table, the term tables
``group_terms`` and ``term_details`` and no ``weekly_kpi_tiles``. It is rebuilt
here by renaming a fresh warehouse back to the old names and forgetting migration 4, so the test needs no copy
of the old schema; migrating it again must give exactly the tables, columns and indexes of a fresh build, with
the rows kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from loyalty.db import create_engine
from loyalty.schema import (
    CORE_TABLES,
    METRIC_TABLES,
    drop_all,
    migrate,
    report_sends,
    run_ledger,
    schema_migrations,
)


def _shape(engine: sa.Engine) -> dict[str, tuple[list[str], list[tuple[str, tuple[str, ...]]]]]:
    inspector = sa.inspect(engine)
    return {
        t: (
            sorted(c["name"] for c in inspector.get_columns(t)),
            sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(t)),
        )
        for t in sorted(inspector.get_table_names())
    }


def _back_to_the_old_names(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in CORE_TABLES:
            conn.execute(sa.text(f'alter table "{table.name}" rename column delivery_day to load_date'))
            if any(i.name == f"ix_{table.name}_delivery_day" for i in table.indexes):
                conn.execute(sa.text(f'drop index "ix_{table.name}_delivery_day"'))
                conn.execute(sa.text(f'create index "ix_{table.name}_load_date" on "{table.name}" (load_date)'))
        conn.execute(sa.text("drop index ix_report_sends_week"))
        conn.execute(sa.text("alter table report_sends rename to report_deliveries"))
        conn.execute(sa.text("alter table report_deliveries rename column send_id to delivery_id"))
        conn.execute(sa.text("create index ix_report_deliveries_week on report_deliveries (week, region, recipient)"))
        conn.execute(sa.text("alter table terms_by_nps_group rename to group_terms"))
        conn.execute(sa.text("alter table term_verbatims rename to term_details"))
        conn.execute(sa.text("drop table weekly_kpi_tiles"))
        conn.execute(schema_migrations.delete().where(schema_migrations.c.version.in_([4, 5])))


OLD_NAMES = ("report_deliveries", "group_terms", "term_details")


def _drop_old_names(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for name in OLD_NAMES:
            conn.execute(sa.text(f"drop table if exists {name}"))
    engine.dispose()


@pytest.fixture
def old_names_dropped(warehouse_url: str) -> Iterator[str]:
    """The shared PostgreSQL test database may keep tables under the old names from a run of older code (the
    fixtures drop only the tables the code knows), or from this test stopping half-way: none before, none after."""
    _drop_old_names(warehouse_url)
    yield warehouse_url
    _drop_old_names(warehouse_url)
    engine = create_engine(warehouse_url)
    drop_all(engine)
    engine.dispose()


def test_migrations_4_and_5_bring_an_old_warehouse_to_the_fresh_schema_and_keeps_its_rows(
    old_names_dropped: str,
) -> None:
    engine = create_engine(old_names_dropped)
    fresh = _shape(engine)
    assert "report_sends" in fresh and "report_deliveries" not in fresh
    assert "delivery_day" in fresh["run_ledger"][0] and "load_date" not in fresh["run_ledger"][0]

    _back_to_the_old_names(engine)
    old = _shape(engine)
    assert "report_deliveries" in old and "load_date" in old["transactions"][0]
    assert {"group_terms", "term_details"} <= set(old) and "weekly_kpi_tiles" not in old
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into run_ledger (run_id, entity, load_date, status, source, started_at)"
                " values ('r1', 'customers', :d, 'succeeded', 'files', :t)"
            ),
            {"d": date(2026, 11, 29), "t": now},
        )
        conn.execute(
            sa.text(
                "insert into report_deliveries (week, region, recipient, status, attempts, pdf_sha256, attempted_at)"
                " values ('2026-W48', '', 'a@example.com', 'sent', 1, :h, :t)"
            ),
            {"h": "0" * 64, "t": now},
        )

    assert migrate(engine) == [4, 5]
    assert _shape(engine) == fresh
    assert migrate(engine) == []
    with engine.connect() as conn:
        ledger = conn.execute(sa.select(run_ledger.c.run_id, run_ledger.c.delivery_day)).all()
        sends = conn.execute(sa.select(report_sends.c.send_id, report_sends.c.recipient)).all()
    assert [(r.run_id, date.fromisoformat(str(r.delivery_day)[:10])) for r in ledger] == [("r1", date(2026, 11, 29))]
    assert [s.recipient for s in sends] == ["a@example.com"] and sends[0].send_id is not None
    engine.dispose()


# Tables migration 6 adds to a warehouse at migration 5 (the restructure's schema), and weekly_kpi_tiles there
# without the minimum detectable change.
NEW_IN_8 = (
    "persisting_terms",
    "repurchase_survival",
    "repurchase_cohorts",
    "response_completeness",
    "restatements",
    "published_figures",
)


def test_migration_8_rebuilds_the_metric_tables_of_a_warehouse_at_migration_7(old_names_dropped: str) -> None:
    engine = create_engine(old_names_dropped)
    fresh = _shape(engine)
    assert "mde" in fresh["weekly_kpi_tiles"][0] and set(NEW_IN_8) <= set(fresh)

    tiles = METRIC_TABLES["weekly_kpi_tiles"]
    with engine.begin() as conn:
        for name in NEW_IN_8:
            conn.execute(sa.text(f"drop table {name}"))
        conn.execute(sa.text("drop table weekly_kpi_tiles"))
        sa.Table(
            tiles.name,
            sa.MetaData(),
            *(sa.Column(c.name, c.type, primary_key=c.primary_key) for c in tiles.columns if c.name != "mde"),
        ).create(conn)
        conn.execute(schema_migrations.delete().where(schema_migrations.c.version == 8))
    at_7 = _shape(engine)
    assert "mde" not in at_7["weekly_kpi_tiles"][0] and not set(NEW_IN_8) & set(at_7)

    assert migrate(engine) == [8]
    assert _shape(engine) == fresh
    assert migrate(engine) == []
    engine.dispose()
