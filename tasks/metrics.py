"""Metrics: read the warehouse frames, compute the weekly metric frames, store them per ISO week.

Reading and storing live here; the computing is :func:`analytics.bundle.compute_metric_frames`, pure.
Storing replaces the rows of the recomputed weeks in one transaction, so recomputing an unchanged week
leaves identical rows.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from prefect.cache_policies import NO_CACHE

from analytics.bundle import MetricParameters, compute_metric_frames, convert_currency
from analytics.history import (
    COHORT_CELL_COLUMNS,
    CUSTOMER_HISTORY_COLUMNS,
    PurchaseHistory,
    empty_cohort_cells,
    month_number,
    window_start,
)
from analytics.weeks import day_number, day_numbers_of, iso_week_label, parse_iso_week
from loyalty.contract import ANSWER_COLUMNS
from loyalty.db import get_engine, load_sql
from loyalty.derived import OCCURRED_MARGIN, settle_customer_months
from loyalty.schema import METRIC_TABLES
from loyalty.settings import Settings
from loyalty.warehouse import refresh_planner_statistics
from tasks.retry import retrying_task

log = logging.getLogger(__name__)


def metric_parameters(settings: Settings, *, trend_weeks: int = 0) -> MetricParameters:
    return MetricParameters(
        churn_days=settings.churn_days,
        value_window_days=settings.value_window_days,
        baseline_weeks=settings.baseline_weeks,
        retain_top_n=settings.retain_top_n,
        trend_weeks=trend_weeks,
        business_tz=settings.business_tz,
        retain_case_expiry_weeks=settings.retain_case_expiry_weeks,
        retain_sla_business_days=settings.retain_sla_business_days,
        retain_control_share=settings.retain_control_share,
    )


def _utc(series: pd.Series) -> pd.Series:
    """Times (the driver's datetimes, or ISO text with or without fractions of a second) as UTC timestamps."""
    return pd.to_datetime(series, utc=True, format="ISO8601")


_CHUNK_ROWS = 200_000
ALL_HISTORY = dt.date(1, 1, 1)  # a first day before any data: read everything


def read_query_frame(
    conn: sa.Connection,
    name: str,
    params: dict,
    *,
    typed: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    as_text: bool = False,
) -> pd.DataFrame:
    """The rows of ``sql/<name>.sql`` as a DataFrame, fetched through the driver's cursor in chunks.

    pandas.read_sql over SQLAlchemy keeps every row as a Python object twice (the driver's tuples and
    SQLAlchemy's Row objects) before building columns: at a year's history (4M transactions) that took 25 s
    and about 3 GiB. Chunks of plain driver tuples, each turned into a compact frame at once, take 10 s and
    under 1 GiB (measured on the benchmark's year warehouse, SQLite). ``typed`` converts each chunk's values
    before the chunks are joined (then the text of 4M timestamps never exists twice); else the caller does.

    ``as_text`` (for a ``typed`` that takes ISO text as well as the driver's values): on PostgreSQL the rows
    come through ``COPY (query) TO STDOUT`` as CSV, parsed by pyarrow, every column text (None for NULL). The
    driver makes Python objects per value (a Decimal, a datetime): 4M transactions took 46 s that way and 15 s
    through COPY (a year's window; measured side by side on this machine). SQLite has no such path.
    """
    statement = load_sql(name)
    lists = [key for key, value in params.items() if isinstance(value, list | tuple)]
    if lists:  # an IN list: one bound value per item (``in :name`` in the file)
        statement = statement.bindparams(*(sa.bindparam(key, expanding=True) for key in lists))
    compiled = statement.bindparams(**params).compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    if compiled.positional:
        args: tuple | dict = tuple(compiled.params[key] for key in compiled.positiontup or [])
    else:
        args = dict(compiled.params)
    if conn.dialect.name == "sqlite":  # the warehouse stores dates and times as ISO text there; bind them so
        args = (
            tuple(map(_sqlite_text, args)) if isinstance(args, tuple) else {k: _sqlite_text(v) for k, v in args.items()}
        )
    if as_text and conn.dialect.name == "postgresql":
        return _copied_frame(conn, str(compiled), args, typed)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # open: conn is live
    try:
        cursor.execute(str(compiled), args)
        columns = [d[0] for d in cursor.description]
        parts = []
        while rows := cursor.fetchmany(_CHUNK_ROWS):
            part = pd.DataFrame.from_records(rows, columns=columns)
            parts.append(typed(part) if typed else part)
    finally:
        cursor.close()
    return _joined(parts, columns, typed)


def _joined(
    parts: list[pd.DataFrame], columns: list[str], typed: Callable[[pd.DataFrame], pd.DataFrame] | None
) -> pd.DataFrame:
    """The typed chunks of a read as one frame; no rows: the columns, typed, and no rows."""
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
        return typed(empty) if typed else empty
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


_TIMESTAMPTZ = 1184  # PostgreSQL's type oid of timestamp with time zone
_COPY_BLOCK_BYTES = 32 << 20  # about 500,000 transactions per block: bounded memory, few concats


class _CopyStream(io.RawIOBase):
    """A COPY TO STDOUT's data as a readable byte stream, for pyarrow's incremental CSV reader."""

    def __init__(self, copy: Any) -> None:
        self._blocks = iter(copy)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        filled = 0
        while filled < len(buffer):
            if not self._pending:
                block = next(self._blocks, None)
                if block is None:
                    break
                self._pending = memoryview(block)
            n = min(len(buffer) - filled, len(self._pending))
            buffer[filled : filled + n] = self._pending[:n]
            self._pending = self._pending[n:]
            filled += n
        return filled


def _copied_frame(
    conn: sa.Connection, query: str, args: tuple | dict, typed: Callable[[pd.DataFrame], pd.DataFrame] | None
) -> pd.DataFrame:
    """read_query_frame's rows through COPY ... TO STDOUT (CSV): every column text, NULL missing (an empty
    unquoted field), an empty text as '' (quoted), values with commas, quotes or line breaks intact. Dates and
    times as ISO text in UTC whatever the session's settings (set for this transaction only)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # open: conn is live
    try:
        cursor.execute("set local datestyle to 'ISO, YMD'")
        cursor.execute("set local timezone to 'UTC'")
        cursor.execute("set local client_encoding to 'UTF8'")  # what pyarrow reads, whatever the database's
        cursor.execute(f"select * from ({query}) as q limit 0", args)  # the column names, before any row
        columns = [d[0] for d in cursor.description]
        # timestamptz parsed by pyarrow as UTC microseconds, what the driver's datetimes become (ISO text in
        # pandas cost 3 s per 4M); every other column stays text for the caller's ``typed``.
        types = {
            d[0]: pa.timestamp("us", tz="UTC") if d[1] == _TIMESTAMPTZ else pa.string() for d in cursor.description
        }
        parts = []
        with cursor.copy(f"copy ({query}) to stdout with (format csv, header true)", args) as copy:
            reader = pcsv.open_csv(
                io.BufferedReader(_CopyStream(copy), buffer_size=1 << 20),
                # No reader thread: it would call into the COPY (one libpq connection) beside the main thread
                # when an error makes the `with` cancel it.
                read_options=pcsv.ReadOptions(block_size=_COPY_BLOCK_BYTES, use_threads=False),
                parse_options=pcsv.ParseOptions(newlines_in_values=True),
                convert_options=pcsv.ConvertOptions(
                    column_types=types,
                    null_values=[""],  # COPY's NULL; pyarrow would also take "NULL", "NaN", "N/A" ... as missing
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,  # COPY quotes an empty text: ""
                ),
            )
            for batch in reader:
                part = batch.to_pandas()  # text columns as from_records makes them: str, NaN for NULL ...
                for column in columns:  # ... and a column of NULLs only as object Nones
                    if batch.column(column).null_count == batch.num_rows:
                        part[column] = pd.Series([None] * batch.num_rows, dtype="object")
                parts.append(typed(part) if typed else part)
    finally:
        cursor.close()
    return _joined(parts, columns, typed)


def _sqlite_text(value: object) -> object:
    """A bound date or time as the text SQLite stores: 'YYYY-MM-DD', or naive UTC 'YYYY-MM-DD HH:MM:SS'."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def read_warehouse_frames(
    engine: sa.Engine,
    first_day: dt.date,
    last_day: dt.date,
    settings: Settings,
    region: str | None = None,
    *,
    transactions_from: dt.date = ALL_HISTORY,
) -> dict[str, pd.DataFrame]:
    """responses (business days in range, with segment), transactions (from ``transactions_from`` up to
    last_day) and customers.

    With ``region``, only that region's rows: responses and transactions by their own region (transactions
    chosen by the warehouse), customers by theirs. Amounts come back in the reporting currency.
    """
    params = {"first_day": first_day, "last_day": last_day}
    with engine.connect() as conn:
        responses = read_query_frame(conn, "metrics/survey_responses", params, typed=_typed_responses, as_text=True)
        transactions = read_query_frame(
            conn,
            "metrics/transactions",
            {"first_day": transactions_from, "last_day": last_day, **_of_region(region)},
            typed=_typed,
            as_text=True,
        )
        customers = read_query_frame(conn, "metrics/customers", {})
    customers["created_at"] = _utc(customers["created_at"])
    if region is not None:
        responses = responses.loc[responses["region"] == region].reset_index(drop=True)
        customers = customers.loc[customers["region"] == region].reset_index(drop=True)
    return {
        "responses": responses,
        "transactions": _converted_transactions(transactions, settings),
        "customers": customers,
    }


def _typed_responses(responses: pd.DataFrame) -> pd.DataFrame:
    """Responses as read (a chunk of them; the driver's values or ISO text) with typed columns."""
    responses["submitted_at"] = _utc(responses["submitted_at"])
    responses["business_day"] = _shared_dates(responses["business_day"])
    responses["delivery_day"] = _shared_dates(responses["delivery_day"])
    for column in ANSWER_COLUMNS:
        responses[column] = pd.to_numeric(responses[column]).astype("Float64")
    return responses


def _typed(transactions: pd.DataFrame) -> pd.DataFrame:
    """Transactions as read (a chunk of them; the driver's values or ISO text) with typed columns."""
    transactions["occurred_at"] = _utc(transactions["occurred_at"])
    transactions["business_day"] = _shared_dates(transactions["business_day"])
    transactions["amount"] = pd.to_numeric(transactions["amount"].astype("object")).astype(float)
    return transactions


def _converted_transactions(transactions: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The typed transactions (_typed) in the reporting currency."""
    converted = convert_currency(transactions, settings.fx_rates, settings.reporting_currency)
    if converted.attrs.get("dropped_currencies"):
        log.warning("left out of money metrics, no exchange rate: %s", converted.attrs["dropped_currencies"])
    return converted.reset_index(drop=True)


def _shared_dates(values: pd.Series) -> pd.Series:
    """ISO texts (or dates) of days as date objects, one object per distinct day: a year of transactions has
    about 365 days in 4M rows, and 4M date objects took 160 MB and a second to make."""
    distinct = pd.unique(values)
    as_date = dict(zip(distinct, pd.to_datetime(pd.Series(distinct, dtype="object")).dt.date, strict=True))
    return values.map(as_date).astype("object")


def _of_region(region: str | None) -> dict[str, object]:
    """The parameters of a query's region filter, ``(:all_regions = 1 or region = :region)``: every region
    without one."""
    return {"all_regions": int(region is None), "region": region or ""}


def _rated(settings: Settings) -> list[str]:
    """The currencies the money metrics can convert (convert_currency keeps exactly these)."""
    return sorted({*settings.fx_rates, settings.reporting_currency})


def _day_numbers(values: pd.Series) -> pd.Series:
    """Dates (date objects or ISO text, missing as None) as float day numbers with NaN for missing."""
    days = pd.to_datetime(values.astype("object"), errors="raise")
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    known = days.notna()
    out[known] = day_numbers_of(days[known]).astype("float64")
    return out


def read_purchase_history(
    conn: sa.Connection,
    start: dt.date,
    last_day: dt.date,
    settings: Settings,
    region: str | None,
    window: pd.DataFrame,
) -> PurchaseHistory | None:
    """The PurchaseHistory before ``start`` (analytics.history): the same as
    :func:`analytics.history.history_from_frames` over all transactions, with each cohort cell's revenue
    added up by the database (its last digits may differ from a pandas sum's).

    The months before ``start`` come from the derived customer_months (loyalty/derived.py), which the load
    keeps current, so no query reads the transactions before the window; ``window`` (the transactions from
    ``start`` to last_day as read_warehouse_frames gives them) adds each customer's first days within it.
    None when no transaction comes before ``start`` (a warehouse younger than the window): then the window
    is all history."""
    rated = _rated(settings)
    ours_only = {"currencies": rated, **_of_region(region)}

    def ours(frame: pd.DataFrame) -> pd.DataFrame:
        keep = frame["currency"].isin(rated)
        if region is not None:
            keep &= frame["region"] == region
        return frame.loc[keep]

    starts = read_query_frame(conn, "metrics/data_start", {"last_day": last_day, **ours_only})
    data_start = pd.to_datetime(starts["first_day"]).dt.date.iloc[0] if len(starts) else None
    if data_start is None or data_start >= start:
        return None  # nothing came before the window: the window is all history
    window_month = start.isoformat()[:7]
    before = ours(read_query_frame(conn, "metrics/customer_history", {"window_month": window_month}))
    columns = {c: _day_numbers(before[c]) for c in CUSTOMER_HISTORY_COLUMNS}
    customers = _first_days(
        pd.DataFrame(columns).assign(customer_id=before["customer_id"].astype("str").to_numpy()), window
    )
    cells = empty_cohort_cells()
    if len(customers):
        raw = read_query_frame(
            conn,
            "metrics/cohort_cells",
            {"window_month": window_month, "data_start": data_start, **ours_only},
        )
        cells = _cohort_cells_of(raw, settings, data_start) if len(raw) else cells
    return PurchaseHistory(start=start, data_start=data_start, customers=customers, cohort_cells=cells)


def _first_days(before: pd.DataFrame, window: pd.DataFrame) -> pd.DataFrame:
    """Per customer (index customer_id), CUSTOMER_HISTORY_COLUMNS over everything up to the window's last day:
    ``before`` (customer_id and those columns, months before the window, several rows per customer) and the
    window's transactions (customer_id, business_day, amount; its purchases are amount > 0)."""
    window = window.loc[window["customer_id"].notna(), ["customer_id", "business_day", "amount"]]
    codes, distinct = pd.factorize(window["business_day"])
    days = _day_numbers(pd.Series(distinct, dtype="object")).to_numpy()[codes] if len(window) else np.array([])
    in_window = pd.DataFrame(
        {
            "customer_id": window["customer_id"].astype("str").to_numpy(),
            "first_day": days,
            "first_purchase_day": np.where(window["amount"].to_numpy() > 0, days, np.nan),
            "last_purchase_before": np.nan,
        }
    )
    grouped = pd.concat([before, in_window], ignore_index=True).groupby("customer_id")
    customers = pd.DataFrame(
        {
            "first_day": grouped["first_day"].min(),
            "first_purchase_day": grouped["first_purchase_day"].min(),
            "last_purchase_before": grouped["last_purchase_before"].max(),
        }
    )
    customers.index = pd.Index(customers.index, name="customer_id", dtype="str")
    return customers


def _cohort_cells_of(raw: pd.DataFrame, settings: Settings, data_start: dt.date) -> pd.DataFrame:
    """cohort_cells.sql's rows as COHORT_CELL_COLUMNS: revenue converted per currency, then added up."""
    for text in (raw["activity_month"], raw["cohort_month"]):
        if not text.astype("str").str.fullmatch(r"(\d{4}-\d{2})?").all():
            raise ValueError("the warehouse returned months that are not YYYY-MM (is PostgreSQL's DateStyle ISO?)")
    raw = raw.assign(is_existing=raw["is_existing"].astype(bool))
    existing_month = month_number(np.array([day_number(data_start)]))[0]

    def months(text: pd.Series) -> np.ndarray:
        return pd.to_datetime(text + "-01").to_numpy().astype("datetime64[M]").astype(np.int64)

    raw["month"] = months(raw["activity_month"])
    raw["cohort"] = existing_month
    new = ~raw["is_existing"]
    raw.loc[new, "cohort"] = months(raw.loc[new, "cohort_month"])
    keys = ["is_existing", "cohort", "month"]
    counts = raw.loc[raw["currency"].isna()]
    active = counts.set_index(keys)["active_customers"].astype(np.int64)
    money = raw.loc[raw["currency"].notna()]
    rates = {**settings.fx_rates, settings.reporting_currency: 1.0}
    converted = pd.to_numeric(money["revenue"].astype("object")).astype(float) * money["currency"].map(rates)
    revenue = converted.groupby([money[k] for k in keys]).sum()
    cells = revenue.rename("revenue").to_frame().join(active.rename("active_customers"), how="outer")
    cells["revenue"] = cells["revenue"].fillna(0.0)
    cells["active_customers"] = cells["active_customers"].fillna(0).astype(np.int64)
    return cells.reset_index()[COHORT_CELL_COLUMNS]


def read_purchases_after(
    engine: sa.Engine, openings: pd.DataFrame, horizon: pd.Timedelta, last_day: dt.date, settings: Settings
) -> pd.DataFrame:
    """The transactions the RETAIN cases need (analytics/bundle.py: ``purchases_of``): each listed customer's
    rows from their listing's opening to ``horizon`` after it, up to last_day, in the reporting currency and
    transactions.sql's order, each once. ``openings`` has customer_id and opened_at (UTC) per listing.

    One query per opening moment (a week's list) and batch of 500 ids, each an index range of the customer's
    few weeks: a listing costs the same however long ago the customer's history began. (It read each listed
    customer's every transaction before: at two years, 225,000 rows of 3,941 customers, random reads that
    grew with history.)"""
    parts = []
    with engine.connect() as conn:
        for opened_at, ids in openings.groupby("opened_at", sort=True)["customer_id"]:
            opened = pd.Timestamp(opened_at).tz_convert("UTC").to_pydatetime()
            window = {
                "occurred_from": opened - OCCURRED_MARGIN,
                "occurred_until": opened + horizon.to_pytimedelta() + OCCURRED_MARGIN,
                "last_day": last_day,
            }
            customer_ids = sorted(set(ids.astype("str")))
            for i in range(0, len(customer_ids), 500):
                params = {"customer_ids": customer_ids[i : i + 500], **window}
                parts.append(read_query_frame(conn, "metrics/purchases_after_listing", params, typed=_typed))
        if not parts:  # no listing: the query's columns, typed, and no rows
            never = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            params = {"customer_ids": [""], "occurred_from": never, "occurred_until": never, "last_day": last_day}
            parts.append(read_query_frame(conn, "metrics/purchases_after_listing", params, typed=_typed))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame = frame.drop_duplicates("transaction_id").sort_values(["business_day", "transaction_id"], kind="stable")
    return _converted_transactions(frame.drop(columns="transaction_id").reset_index(drop=True), settings)


def compute_weeks(
    engine: sa.Engine,
    weeks: list[str],
    settings: Settings,
    *,
    region: str | None = None,
    trend_weeks: int = 0,
    params: MetricParameters | None = None,
) -> dict[str, pd.DataFrame]:
    """Every metric frame of ``weeks``, computed from the warehouse.

    Transactions are read from :func:`analytics.history.window_start` on (about a year before the first
    week); what the metrics need from before comes from the warehouse's aggregates (read_purchase_history)
    and, for the RETAIN cases, the listed customers' transactions after their listings (read_purchases_after).
    """
    weeks = sorted(set(weeks))
    params = params or metric_parameters(settings, trend_weeks=trend_weeks)
    # Responses from the earliest week any figure reaches back to (baselines, persisting-term walks, survival
    # and repurchase cohorts, completeness, trends: ``params.history_weeks``): a week's rows are the same
    # whichever batch computes it (tests/tasks/test_week_is_a_function_of_its_inputs.py) and the same as
    # from every response (tests/tasks/test_metric_window.py).
    first_day = parse_iso_week(weeks[0])[0] - dt.timedelta(weeks=params.history_weeks)
    last_day = parse_iso_week(weeks[-1])[1]
    start = window_start(weeks, params)
    settle_customer_months(engine)  # a load that stopped before settling its months (loyalty/derived.py)
    frames = read_warehouse_frames(engine, first_day, last_day, settings, region=region, transactions_from=start)
    with engine.connect() as conn:
        history = read_purchase_history(conn, start, last_day, settings, region, frames["transactions"])
    # Without a history the frame is all history, and pandas derives the rest (and the cases' purchases) from it.
    purchases_of: Callable[[pd.DataFrame, pd.Timedelta], pd.DataFrame] | None = (
        None
        if history is None
        else lambda openings, horizon: read_purchases_after(engine, openings, horizon, last_day, settings)
    )
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
        history=history,
        purchases_of=purchases_of,
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
        names = [c.name for c in table.columns]
        frame = frame.loc[frame["week"].isin(weeks), names]
        columns = [_plain_values(frame[column]) for column in names]
        out[name] = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    return out


def _plain_values(values: pd.Series) -> list:
    """A column's values as _plain makes them; numpy columns without a Python call per value (a backfill
    writes about 100,000 values a week of metrics: that call was 40 ms of a small shop's week)."""
    if not isinstance(values.dtype, np.dtype):  # pandas' own (nullable Int64, str ...): value by value
        return [_plain(value) for value in values.tolist()]
    if values.dtype.kind in "biu":
        return values.to_numpy().tolist()  # Python bools and ints
    if values.dtype.kind == "f":
        array = values.to_numpy()
        plain = array.tolist()  # Python floats
        if np.isnan(array).any():
            plain = [None if value != value else value for value in plain]  # NaN is the one value != itself
        return plain
    return [_plain(value) for value in values.tolist()]


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
    """Recompute and store the metric tables of ``weeks``, oldest first, in batches of at most
    ``settings.metric_batch_weeks`` weeks: each batch is computed and stored before the next is read (a later
    batch's cases follow the RETAIN lists the earlier one stored). Returns the rows written per table."""
    if not weeks:
        return {}
    engine = get_engine(settings.warehouse_url)
    if analyzed := refresh_planner_statistics(engine):  # PostgreSQL: plan the reads on the rows just loaded
        log.info("planner statistics refreshed before the metrics: %s", ", ".join(analyzed))
    weeks = sorted(set(weeks))
    written: dict[str, int] = {}
    for i in range(0, len(weeks), settings.metric_batch_weeks):
        batch = weeks[i : i + settings.metric_batch_weeks]
        for name, rows in store_weeks(engine, compute_weeks(engine, batch, settings), batch).items():
            written[name] = written.get(name, 0) + rows
    return written


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
