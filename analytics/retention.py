"""Retention from transactions (ANALYZE): cohort matrix, weekly activity / repeat / churn / net revenue
retention, and RFM segments.

Owns three frames:
- cohort_retention: one row per cohort month (month of first purchase) x months since first purchase.
- weekly_retention: one row per ISO week.
- rfm_segments: one row per customer with a purchase in the look-back window.

Shared definitions
- A purchase is a transaction with amount > 0 and a customer_id. Refunds (amount < 0) never count as
  activity but do count in revenue, which is always net (purchases + refunds) and customer-attributed:
  transactions without a customer_id are left out of every figure here.
- Days are business days; weeks are ISO weeks of the business day; months are calendar months of it.
- Amounts must be in a single currency (ValueError otherwise): conversion belongs upstream.
- Transactions after `as_of` are ignored, so a backfill run reproduces what was known on that date.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import sparse

from analytics._frames import isin_text, once_per_batch, purchase_days, spend_by_customer, transaction_ledger
from analytics.history import (
    COHORT_CELL_COLUMNS,
    PurchaseHistory,
    cohort_cells,
    counts_from_day,
    existing_customers,
    history_from_frames,
    month_number,
)
from analytics.weeks import date_of, day_number, iso_week_label, monday_of

__all__ = [
    "COHORT_RETENTION_COLUMNS",
    "RFM_COLUMNS",
    "WEEKLY_RETENTION_COLUMNS",
    "compute_cohort_retention",
    "compute_rfm_segments",
    "compute_weekly_retention",
]

COHORT_RETENTION_COLUMNS = [
    "cohort_month",
    "months_since",
    "cohort_size",
    "active_customers",
    "customer_share",
    "revenue",
    "revenue_retained",
    "is_existing_customers",
    "is_partial_month",
]
WEEKLY_RETENTION_COLUMNS = [
    "week",
    "week_start",
    "week_end",
    "is_partial_week",
    "active_customers",
    "new_customers",
    "repeat_customers",
    "repeat_rate",
    "at_risk_customers",
    "churned_customers",
    "churn_rate",
    "revenue",
    "nrr_base_customers",
    "nrr_base_revenue",
    "nrr_current_revenue",
    "net_revenue_retention",
    "period_revenue",
    "prior_period_revenue",
    "period_revenue_returning",
    "period_revenue_new",
]
RFM_COLUMNS = [
    "customer_id",
    "last_purchase_day",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "rfm_segment",
]


def _month_label(month_number: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(month_number.astype("datetime64[M]"), unit="M")


# --------------------------------------------------------------------------------------------- cohorts


def compute_cohort_retention(
    transactions: pd.DataFrame,
    *,
    as_of: dt.date | None = None,
    customers: pd.DataFrame | None = None,
    history: PurchaseHistory | None = None,
) -> pd.DataFrame:
    """Return cohort_retention: one row per cohort x months since its start.

    cohort_month ("YYYY-MM") is the month of a customer's first purchase; months_since runs from 0 to the
    as_of month, every cell present (zeros included) so the matrix is complete. customer_share =
    active_customers / cohort_size, where active means at least one purchase that month. revenue is the
    cohort's net revenue that month and revenue_retained = revenue / the cohort's month-0 revenue
    (NaN when month-0 revenue is not positive). Refunds dated before a customer's first purchase month are
    ignored. `as_of` defaults to the last business day in `transactions`.

    With `customers` (customer_id, created_at), customers created before the first transaction in the data
    are not a new-customer cohort (their first purchase in the data is not their first purchase): they
    form one row labelled "existing before <first day>" (is_existing_customers True), counted from the
    first month of the data; their refunds dated before their first purchase in the data are ignored.
    is_partial_month marks cells of the as_of month when as_of is not its last day (the month is still
    running). Rows: the existing customers first, then by cohort_month, months_since.

    With `history` (see analytics.history), `transactions` holds only the rows from ``history.start`` on and
    the months before come from its cells; the figures are the same as over all history.
    """
    ledger, customer_ids, as_of_day = transaction_ledger(transactions, as_of)
    if history is None:
        start = date_of(int(ledger["day"].min())).replace(day=1) if len(ledger) else dt.date(1970, 1, 1)
        history = history_from_frames(transactions, customers, start)
    first_purchase = history.customers["first_purchase_day"]
    first_purchase = first_purchase.loc[first_purchase <= as_of_day]
    if first_purchase.empty or history.data_start is None:
        return _empty(COHORT_RETENTION_COLUMNS)
    data_start_month = int(month_number(np.array([day_number(history.data_start)]))[0])
    last_month = int(month_number(np.array([as_of_day]))[0])
    data_start = history.data_start
    existing_ids = (
        set()
        if customers is None
        else once_per_batch(f"existing {data_start}", customers, lambda: existing_customers(customers, data_start))
    )
    is_existing = isin_text(first_purchase.index, existing_ids)
    members = pd.DataFrame(
        {
            "is_existing": is_existing,
            "cohort": np.where(is_existing, data_start_month, month_number(first_purchase.to_numpy(np.int64))),
            "first_purchase_day": first_purchase.to_numpy(np.int64),
        },
        index=first_purchase.index,
    )
    cells = _window_cells(ledger, customer_ids, members)
    old = history.cohort_cells
    if len(old):
        cells = pd.concat([old.loc[old["month"] <= last_month, COHORT_CELL_COLUMNS], cells], ignore_index=True)
    parts = []
    for existing in (True, False):
        chosen = members.loc[members["is_existing"] == existing]
        if chosen.empty:
            continue
        grid = _cohort_grid(chosen["cohort"], cells.loc[cells["is_existing"] == existing], last_month)
        if existing:
            grid["cohort_month"] = f"existing before {history.data_start.isoformat()}"
        else:
            grid["cohort_month"] = _month_label(grid["cohort"].to_numpy())
        grid["is_existing_customers"] = existing
        parts.append(grid)
    grid = pd.concat(parts, ignore_index=True)
    as_of_date = date_of(as_of_day)
    month_running = (as_of_date + dt.timedelta(days=1)).month == as_of_date.month
    grid["is_partial_month"] = ((grid["cohort"] + grid["months_since"]) == last_month) & month_running
    return grid[COHORT_RETENTION_COLUMNS].reset_index(drop=True)


def _window_cells(ledger: pd.DataFrame, customer_ids: np.ndarray, members: pd.DataFrame) -> pd.DataFrame:
    """Cohort cells of the ledger's rows (analytics.history.cohort_cells) for the customers in ``members``."""
    position = members.index.get_indexer(customer_ids.astype(str))  # per customer code; -1: not a member
    member = position >= 0
    at = np.where(member, position, 0)
    cohort = np.where(member, members["cohort"].to_numpy()[at], 0)
    is_existing = member & members["is_existing"].to_numpy()[at]
    first_day = np.where(member, members["first_purchase_day"].to_numpy()[at], 0)
    return cohort_cells(
        ledger,
        cohort=cohort,
        is_existing=is_existing,
        counts_from=counts_from_day(cohort, is_existing, first_day, member),
    )


def _cohort_grid(cohort_of: pd.Series, cells: pd.DataFrame, last_month: int) -> pd.DataFrame:
    """The complete cohort x months-since grid of the customers of ``cohort_of`` (customer -> cohort month)."""
    cohort_size = cohort_of.value_counts().rename("cohort_size")
    cells = cells.assign(months_since=cells["month"] - cells["cohort"]).set_index(["cohort", "months_since"])
    cohorts = np.sort(cohort_size.index.to_numpy())
    spans = last_month - cohorts + 1
    grid = pd.DataFrame(
        {
            "cohort": np.repeat(cohorts, spans),
            "months_since": np.concatenate([np.arange(span) for span in spans]),
        }
    )
    grid = grid.join(cohort_size, on="cohort")
    grid = grid.join(cells[["active_customers", "revenue"]], on=["cohort", "months_since"])
    grid["active_customers"] = grid["active_customers"].fillna(0).astype(np.int64)
    grid["revenue"] = grid["revenue"].fillna(0.0)
    grid["customer_share"] = grid["active_customers"] / grid["cohort_size"]
    month_zero = grid.loc[grid["months_since"] == 0].set_index("cohort")["revenue"]
    base = grid["cohort"].map(month_zero.where(month_zero > 0))
    grid["revenue_retained"] = grid["revenue"] / base
    grid["cohort_size"] = grid["cohort_size"].astype(np.int64)
    return grid


# --------------------------------------------------------------------------------------------- weekly


def compute_weekly_retention(
    transactions: pd.DataFrame,
    *,
    as_of: dt.date | None = None,
    churn_days: int = 90,
    nrr_weeks: int = 13,
    history: PurchaseHistory | None = None,
) -> pd.DataFrame:
    """Return weekly_retention: one row per ISO week from the first transaction's week to as_of's week.

    Definitions (week = Monday M to Sunday M+6):
    - active_customers: customers with at least one purchase in the week.
    - new_customers: active customers whose first purchase ever falls in the week;
      repeat_customers = active - new (they had bought before Monday M);
      repeat_rate = repeat_customers / active_customers.
    - Churn: a customer becomes churned on day last_purchase + churn_days if they have not bought again by
      then (i.e. churn_days full days passed without a purchase). A new purchase makes them active again.
      at_risk_customers: customers not churned at the start of the week (bought before M, and their churn
      day is M or later); churned_customers: those whose churn day falls in the week (on or before as_of);
      churn_rate = churned_customers / at_risk_customers. With churn_days >= 7 every customer churning in
      a week was at risk at its start.
    - revenue: net revenue of the week.
    - Net revenue retention: base = customers with a purchase in the prior period (the `nrr_weeks` weeks
      before the current period); current period = the `nrr_weeks` weeks ending with this week.
      net_revenue_retention = base customers' net revenue in the current period / their net revenue in
      the prior period (new customers are excluded by construction). NaN until the data covers a full
      prior period, or when the base revenue is not positive. It is NOT the change in total revenue: it
      leaves out everyone who did not buy in the prior period. Beside it, for the same periods:
      period_revenue (everyone's net revenue in the current period), prior_period_revenue (everyone's in the
      prior period), period_revenue_returning (customers whose first purchase came before the current
      period: the base plus lapsed customers who came back) and period_revenue_new (customers whose first
      purchase falls in the current period); returning + new = period_revenue.
    - is_partial_week: the week runs past as_of, so its counts are incomplete.
    `as_of` defaults to the last business day in `transactions`. Rows sorted by week.

    With `history` (see analytics.history), `transactions` holds only the rows from ``history.start`` on:
    rows start at the week of that day (or of the first transaction, if later), and a customer's first
    purchase comes from the history. The rows of every week at least 2 x nrr_weeks weeks and churn_days
    after ``history.start`` are the same as over all history; earlier ones are incomplete.
    """
    if churn_days < 7:
        raise ValueError(f"churn_days must be >= 7 for a weekly churn rate, got {churn_days}")
    if nrr_weeks < 1:
        raise ValueError(f"nrr_weeks must be >= 1, got {nrr_weeks}")
    ledger, customer_ids, as_of_day = transaction_ledger(transactions, as_of)
    earlier = history is not None and bool((history.customers["first_day"] <= as_of_day).any())
    if ledger.empty and not earlier:  # no transaction up to as_of, in the window or before it
        return _empty(WEEKLY_RETENTION_COLUMNS)
    purchases = ledger.loc[ledger["amount"] > 0]
    first_purchase = np.full(len(customer_ids), np.nan)
    if history is None:
        first_day = int(ledger["day"].min())
        first = purchases.groupby("customer")["day"].min()
        first_purchase[first.index.to_numpy()] = first.to_numpy()
    else:
        first_day = max(history.start_day, int(ledger["day"].min()) if len(ledger) else as_of_day)
        if len(history.customers):
            first_day = max(history.start_day, min(first_day, int(history.customers["first_day"].min())))
        position = history.customers.index.get_indexer(customer_ids.astype(str))
        known = position >= 0
        first_purchase[known] = history.customers["first_purchase_day"].to_numpy()[position[known]]
    first_monday = int(monday_of(np.array([first_day]))[0])
    mondays = np.arange(first_monday, int(monday_of(np.array([as_of_day]))[0]) + 1, 7)
    ledger["week_index"] = (monday_of(ledger["day"].to_numpy()) - first_monday) // 7

    weekly = pd.DataFrame({"week_start": mondays})
    weekly["week"] = [iso_week_label(date_of(monday)) for monday in mondays]
    weekly["is_partial_week"] = mondays + 6 > as_of_day
    weekly = weekly.join(_activity_by_week(ledger, mondays, first_purchase))
    weekly = weekly.join(_churn_by_week(ledger, mondays, as_of_day=as_of_day, churn_days=churn_days))
    weekly["revenue"] = np.bincount(ledger["week_index"], weights=ledger["amount"], minlength=len(mondays)).astype(
        np.float64
    )  # float even when the window holds no transaction
    first_week = np.where(
        np.isnan(first_purchase),
        len(mondays),  # no purchase: never "new" (refunds only)
        (monday_of(np.nan_to_num(first_purchase).astype(np.int64)) - first_monday) // 7,
    )
    weekly = weekly.join(_net_revenue_retention(ledger, len(mondays), first_week, nrr_weeks=nrr_weeks))
    weekly["week_end"] = [date_of(monday + 6) for monday in mondays]
    weekly["week_start"] = [date_of(monday) for monday in mondays]
    return weekly[WEEKLY_RETENTION_COLUMNS]


def _activity_by_week(ledger: pd.DataFrame, mondays: np.ndarray, first_purchase: np.ndarray) -> pd.DataFrame:
    """Active, new and repeat customers per week; ``first_purchase``: each customer code's first purchase day."""
    bought = ledger["amount"].to_numpy() > 0
    weeks = len(mondays)
    # Each customer x week with a purchase once, as one int key (a frame's drop_duplicates of 4M rows held
    # about 200 MB more at a year).
    active = pd.unique(ledger["customer"].to_numpy()[bought] * weeks + ledger["week_index"].to_numpy()[bought])
    customer, week_index = active // weeks, active % weeks
    is_repeat = first_purchase[customer] < mondays[week_index]
    counts = pd.DataFrame(
        {
            "active_customers": np.bincount(week_index, minlength=weeks),
            "repeat_customers": np.bincount(week_index[is_repeat], minlength=weeks),
        }
    )
    counts["new_customers"] = counts["active_customers"] - counts["repeat_customers"]
    with np.errstate(invalid="ignore", divide="ignore"):
        counts["repeat_rate"] = counts["repeat_customers"] / counts["active_customers"].replace(0, np.nan)
    return counts


def _churn_by_week(ledger: pd.DataFrame, mondays: np.ndarray, *, as_of_day: int, churn_days: int) -> pd.DataFrame:
    customer, day = purchase_days(ledger)
    # A spell is a run of purchases with gaps of at most churn_days; each spell ends in one churn day.
    same_customer_next = np.zeros(len(day), dtype=bool)
    same_customer_next[:-1] = customer[1:] == customer[:-1]
    gap_to_next = np.zeros(len(day), dtype=np.int64)
    gap_to_next[:-1] = np.diff(day)
    spell_ends = ~same_customer_next | (gap_to_next > churn_days)
    spell_starts = np.ones(len(day), dtype=bool)
    spell_starts[1:] = spell_ends[:-1]
    starts = np.sort(day[spell_starts])
    churn_at = np.sort(day[spell_ends] + churn_days)
    observed_churn = churn_at[churn_at <= as_of_day]

    # Alive at the end of day d: spells started on or before d whose churn day is after d.
    eve = mondays - 1
    at_risk = np.searchsorted(starts, eve, side="right") - np.searchsorted(churn_at, eve, side="right")
    churned = np.searchsorted(observed_churn, mondays + 6, side="right") - np.searchsorted(
        observed_churn, mondays, side="left"
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(at_risk > 0, churned / np.where(at_risk > 0, at_risk, 1), np.nan)
    return pd.DataFrame({"at_risk_customers": at_risk, "churned_customers": churned, "churn_rate": rate})


def _nonzero_sum(values: np.ndarray) -> float:
    """The sum of the non-zero values, in order: customers without revenue in a period do not change it, so
    a window that holds fewer of them (analytics.history) adds up exactly the same numbers."""
    return float(values[values != 0].sum())


def _net_revenue_retention(
    ledger: pd.DataFrame, week_count: int, first_week: np.ndarray, *, nrr_weeks: int
) -> pd.DataFrame:
    """``first_week``: each customer code's first purchase week index (week_count when it has none)."""
    customers = len(first_week)
    shape = (customers, week_count)
    rows, columns = ledger["customer"].to_numpy(), ledger["week_index"].to_numpy()
    revenue = sparse.csc_matrix((ledger["amount"].to_numpy(), (rows, columns)), shape=shape)
    bought = sparse.csc_matrix(((ledger["amount"] > 0).to_numpy().astype(np.float64), (rows, columns)), shape=shape)
    base_customers = np.zeros(week_count, dtype=np.int64)
    base_revenue = np.full(week_count, np.nan)
    current_revenue = np.full(week_count, np.nan)
    period_revenue = np.full(week_count, np.nan)
    prior_revenue = np.full(week_count, np.nan)
    returning_revenue = np.full(week_count, np.nan)
    new_revenue = np.full(week_count, np.nan)
    # One pass per week over a sparse column slice: weeks are few (52 a year), customers many.
    for week in range(2 * nrr_weeks - 1, week_count):
        prior = slice(week - 2 * nrr_weeks + 1, week - nrr_weeks + 1)
        current = slice(week - nrr_weeks + 1, week + 1)
        in_base = np.asarray(bought[:, prior].sum(axis=1)).ravel() > 0
        base_customers[week] = int(in_base.sum())
        base_revenue[week] = _nonzero_sum(np.asarray(revenue[:, prior].sum(axis=1)).ravel()[in_base])
        current_by_customer = np.asarray(revenue[:, current].sum(axis=1)).ravel()
        current_revenue[week] = _nonzero_sum(current_by_customer[in_base])
        is_new = first_week >= week - nrr_weeks + 1
        period_revenue[week] = _nonzero_sum(current_by_customer)
        prior_revenue[week] = _nonzero_sum(revenue[:, prior].tocsc().data)
        new_revenue[week] = _nonzero_sum(current_by_customer[is_new])
        returning_revenue[week] = _nonzero_sum(current_by_customer[~is_new])
    with np.errstate(invalid="ignore", divide="ignore"):
        nrr = np.where(base_revenue > 0, current_revenue / base_revenue, np.nan)
    reported_base = pd.array(base_customers, dtype="Int64")
    reported_base[np.isnan(base_revenue)] = pd.NA
    return pd.DataFrame(
        {
            "nrr_base_customers": reported_base,
            "nrr_base_revenue": base_revenue,
            "nrr_current_revenue": current_revenue,
            "net_revenue_retention": nrr,
            "period_revenue": period_revenue,
            "prior_period_revenue": prior_revenue,
            "period_revenue_returning": returning_revenue,
            "period_revenue_new": new_revenue,
        }
    )


# --------------------------------------------------------------------------------------------- RFM

# Segment rules on (R, F) scores, checked in this order; the first match wins.
_RFM_SEGMENT_RULES = (
    ("champions", lambda r, f: (r >= 4) & (f >= 4)),
    ("at_risk", lambda r, f: (r <= 2) & (f >= 3)),
    ("loyal", lambda r, f: f >= 4),
    ("new", lambda r, f: (r == 5) & (f == 1)),
    ("promising", lambda r, f: r >= 4),
    ("hibernating", lambda r, f: r <= 2),
)


def compute_rfm_segments(
    transactions: pd.DataFrame, *, as_of: dt.date, lookback_days: int | None = 365, bins: int = 5
) -> pd.DataFrame:
    """Return rfm_segments: one row per customer with at least one purchase in the look-back window.

    Window: business days in (as_of - lookback_days, as_of]; None means all history up to as_of.
    recency_days = as_of - last purchase day; frequency = number of purchase transactions;
    monetary = net spend (refunds included) in the window.
    Scores 1..bins (bins = 5 gives quintiles), higher is better (recent, frequent, big spender):
    customers are ordered by customer_id, ranked with rank(method="first") so ties are broken by
    customer_id (deterministic, and every bin gets an equal share of customers even when many values tie,
    e.g. frequency 1), and score = ceil(rank * bins / n), i.e. pd.qcut on ranks.
    rfm_score is the three digits "RFM"; rfm_segment applies these rules in order on (R, F):
    champions R>=4 & F>=4; at_risk R<=2 & F>=3; loyal F>=4; new R=5 & F=1; promising R>=4;
    hibernating R<=2; otherwise needs_attention. Rows sorted by customer_id.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    ledger, customer_ids, as_of_day = transaction_ledger(transactions, as_of, window_days=lookback_days)
    purchases = ledger.loc[ledger["amount"] > 0]
    if purchases.empty:
        return _empty(RFM_COLUMNS)
    per_customer = purchases.groupby("customer").agg(last_day=("day", "max"), frequency=("day", "size"))
    per_customer["monetary"] = (
        ledger.groupby("customer")["amount"].sum()
        if lookback_days is None
        else spend_by_customer(transactions, date_of(as_of_day), lookback_days)
    )
    per_customer = per_customer.sort_index()  # codes follow sorted customer_id, so this is the tie-break
    per_customer["recency_days"] = as_of_day - per_customer["last_day"]
    n = len(per_customer)

    def score(values: pd.Series) -> np.ndarray:
        ranks = values.rank(method="first").to_numpy()
        return np.ceil(ranks * bins / n).astype(np.int64)

    r = score(-per_customer["recency_days"])
    f = score(per_customer["frequency"])
    m = score(per_customer["monetary"])
    segment = np.select(
        [rule(r, f) for _, rule in _RFM_SEGMENT_RULES],
        [name for name, _ in _RFM_SEGMENT_RULES],
        default="needs_attention",
    )
    return pd.DataFrame(
        {
            "customer_id": customer_ids[per_customer.index.to_numpy()],
            "last_purchase_day": _dates_of(per_customer["last_day"].to_numpy(np.int64)),
            "recency_days": per_customer["recency_days"].to_numpy(np.int64),
            "frequency": per_customer["frequency"].to_numpy(np.int64),
            "monetary": per_customer["monetary"].to_numpy(np.float64),
            "r_score": r,
            "f_score": f,
            "m_score": m,
            "rfm_score": _rfm_codes(r, f, m),
            "rfm_segment": segment,
        }
    ).astype({"customer_id": "str", "rfm_score": "str", "rfm_segment": "str"})


def _dates_of(days: np.ndarray) -> np.ndarray:
    """Day numbers as date objects (an object array), one date_of per distinct day."""
    distinct, position = np.unique(days, return_inverse=True)
    return np.array([date_of(int(day)) for day in distinct], dtype=object)[position]


def _rfm_codes(r: np.ndarray, f: np.ndarray, m: np.ndarray) -> np.ndarray:
    if max(r.max(), f.max(), m.max()) <= 9:  # single digits: build "545" without a Python loop
        return (r * 100 + f * 10 + m).astype("U3")
    return np.array([f"{a}-{b}-{c}" for a, b, c in zip(r, f, m, strict=True)])


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="object") for column in columns})
