"""What the weekly metrics need from transactions older than the window they read.

A week's figures look back a bounded time: RFM scores, the value at risk and a customer's purchase rhythm one
year (``MetricParameters.value_window_days``), weekly retention 26 weeks and the churn days, repurchase about
26 weeks. So the metrics read transactions only from :func:`window_start` on. Three things still need the
whole past, and :class:`PurchaseHistory` carries them in a compact form whose size grows with customers and
months, never with transactions:

- each customer's first transaction and first purchase (new vs repeat customers, cohorts, net revenue
  retention's new customers), and their last purchase before the window (days since last purchase of a
  detractor who has not bought for over a year);
- the first business day of the data (the cohort matrix's "existing customers" row);
- the cohort matrix's cells (cohort x month: active customers, net revenue) of the months before the window.

The warehouse computes them in SQL (``sql/metrics/customer_history.sql``, ``cohort_cells.sql``; see
``tasks/metrics.py``) from ``customer_months``, derived state the load keeps current (loyalty/derived.py).
:func:`history_from_frames` computes the same from full frames with pandas: it is what
:func:`analytics.bundle.compute_metric_frames` uses when it is given all history, and the reference the
warehouse's answer is tested against.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics._frames import transaction_ledger
from analytics.parameters import MetricParameters
from analytics.weeks import date_of, day_number, day_numbers_of, parse_iso_week

__all__ = [
    "COHORT_CELL_COLUMNS",
    "CUSTOMER_HISTORY_COLUMNS",
    "PurchaseHistory",
    "cohort_cells",
    "empty_cohort_cells",
    "history_from_frames",
    "month_number",
    "window_start",
]

#: Per customer (index customer_id, str): day numbers (days since 1970-01-01), NaN when there is none.
CUSTOMER_HISTORY_COLUMNS = ["first_day", "first_purchase_day", "last_purchase_before"]
#: Cohort cells of the months before the window: cohort and month are month numbers (months since 1970-01);
#: the existing customers' cohort is the data's first month.
COHORT_CELL_COLUMNS = ["is_existing", "cohort", "month", "active_customers", "revenue"]


@dataclass(frozen=True)
class PurchaseHistory:
    """The compact past of the transactions before ``start`` (see the module docstring).

    ``transactions`` given beside it must hold every row from ``start`` (the first day of a month) on.
    ``data_start`` is the first business day of any transaction (None without any); ``customers`` is indexed
    by customer_id with CUSTOMER_HISTORY_COLUMNS; ``cohort_cells`` has COHORT_CELL_COLUMNS.
    """

    start: dt.date
    data_start: dt.date | None
    customers: pd.DataFrame
    cohort_cells: pd.DataFrame

    @property
    def start_day(self) -> int:
        return day_number(self.start)


def month_number(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of day numbers."""
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def window_start(weeks: list[str], params: MetricParameters) -> dt.date:
    """The first day of transactions the metrics of ``weeks`` read: the first of the month that holds the
    earliest day any windowed figure reaches (a month boundary, so the cohort cells split cleanly)."""
    first_monday = parse_iso_week(min(weeks))[0]
    # Last week's RETAIN list is built too (is_on_previous_list): its year ends the Sunday before.
    value = first_monday - dt.timedelta(days=params.value_window_days)
    # Weekly retention of the kept weeks and of the week before (the KPI tiles' change): net revenue
    # retention's two periods, or a churn spell, before each.
    retention_weeks = params.trend_weeks + 1 + 2 * params.nrr_weeks
    retention = first_monday - dt.timedelta(weeks=retention_weeks, days=params.churn_days + 7)
    # Repurchase: the responses of the oldest cohort (its window elapsed) and their purchases after them.
    cohort_weeks = math.ceil(params.repurchase_window_days / 7) + params.repurchase_cohort_weeks + 1
    repurchase = first_monday - dt.timedelta(weeks=max(cohort_weeks, params.survival_response_weeks + 1))
    earliest = min(value, retention, repurchase)
    return earliest.replace(day=1)


def history_from_frames(transactions: pd.DataFrame, customers: pd.DataFrame | None, start: dt.date) -> PurchaseHistory:
    """The PurchaseHistory of full-history ``transactions`` (one currency) before ``start`` (a month's 1st)."""
    if start.day != 1:
        raise ValueError(f"a history starts on the first of a month, got {start.isoformat()}")
    ledger, customer_ids, _ = transaction_ledger(transactions, None)
    start_day = day_number(start)
    data_start = date_of(int(day_numbers_of(transactions["business_day"]).min())) if len(transactions) else None
    per_customer = pd.DataFrame(index=pd.RangeIndex(len(customer_ids)))
    per_customer["first_day"] = ledger.groupby("customer")["day"].min()
    purchases = ledger.loc[ledger["amount"] > 0]
    per_customer["first_purchase_day"] = purchases.groupby("customer")["day"].min()
    before = purchases.loc[purchases["day"] < start_day]
    per_customer["last_purchase_before"] = before.groupby("customer")["day"].max()
    per_customer.index = pd.Index(customer_ids.astype(str), name="customer_id", dtype="str")
    per_customer = per_customer.astype("float64")[CUSTOMER_HISTORY_COLUMNS]
    cells = _cohort_cells(ledger, customer_ids, per_customer, customers, data_start, start_day)
    return PurchaseHistory(start=start, data_start=data_start, customers=per_customer, cohort_cells=cells)


def existing_customers(customers: pd.DataFrame | None, data_start: dt.date | None) -> set[str]:
    """Customers created before the data's first business day (their first purchase in the data is not their
    first purchase): the cohort matrix's "existing customers" row."""
    if customers is None or not len(customers) or data_start is None:
        return set()
    created = pd.to_datetime(customers["created_at"], utc=True).dt.tz_localize(None).dt.normalize()
    return set(customers.loc[day_numbers_of(created) < day_number(data_start), "customer_id"].astype("str"))


def _cohort_cells(
    ledger: pd.DataFrame,
    customer_ids: np.ndarray,
    per_customer: pd.DataFrame,
    customers: pd.DataFrame | None,
    data_start: dt.date | None,
    start_day: int,
) -> pd.DataFrame:
    """Cells of the months before ``start_day``: the same grouping (and so the same sums) as the cohort
    matrix over all history (analytics.retention._cohort_grid)."""
    old = ledger.loc[ledger["day"] < start_day]
    first = per_customer["first_purchase_day"].to_numpy()
    if old.empty or data_start is None:
        return empty_cohort_cells()
    existing = np.isin(customer_ids.astype(str), list(existing_customers(customers, data_start)))
    has_first = ~np.isnan(first)
    first_day = np.nan_to_num(first).astype(np.int64)
    cohort = month_number(first_day)
    cohort[existing] = int(month_number(np.array([day_number(data_start)]))[0])
    return cohort_cells(
        old,
        cohort=cohort,
        is_existing=existing,
        counts_from=counts_from_day(cohort, existing, first_day, has_first),
    )


#: counts_from of a customer in no cohort: none of their rows counts.
NOT_IN_A_COHORT = np.iinfo(np.int64).max


def counts_from_day(
    cohort: np.ndarray, is_existing: np.ndarray, first_day: np.ndarray, member: np.ndarray
) -> np.ndarray:
    """Per customer, the first day whose rows count in the cohort matrix: an existing customer's first purchase
    day, a new customer's first of the cohort month (a row counts from the month of the first purchase),
    NOT_IN_A_COHORT for customers outside ``member``."""
    month_start = cohort.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return np.where(member, np.where(is_existing, first_day, month_start), NOT_IN_A_COHORT)


def empty_cohort_cells() -> pd.DataFrame:
    """No cohort cells: COHORT_CELL_COLUMNS with their dtypes and no rows."""
    return pd.DataFrame({c: pd.Series(dtype="int64") for c in COHORT_CELL_COLUMNS}).astype(
        {"is_existing": bool, "revenue": "float64"}
    )


def cohort_cells(
    ledger: pd.DataFrame, *, cohort: np.ndarray, is_existing: np.ndarray, counts_from: np.ndarray
) -> pd.DataFrame:
    """Cohort cells (COHORT_CELL_COLUMNS) of ledger rows (customer code, day, amount; transaction_ledger).

    Per customer code: ``cohort`` (month number), ``is_existing``, and ``counts_from`` (counts_from_day): a row
    counts from that day on (its month for a new customer, the first purchase day for an existing one).
    Grouped the same way over any slice of history, so a window's cells and the earlier ones (which never
    share a month) add up to the cells of all history.

    Built from arrays of the counted rows only, a customer's cohort looked up per row once: at a year
    (4M rows) the frame of every row with its customer's cohort, kept and copied twice, held 430 MB at the
    weekly metrics' peak (memray, the bench's year warehouse)."""
    code = ledger["customer"].to_numpy()
    day = ledger["day"].to_numpy()
    kept = day >= counts_from[code]
    code, day = code[kept], day[kept]
    amount = ledger["amount"].to_numpy()[kept]
    del kept
    if not len(code):
        return empty_cohort_cells()
    month = month_number(day)
    del day
    # A cell is (is_existing, cohort, month); both of the first are the customer's, so a customer x month
    # pair is in one cell, and a cell's key is its customer's group (cohort, is_existing) and the month.
    group_of_code = cohort * 2 + is_existing
    first_month = int(month.min())
    span = int(month.max()) - first_month + 1
    cell = group_of_code[code] * span + (month - first_month)
    revenue = _fsum_by(cell, amount)
    bought = amount > 0
    customer_months = pd.unique(code[bought] * span + (month[bought] - first_month))  # once per customer month
    active = pd.Series(group_of_code[customer_months // span] * span + customer_months % span).value_counts()
    cells = pd.DataFrame({"revenue": revenue}).join(active.rename("active_customers"))
    key = cells.index.to_numpy()
    group, month_offset = key // span, key % span
    out = pd.DataFrame(
        {
            "is_existing": (group % 2).astype(bool),
            "cohort": group // 2,
            "month": month_offset + first_month,
            "active_customers": cells["active_customers"].fillna(0).to_numpy().astype(np.int64),
            "revenue": cells["revenue"].to_numpy(np.float64),
        }
    )
    return out.sort_values(["is_existing", "cohort", "month"], kind="stable").reset_index(drop=True)[
        COHORT_CELL_COLUMNS
    ]


def _fsum_by(keys: np.ndarray, values: np.ndarray) -> pd.Series:
    """Per distinct key (sorted), math.fsum of its values: the correctly rounded sum, whatever the order and
    the other keys. pandas' groupby sum gave 239.98 for three rows in a cell among others and
    239.98000000000002 for the same rows in the same order as the only cell (sorted keys took an
    uncompensated path, pandas 3.1), so a window and all history disagreed (found by
    tests/analytics/test_history.py). numpy has no exactly rounded sum; fsum runs per key over one sorted
    copy of the values (groupby(...).agg(math.fsum) held 180 MB more at a year's 4M rows)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    sorted_values = values[order]
    del order
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(sorted_keys)]
    sums = [math.fsum(sorted_values[a:b].tolist()) for a, b in zip(starts, ends, strict=True)]
    return pd.Series(sums, index=sorted_keys[starts], dtype=np.float64)
