"""The warehouse schema, identical on SQLite and PostgreSQL, and the migrations that build it.

Each table states its grain. Entity tables carry provenance on every row: the delivery day that brought it
(``delivery_day``, the unit a re-run replaces), the business day it belongs to (``business_day``, from its own
timestamp, so a late row lands in its own day), the source file and line (or source key) and the run id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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
        sa.Column("delivery_day", sa.Date, nullable=False, index=True),
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
outreach = _entity_table(ENTITIES["outreach"])
ENTITY_TABLES: dict[str, sa.Table] = {
    "customers": customers,
    "transactions": transactions,
    "survey_responses": survey_responses,
    "outreach": outreach,
}

sa.Index("ix_transactions_customer_occurred", transactions.c.customer_id, transactions.c.occurred_at)
sa.Index("ix_survey_responses_customer", survey_responses.c.customer_id)
sa.Index("ix_outreach_customer_contacted", outreach.c.customer_id, outreach.c.contacted_at)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("quarantine_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(32), nullable=False),
    sa.Column("delivery_day", sa.Date, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("source_row", sa.Integer),
    sa.Column("source_key", sa.Text),
    sa.Column("reason", sa.String(120), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("raw_record", sa.Text, nullable=False),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_quarantine_partition", "entity", "delivery_day"),
    comment="Grain: one row per rejected source row; reason is the first failed rule, reasons all of them.",
)

file_ledger = sa.Table(
    "file_ledger",
    metadata,
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("delivery_day", sa.Date, primary_key=True),
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
    sa.Column("delivery_day", sa.Date, primary_key=True),
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
    sa.Index("ix_run_ledger_day", "entity", "delivery_day"),
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

report_sends = sa.Table(
    "report_sends",
    metadata,
    sa.Column("send_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("week", sa.String(8), nullable=False),
    # '' for the company-wide edition, else the region of a regional edition.
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("message_id", sa.Text),
    sa.Column("pdf_sha256", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_report_sends_week", "week", "region", "recipient"),
    comment="Grain: one row per send of one weekly report edition to one recipient; status is sent or failed.",
)

published_figures = sa.Table(
    "published_figures",
    metadata,
    sa.Column("week", sa.String(8), primary_key=True),
    # '' for the company-wide edition, else the region of a regional edition.
    sa.Column("region", sa.Text, primary_key=True),
    sa.Column("figure", sa.String(32), primary_key=True),
    sa.Column("value", sa.Float),
    sa.Column("n", sa.Integer),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    comment="Grain: one row per report edition (week, region) x headline figure, as first published.",
)

# Derived state (loyalty/derived.py): kept current by the load, in the transaction that replaces a partition,
# so that a week's metrics read it instead of every transaction since the beginning.
customer_months = sa.Table(
    "customer_months",
    metadata,
    sa.Column("customer_id", sa.Text, nullable=False),
    # 'YYYY-MM' of business_day.
    sa.Column("business_month", sa.String(7), nullable=False),
    sa.Column("currency", sa.Text),
    sa.Column("region", sa.Text),
    sa.Column("first_day", sa.Date, nullable=False),
    # The first and last days with a positive amount; null when the month holds refunds only.
    sa.Column("first_purchase_day", sa.Date),
    sa.Column("last_purchase_day", sa.Date),
    sa.Column("net_amount", sa.Numeric(asdecimal=False), nullable=False),
    # What the month's rows dated before its first purchase add up to (all of it without a purchase).
    sa.Column("amount_before_purchase", sa.Numeric(asdecimal=False), nullable=False),
    sa.Index("ix_customer_months_month_customer", "business_month", "customer_id"),
    comment="Grain: one row per customer x currency x region x month of business_day with a transaction.",
)

customer_months_pending = sa.Table(
    "customer_months_pending",
    metadata,
    sa.Column("business_month", sa.String(7), primary_key=True),
    sa.Column("customer_id", sa.Text, primary_key=True),
    comment="Grain: one row per customer x month whose customer_months rows a load changed and no settle rebuilt yet.",
)

CORE_TABLES = [customers, transactions, survey_responses, quarantine, file_ledger, run_ledger]

# Metric tables: the analytics package's output frames, stored per ISO week. Column lists come from the
# analytics modules so the two cannot drift; types follow the naming convention below.
_TEXT = {
    "week",
    "dimension",
    "segment_value",
    "driver",
    "note",
    "window_start_week",
    "cohort_month",
    "nps_group",
    "comparison",
    "customer_id",
    "email_masked",
    "region",
    "segment",
    "reason",
    "term",
    "direction",
    "over_represented_in",
    "kind",
    "subject",
    "severity",
    "evidence",
    "rfm_segment",
    "first_response_week",
    "last_response_week",
    "response_week",
    "onset_week",
    "first_baseline_week",
    "last_baseline_week",
    "test",
    "channel",
    "figure",
    "previous_week",
    "rule",
    "kpi",
    "label",
    "unit",
    "case_id",
    "list_week",
    "last_listed_week",
    "status",
    "team",
    "subset",
    "arm",
    "verdict",
}
_DATES = {
    "week_start",
    "week_end",
    "as_of",
    "last_purchase_day",
    "opened_day",
    "sla_due_day",
    "first_contact_day",
    "closed_day",
    "cutoff_day",
}
_INTEGERS = {
    "responses",
    "comments",
    "nps_n",
    "promoters",
    "passives",
    "detractors",
    "csat_n",
    "csat_satisfied",
    "ces_n",
    "previous_responses",
    "n",
    "importance_rank",
    "months_since",
    "cohort_size",
    "active_customers",
    "new_customers",
    "repeat_customers",
    "at_risk_customers",
    "churned_customers",
    "nrr_base_customers",
    "respondents",
    "repurchasers",
    "window_days",
    "rank",
    "count",
    "baseline_count",
    "baseline_comments",
    "detractor_count",
    "detractor_comments",
    "promoter_count",
    "promoter_comments",
    "dof",
    "week_comments",
    "censored",
    "day",
    "at_risk",
    "weeks_flagged",
    "reference_count",
    "reference_comments",
    "arrived_responses",
    "known_responses",
    "late_responses",
    "reported_n",
    "restated_n",
    "times_listed",
    "contact_attempts",
    "age_days",
    "cases_opened",
    "control_cases_opened",
    "cases_open",
    "sla_cases",
    "contacted_within_sla",
    "first_contacts",
    "cases_closed",
    "cases_resolved",
    "cases_came_back",
    "cases_expired",
    "treatment_n",
    "control_n",
    "treatment_repurchasers",
    "control_repurchasers",
    "survival_treatment_n",
    "survival_control_n",
}


def _metric_type(name: str) -> sa.types.TypeEngine:
    if name.startswith("is_"):
        return sa.Boolean()
    if name in _TEXT or name.startswith(("verbatim_", "response_id_")):
        return sa.Text()
    if name in _DATES:
        return sa.Date()
    if name in _INTEGERS:
        return sa.Integer()
    return sa.Float()


def _metric_table(name: str, columns: list[str], key: tuple[str, ...], grain: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        *(sa.Column(c, _metric_type(c), primary_key=c in key, nullable=c not in key) for c in columns),
        comment=f"Grain: {grain}.",
    )


def _case_table_specs(cases: Any, outreach_effect: Any) -> list[tuple[str, list[str], tuple[str, ...], str]]:
    """The RETAIN closed-loop tables (analytics/cases.py, analytics/outreach_effect.py), migration 7."""
    return [
        (
            "weekly_cases",
            cases.WEEKLY_CASE_COLUMNS,
            ("week", "case_id"),
            "one row per ISO week x RETAIN case active that week (opened by its end, not closed by its start), "
            "status as of the week's end",
        ),
        (
            "weekly_followup",
            cases.FOLLOWUP_COLUMNS,
            ("week", "dimension", "segment_value"),
            "one row per ISO week x dimension (overall, region, team) x value",
        ),
        (
            "outreach_effect",
            outreach_effect.EFFECT_COLUMNS,
            ("week", "subset"),
            "one row per ISO week x subset of cases (all, detractor)",
        ),
        (
            "outreach_survival",
            outreach_effect.SURVIVAL_COLUMNS,
            ("week", "subset", "arm", "day"),
            "one row per ISO week x subset x arm x day since the case opened (Kaplan-Meier)",
        ),
    ]


CASE_TABLES = ("weekly_cases", "weekly_followup", "outreach_effect", "outreach_survival")


def _metric_tables() -> dict[str, sa.Table]:
    from analytics import (
        cases,
        completeness,
        drivers,
        keywords,
        kpis,
        metric_alerts,
        outreach_effect,
        repurchase,
        retain_list,
        retention,
        satisfaction,
    )

    specs = [
        (
            "weekly_satisfaction",
            satisfaction.WEEKLY_SATISFACTION_COLUMNS,
            ("week", "dimension", "segment_value"),
            "one row per ISO week x dimension (overall, channel, region, segment) x segment value",
        ),
        (
            "key_drivers",
            drivers.KEY_DRIVER_COLUMNS,
            ("week", "driver"),
            "one row per ISO week x service dimension, over a trailing window of weeks",
        ),
        ("weekly_retention", retention.WEEKLY_RETENTION_COLUMNS, ("week",), "one row per ISO week"),
        (
            "cohort_retention",
            ["week", *retention.COHORT_RETENTION_COLUMNS],
            ("week", "cohort_month", "months_since"),
            "one row per ISO week (as of its Sunday) x first-purchase month x months since",
        ),
        (
            "repurchase_by_nps_group",
            ["week", *repurchase.REPURCHASE_COLUMNS],
            ("week", "nps_group"),
            "one row per ISO week (as of its Sunday) x NPS group: Kaplan-Meier summary of time to next purchase",
        ),
        (
            "repurchase_tests",
            ["week", *repurchase.REPURCHASE_TEST_COLUMNS],
            ("week", "comparison"),
            "one row per ISO week x log-rank test",
        ),
        (
            "repurchase_survival",
            ["week", *repurchase.REPURCHASE_SURVIVAL_COLUMNS],
            ("week", "nps_group", "day"),
            "one row per ISO week x NPS group x day since the response (Kaplan-Meier curve)",
        ),
        (
            "repurchase_cohorts",
            ["week", *repurchase.REPURCHASE_COHORT_COLUMNS],
            ("week", "response_week", "nps_group"),
            "one row per ISO week x response-week cohort x NPS group (90-day repurchase)",
        ),
        (
            "retain_list",
            retain_list.RETAIN_COLUMNS,
            ("week", "customer_id"),
            "one row per ISO week x customer to contact",
        ),
        ("trending_terms", keywords.TRENDING_TERM_COLUMNS, ("week", "term"), "one row per ISO week x tested term"),
        (
            "persisting_terms",
            keywords.PERSISTING_TERM_COLUMNS,
            ("week", "term"),
            "one row per ISO week x term still above its pre-rise baseline",
        ),
        (
            "terms_by_nps_group",
            ["week", *keywords.GROUP_TERM_COLUMNS],
            ("week", "term"),
            "one row per ISO week x term tested detractors vs promoters over a trailing window",
        ),
        (
            "term_verbatims",
            ["week", *keywords.TERM_DETAIL_COLUMNS],
            ("week", "term"),
            "one row per ISO week x highlighted term",
        ),
        ("alerts", metric_alerts.ALERT_COLUMNS, ("week", "kind", "subject"), "one row per ISO week x alert"),
        (
            "response_completeness",
            ["week", *completeness.COMPLETENESS_COLUMNS],
            ("week", "channel"),
            "one row per ISO week x survey channel (and all): responses delivered by the report's cut-off",
        ),
        (
            "restatements",
            ["week", *completeness.RESTATEMENT_COLUMNS],
            ("week", "figure"),
            "one row per ISO week x headline figure of the previous week: as reported and as restated",
        ),
        (
            "weekly_kpi_tiles",
            ["week", *kpis.KPI_COLUMNS],
            ("week", "kpi"),
            "one row per ISO week x headline KPI, with its change on the week before and that change's test",
        ),
        *_case_table_specs(cases, outreach_effect),
    ]
    return {name: _metric_table(name, columns, key, grain) for name, columns, key, grain in specs}


_METRIC_TABLES: dict[str, sa.Table] = {}


def metric_tables() -> dict[str, sa.Table]:
    """The metric tables, built on first use: their columns come from the analytics modules, whose imports
    (scikit-learn, SciPy, statsmodels) cost seconds that the intake and the CLI's reads do not need."""
    if not _METRIC_TABLES:
        _METRIC_TABLES.update(_metric_tables())
    return _METRIC_TABLES


def __getattr__(name: str) -> dict[str, sa.Table]:  # ``from loyalty.schema import METRIC_TABLES`` builds them
    if name == "METRIC_TABLES":
        return metric_tables()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _create(tables: list[sa.Table] | Callable[[], list[sa.Table]]) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        metadata.create_all(conn, tables=tables() if callable(tables) else tables, checkfirst=True)

    return apply


def _rename_to_delivery_day(conn: Connection) -> None:
    """Rename what migrations 1 and 3 built before the restructure; a warehouse built since has the new names.

    ``load_date`` becomes ``delivery_day`` in the entity tables, the quarantine and both ledgers, and the email
    log ``report_deliveries`` becomes ``report_sends`` (``delivery_id`` -> ``send_id``). Both dialects rename
    columns in place (SQLite >= 3.25 rewrites the indexes that name them); the indexes named after the old words
    are dropped and created again under the metadata's names.
    """
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    for table in CORE_TABLES:
        if table.name not in tables or "load_date" not in {c["name"] for c in inspector.get_columns(table.name)}:
            continue
        # Identifiers come from the metadata above, never from input; DDL cannot bind them.
        conn.execute(sa.text(f'alter table "{table.name}" rename column load_date to delivery_day'))
        old_index = f"ix_{table.name}_load_date"
        if old_index in {i["name"] for i in inspector.get_indexes(table.name)}:
            conn.execute(sa.text(f'drop index "{old_index}"'))
            next(i for i in table.indexes if i.name == f"ix_{table.name}_delivery_day").create(conn)
    if "report_deliveries" in tables:
        conn.execute(sa.text("alter table report_deliveries rename to report_sends"))
        conn.execute(sa.text("alter table report_sends rename column delivery_id to send_id"))
        conn.execute(sa.text("drop index ix_report_deliveries_week"))
        next(iter(report_sends.indexes)).create(conn)


def _kpi_tiles_and_term_names(conn: Connection) -> None:
    """The stored KPI tiles, and names that say what the two term tables hold.

    Weeks computed before this migration have no tiles until their metrics are computed again: the weekly
    report flow recomputes a week whose tiles are missing, and ``loyalty backfill`` recomputes a range.
    """
    tables = set(sa.inspect(conn).get_table_names())
    for old, new in (("group_terms", "terms_by_nps_group"), ("term_details", "term_verbatims")):
        if old in tables and new not in tables:
            # SQLAlchemy Core has no rename; the names are this migration's own, quoted by the dialect.
            quote = conn.dialect.identifier_preparer.quote
            conn.execute(sa.text(f"alter table {quote(old)} rename to {quote(new)}"))
    metadata.create_all(conn, tables=[metric_tables()["weekly_kpi_tiles"]], checkfirst=True)


def _rebuild_metric_tables(conn: Connection) -> None:
    """Metric tables hold derived rows only: drop and recreate them with the current columns (the next
    metrics run refills them), and add the published-figures log."""
    for table in metric_tables().values():
        table.drop(conn, checkfirst=True)
    metadata.create_all(conn, tables=[*metric_tables().values(), published_figures], checkfirst=True)


def _customer_months(conn: Connection) -> None:
    """Add customer_months and build it from the transactions already loaded (the load keeps it from now on)."""
    from loyalty.derived import rebuild_customer_months

    metadata.create_all(conn, tables=[customer_months, customer_months_pending], checkfirst=True)
    rebuild_customer_months(conn)


# Append-only: a migration, once released, is never edited. Each runs in its own transaction.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "entity tables, quarantine, file and run ledgers", _create(CORE_TABLES)),
    (2, "weekly metric tables", _create(lambda: list(metric_tables().values()))),
    (3, "report delivery log", _create([report_sends])),
    (4, "one name for the delivery day (load_date -> delivery_day); report emails are sends", _rename_to_delivery_day),
    (
        5,
        "weekly_kpi_tiles; group_terms -> terms_by_nps_group, term_details -> term_verbatims",
        _kpi_tiles_and_term_names,
    ),
    (6, "outreach entity table (contact attempts from the CRM or call centre)", _create([outreach])),
    (
        7,
        "RETAIN case, follow-up and outreach-effect tables",
        _create(lambda: [metric_tables()[t] for t in CASE_TABLES]),
    ),
    (8, "metric tables rebuilt (survival, completeness, per-metric n); published figures", _rebuild_metric_tables),
    (9, "customer_months and its pending marks: per customer and month, kept by the load", _customer_months),
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
    metric_tables()
    metadata.drop_all(engine)
