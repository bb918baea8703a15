"""The warehouse schema, identical on SQLite and PostgreSQL, and the migrations that build it.

Each table states its grain. Entity tables carry provenance on every row: the delivery day that brought it
(``load_date``, the unit a re-run replaces), the business day it belongs to (``business_day``, from its own
timestamp, so a late row lands in its own day), the source file and line (or source key) and the run id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from loyalty.contract import ENTITIES, Column, Entity

metadata = sa.MetaData()

_TYPES: dict[str, Callable[[], sa.types.TypeEngine]] = {
    "text": sa.Text,
    "timestamp": lambda: sa.DateTime(timezone=True),
    "integer": sa.SmallInteger,
    "decimal": lambda: sa.Numeric(18, 4, asdecimal=False),
}


def _entity_table(entity: Entity) -> sa.Table:
    def column(c: Column) -> sa.Column:
        return sa.Column(c.name, _TYPES[c.kind](), primary_key=c.name == entity.key, nullable=not c.required)

    return sa.Table(
        entity.name,
        metadata,
        *(column(c) for c in entity.columns),
        sa.Column("business_day", sa.Date, nullable=False, index=True),
        sa.Column("load_date", sa.Date, nullable=False, index=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_row", sa.Integer),
        sa.Column("run_id", sa.String(64), nullable=False),
        # sha256 of the contract fields: tells an identical re-delivery from a conflicting one.
        sa.Column("record_hash", sa.String(64), nullable=False),
        comment=f"Grain: {entity.grain}, keyed by {entity.key}.",
    )


customers = _entity_table(ENTITIES["customers"])
transactions = _entity_table(ENTITIES["transactions"])
survey_responses = _entity_table(ENTITIES["survey_responses"])
ENTITY_TABLES: dict[str, sa.Table] = {
    "customers": customers,
    "transactions": transactions,
    "survey_responses": survey_responses,
}

sa.Index("ix_transactions_customer_occurred", transactions.c.customer_id, transactions.c.occurred_at)
sa.Index("ix_survey_responses_customer", survey_responses.c.customer_id)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("quarantine_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(32), nullable=False),
    sa.Column("load_date", sa.Date, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("source_row", sa.Integer),
    sa.Column("source_key", sa.Text),
    sa.Column("reason", sa.String(120), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("raw_record", sa.Text, nullable=False),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_quarantine_partition", "entity", "load_date"),
    comment="Grain: one row per rejected source row; reason is the first failed rule, reasons all of them.",
)

file_ledger = sa.Table(
    "file_ledger",
    metadata,
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("load_date", sa.Date, primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("file_format", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("duplicate_of", sa.Text),
    sa.Column("warnings", sa.Text),
    sa.Column("rows_in", sa.Integer),
    sa.Column("rows_loaded", sa.Integer),
    sa.Column("rows_quarantined", sa.Integer),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    comment="Grain: one row per landing file per delivery day; status is loaded, duplicate or rejected.",
)

run_ledger = sa.Table(
    "run_ledger",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("load_date", sa.Date, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("rows_in", sa.Integer),
    sa.Column("rows_loaded", sa.Integer),
    sa.Column("rows_quarantined", sa.Integer),
    sa.Column("files_seen", sa.Integer),
    sa.Column("files_loaded", sa.Integer),
    sa.Column("files_duplicate", sa.Integer),
    sa.Column("files_rejected", sa.Integer),
    sa.Column("files", sa.Text),
    sa.Column("window_start", sa.DateTime(timezone=True)),
    sa.Column("window_end", sa.DateTime(timezone=True)),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text),
    sa.Index("ix_run_ledger_day", "entity", "load_date"),
    comment="Grain: one row per run per entity per delivery day; status is running, succeeded or failed.",
)

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    comment="Grain: one row per applied migration.",
)

CORE_TABLES = [customers, transactions, survey_responses, quarantine, file_ledger, run_ledger]


def _create(tables: list[sa.Table]) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        metadata.create_all(conn, tables=tables, checkfirst=True)

    return apply


# Append-only: a migration, once released, is never edited. Each runs in its own transaction.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "entity tables, quarantine, file and run ledgers", _create(CORE_TABLES)),
]


def migrate(engine: Engine) -> list[int]:
    """Bring the warehouse to the newest schema; returns the versions applied now (empty if current)."""
    schema_migrations.create(engine, checkfirst=True)
    applied: list[int] = []
    for version, description, apply in MIGRATIONS:
        with engine.begin() as conn:
            done = conn.execute(
                sa.select(schema_migrations.c.version).where(schema_migrations.c.version == version)
            ).first()
            if done:
                continue
            apply(conn)
            conn.execute(
                schema_migrations.insert().values(
                    version=version,
                    description=description,
                    applied_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
            applied.append(version)
    return applied


def drop_all(engine: Engine) -> None:
    """Remove every project table (tests only)."""
    metadata.drop_all(engine)
