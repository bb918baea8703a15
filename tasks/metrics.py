"""Metrics: read the warehouse frames, compute the weekly metric frames, store them per ISO week.

Reading and storing live here; the computing is :func:`analytics.bundle.compute_metric_frames`, pure.
Storing replaces the rows of the recomputed weeks in one transaction, so recomputing an unchanged week
leaves identical rows.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
import sqlalchemy as sa
from prefect.cache_policies import NO_CACHE

from analytics.bundle import MetricParameters, compute_metric_frames, convert_currency
from analytics.weeks import iso_week_label, parse_iso_week
from loyalty.contract import ANSWER_COLUMNS
from loyalty.db import get_engine, load_sql
from loyalty.schema import METRIC_TABLES
from loyalty.settings import Settings
from tasks.retry import retrying_task

log = logging.getLogger(__name__)


def metric_parameters(settings: Settings, *, trend_weeks: int = 0) -> MetricParameters:
    return MetricParameters(
        churn_days=settings.churn_days,
        baseline_weeks=settings.baseline_weeks,
        retain_top_n=settings.retain_top_n,
        trend_weeks=trend_weeks,
        business_tz=settings.business_tz,
        retain_case_expiry_weeks=settings.retain_case_expiry_weeks,
        retain_sla_business_days=settings.retain_sla_business_days,
        retain_control_share=settings.retain_control_share,
    )


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


_CHUNK_ROWS = 200_000
RESPONSES_FROM = dt.date(1, 1, 1)


def read_query_frame(conn: sa.Connection, name: str, params: dict) -> pd.DataFrame:
    """The rows of ``sql/<name>.sql`` as a DataFrame, fetched through the driver's cursor in chunks.

    pandas.read_sql over SQLAlchemy keeps every row as a Python object twice (the driver's tuples and
    SQLAlchemy's Row objects) before building columns: at a year's history (4M transactions) that took 25 s
    and about 3 GiB. Chunks of plain driver tuples, each turned into a compact frame at once, take 10 s and
    under 1 GiB (measured on the benchmark's year warehouse, SQLite). Values are converted by the caller.
    """
    compiled = load_sql(name).bindparams(**params).compile(dialect=conn.dialect)
    if compiled.positional:
        args: tuple | dict = tuple(compiled.params[key] for key in compiled.positiontup or [])
    else:
        args = dict(compiled.params)
    if conn.dialect.name == "sqlite":  # the warehouse stores dates as ISO text there; bind them the same way
        convert = lambda v: v.isoformat() if isinstance(v, dt.date) and not isinstance(v, dt.datetime) else v  # noqa: E731
        args = tuple(map(convert, args)) if isinstance(args, tuple) else {k: convert(v) for k, v in args.items()}
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # open: conn is live
    try:
        cursor.execute(str(compiled), args)
        columns = [d[0] for d in cursor.description]
        parts = []
        while rows := cursor.fetchmany(_CHUNK_ROWS):
            parts.append(pd.DataFrame.from_records(rows, columns=columns))
    finally:
        cursor.close()
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def read_warehouse_frames(
    engine: sa.Engine, first_day: dt.date, last_day: dt.date, settings: Settings, region: str | None = None
) -> dict[str, pd.DataFrame]:
    """responses (business days in range, with segment), transactions (up to last_day) and customers.

    With ``region``, only that region's rows: responses and transactions by their own region, customers by
    theirs. Amounts come back in the reporting currency.
    """
    params = {"first_day": first_day, "last_day": last_day}
    with engine.connect() as conn:
        responses = read_query_frame(conn, "metrics/survey_responses", params)
        transactions = read_query_frame(conn, "metrics/transactions", {"last_day": last_day})
        customers = read_query_frame(conn, "metrics/customers", {})
    responses["submitted_at"] = _utc(responses["submitted_at"])
    responses["business_day"] = pd.to_datetime(responses["business_day"]).dt.date
    responses["delivery_day"] = pd.to_datetime(responses["delivery_day"]).dt.date
    for column in ANSWER_COLUMNS:
        responses[column] = pd.to_numeric(responses[column]).astype("Float64")
    transactions["occurred_at"] = _utc(transactions["occurred_at"])
    transactions["business_day"] = pd.to_datetime(transactions["business_day"]).dt.date
    transactions["amount"] = pd.to_numeric(transactions["amount"].astype("object")).astype(float)
    customers["created_at"] = _utc(customers["created_at"])
    if region is not None:
        responses = responses.loc[responses["region"] == region].reset_index(drop=True)
        transactions = transactions.loc[transactions["region"] == region].reset_index(drop=True)
        customers = customers.loc[customers["region"] == region].reset_index(drop=True)
    converted = convert_currency(transactions, settings.fx_rates, settings.reporting_currency)
    if converted.attrs.get("dropped_currencies"):
        log.warning("left out of money metrics, no exchange rate: %s", converted.attrs["dropped_currencies"])
    return {"responses": responses, "transactions": converted.reset_index(drop=True), "customers": customers}


def compute_weeks(
    engine: sa.Engine, weeks: list[str], settings: Settings, *, region: str | None = None, trend_weeks: int = 0
) -> dict[str, pd.DataFrame]:
    """Every metric frame of ``weeks``, computed from the warehouse."""
    weeks = sorted(set(weeks))
    params = metric_parameters(settings, trend_weeks=trend_weeks)
    # Every response up to the last week, not only the trailing weeks the windows need (baselines, persisting-
    # term walks, survival and repurchase cohorts, trends: ``params.history_weeks``): reading everything keeps a
    # week's rows independent of the batch it is computed in whatever a window reaches back to. Responses are
    # the smallest entity; transactions are read in full as well.
    first_day = RESPONSES_FROM
    last_day = parse_iso_week(weeks[-1])[1]
    frames = read_warehouse_frames(engine, first_day, last_day, settings, region=region)
    if region is None:  # cases are company-wide; a regional edition reads the stored ones
        frames.update(read_case_inputs(engine, weeks[-1], last_day))
    return compute_metric_frames(
        frames["responses"],
        frames["transactions"],
        frames["customers"],
        weeks=weeks,
        params=params,
        outreach=frames.get("outreach"),
        earlier_retain_lists=frames.get("earlier_retain_lists"),
    )


def read_case_inputs(engine: sa.Engine, last_week: str, last_day: dt.date) -> dict[str, pd.DataFrame]:
    """Outreach attempts up to last_day (never their note) and the stored RETAIN lists before last_week."""
    with engine.connect() as conn:
        outreach = read_query_frame(conn, "metrics/outreach", {"last_day": last_day})
        earlier = read_query_frame(conn, "metrics/earlier_retain_lists", {"last_week": last_week})
    outreach["contacted_at"] = _utc(outreach["contacted_at"])
    earlier["value_at_risk"] = pd.to_numeric(earlier["value_at_risk"]).astype(float)
    earlier["is_detractor"] = earlier["is_detractor"].astype(bool)
    return {"outreach": outreach, "earlier_retain_lists": earlier}


def _plain(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def metric_rows(frames: dict[str, pd.DataFrame], weeks: list[str]) -> dict[str, list[dict]]:
    """The rows ``store_weeks`` writes for ``weeks``, per metric table, as plain Python values."""
    out: dict[str, list[dict]] = {}
    for name, table in METRIC_TABLES.items():
        frame = frames.get(name, pd.DataFrame())
        if frame.empty:
            out[name] = []
            continue
        frame = frame.loc[frame["week"].isin(weeks), [c.name for c in table.columns]]
        out[name] = [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
    return out


def store_weeks(engine: sa.Engine, frames: dict[str, pd.DataFrame], weeks: list[str]) -> dict[str, int]:
    """Replace the rows of ``weeks`` in every metric table, in one transaction; rows written per table."""
    written: dict[str, int] = {}
    rows_by_table = metric_rows(frames, weeks)
    with engine.begin() as conn:
        for name, table in METRIC_TABLES.items():
            conn.execute(table.delete().where(table.c.week.in_(weeks)))
            rows = rows_by_table[name]
            if rows:
                conn.execute(table.insert(), rows)
            written[name] = len(rows)
    return written


def complete_weeks(weeks: list[str], end: dt.date, today: dt.date) -> list[str]:
    """The weeks whose Sunday the backfill reached and that are over (their Sunday is before ``today``)."""
    return [w for w in weeks if parse_iso_week(w)[1] <= end and parse_iso_week(w)[1] < today]


def weeks_of_days(days: list[dt.date] | tuple[dt.date, ...]) -> list[str]:
    return sorted({iso_week_label(d) for d in days})


@retrying_task(
    name="recompute-metrics",
    retries=2,
    delay=12,
    timeout_seconds=3600,
    cache_policy=NO_CACHE,
)
def recompute_metrics(settings: Settings, weeks: list[str]) -> dict[str, int]:
    """Recompute and store the metric tables of ``weeks``."""
    if not weeks:
        return {}
    engine = get_engine(settings.warehouse_url)
    frames = compute_weeks(engine, weeks, settings)
    return store_weeks(engine, frames, weeks)


def weeks_to_recompute(
    engine: sa.Engine,
    touched_days: list[dt.date] | tuple[dt.date, ...],
    *,
    through: dt.date | None = None,
    max_weeks: int = 156,
) -> list[str]:
    """The weeks a load reopens: the touched weeks and every later week up to the last day with data (their
    week-over-week figures, baselines and churn move too). Bounded whatever the rows say:

    - never past ``through`` + 1 day (the run's last delivery day; a row dated years ahead opens no week
      beyond it: such rows are a source fault, quarantined as ``timestamp_out_of_range``);
    - never more than ``max_weeks`` weeks (LOYALTY_RECOMPUTE_MAX_WEEKS): beyond that, the most recent are
      recomputed and the older ones are logged as left as they were (a row dated 1900 would otherwise reopen
      about 6,600 weeks).
    """
    if not touched_days:
        return []
    with engine.connect() as conn:
        last = conn.execute(load_sql("metrics/last_business_day")).scalar()
    if last is None:
        return []
    last_day = max(last if isinstance(last, dt.date) else dt.date.fromisoformat(str(last)[:10]), max(touched_days))
    if through is not None:
        ceiling = through + dt.timedelta(days=1)
        last_day = min(last_day, ceiling)
        touched_days = [d for d in touched_days if d <= ceiling]
        if not touched_days:
            return []
    first_week, last_week = iso_week_label(min(touched_days)), iso_week_label(last_day)
    first_monday, last_monday = parse_iso_week(first_week)[0], parse_iso_week(last_week)[0]
    span = (last_monday - first_monday).days // 7 + 1
    if span > max_weeks:
        kept_first = iso_week_label(last_monday - dt.timedelta(weeks=max_weeks - 1))
        log.warning(
            "a load reached back %d weeks (to %s); only the last %d weeks are recomputed (from %s)",
            span,
            first_week,
            max_weeks,
            kept_first,
        )
        first_week = kept_first
    from analytics.weeks import iso_week_range

    return iso_week_range(first_week, last_week)
