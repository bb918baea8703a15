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
    cohort = np.where(has_first, month_number(np.nan_to_num(first).astype(np.int64)), -1)
    cohort[existing] = int(month_number(np.array([day_number(data_start)]))[0])
    old = old.loc[has_first[old["customer"].to_numpy()]]
    code = old["customer"].to_numpy()
    return cohort_cells(
        old.assign(
            month=month_number(old["day"].to_numpy()),
            cohort=cohort[code],
            is_existing=existing[code],
            first_purchase_day=first[code],
        )
    )


def empty_cohort_cells() -> pd.DataFrame:
    """No cohort cells: COHORT_CELL_COLUMNS with their dtypes and no rows."""
    return pd.DataFrame({c: pd.Series(dtype="int64") for c in COHORT_CELL_COLUMNS}).astype(
        {"is_existing": bool, "revenue": "float64"}
    )


def cohort_cells(rows: pd.DataFrame) -> pd.DataFrame:
    """Cohort cells (COHORT_CELL_COLUMNS) of ledger rows carrying their customer's cohort, is_existing and
    first_purchase_day. A row counts from the first purchase: its month for a new customer, its day for an
    existing one. Grouped the same way over any slice of history, so a cell's revenue adds up the same rows in
    the same order (the window's cells and the earlier ones never share a month)."""
    from_first_day = rows["day"].to_numpy() >= rows["first_purchase_day"].to_numpy()
    rows = rows.loc[np.where(rows["is_existing"], from_first_day, rows["month"] >= rows["cohort"])]
    keys = ["is_existing", "cohort", "month"]
    active = rows.loc[rows["amount"] > 0, [*keys, "customer"]].drop_duplicates().groupby(keys).size()
    # math.fsum: the correctly rounded sum, whatever the order and the other cells. pandas' groupby sum gave
    # 239.98 for three rows in a cell among others and 239.98000000000002 for the same rows in the same order
    # as the only cell (sorted keys took an uncompensated path, pandas 3.1), so a window and all history
    # disagreed (found by tests/analytics/test_history.py). Costs about 0.15 s more on 4M rows.
    revenue = rows.groupby(keys)["amount"].agg(math.fsum).rename("revenue")
    cells = revenue.to_frame().join(active.rename("active_customers")).reset_index()
    cells["active_customers"] = cells["active_customers"].fillna(0).astype(np.int64)
    return cells[COHORT_CELL_COLUMNS]
