"""Input checks and column coercions shared by the analytics modules (private)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from analytics.weeks import day_number, day_numbers_of
from loyalty.contract import SERVICE_DIMENSIONS

__all__ = ["NPS_GROUPS", "SERVICE_DIMENSIONS", "UNKNOWN", "is_detractor", "is_promoter", "nps_group"]

UNKNOWN = "unknown"
# The NPS groups, the one place their cut-offs are written: detractor 0-6, passive 7-8, promoter 9-10.
NPS_GROUPS = ("detractor", "passive", "promoter")
_DETRACTOR_MAX, _PROMOTER_MIN = 6, 9


def nps_group(nps: pd.Series) -> pd.Series:
    """Label NPS scores: detractor 0-6, passive 7-8, promoter 9-10; missing stays missing."""
    values = pd.to_numeric(nps).astype("float64")
    labels = np.select([values <= _DETRACTOR_MAX, values < _PROMOTER_MIN, values <= 10], list(NPS_GROUPS), default="")
    return pd.Series(labels, index=nps.index, dtype="str").where(values.notna())


def is_detractor(nps: pd.Series) -> pd.Series:
    """True where the score is a detractor's (0-6); False where it is higher or missing."""
    return pd.to_numeric(nps).astype("float64") <= _DETRACTOR_MAX


def is_promoter(nps: pd.Series) -> pd.Series:
    """True where the score is a promoter's (9-10); False where it is lower or missing."""
    return pd.to_numeric(nps).astype("float64") >= _PROMOTER_MIN


def require_columns(frame: pd.DataFrame, columns: Iterable[str], frame_name: str) -> None:
    """Raise ValueError naming every missing column, so contract breaks fail loudly and early."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{frame_name} is missing required column(s): {', '.join(missing)}")


def scores(frame: pd.DataFrame, column: str, low: int, high: int) -> pd.Series:
    """Return a survey score column as float64 with NaN for missing answers.

    Accepts float-with-NaN and pandas nullable Int64. Out-of-range answers are a contract breach
    upstream (Great Expectations should have caught them), so they raise instead of being dropped.
    """
    values = pd.to_numeric(frame[column], errors="raise").astype("float64")
    bad = values.notna() & ~values.between(low, high)
    if bad.any():
        examples = values[bad].unique()[:3].tolist()
        raise ValueError(f"{column} must lie in [{low}, {high}]; found {examples}")
    return values


def labels_or_unknown(values: pd.Series) -> pd.Series:
    """Return a string Series where missing or blank labels read 'unknown' (a segment may be None)."""
    text = values.astype("str")
    return text.where(values.notna() & (text.str.strip() != ""), UNKNOWN)


def has_text(values: pd.Series) -> pd.Series:
    """True where a free-text value is present and not just whitespace."""
    text = values.astype("str")
    return (values.notna() & (text.str.strip().str.len() > 0)).astype(bool)


def isin_text(values: pd.Series | pd.Index | np.ndarray, members: Iterable[object]) -> np.ndarray:
    """``values.isin(members)`` for ids and other text, as a bool array: True where a value is one of
    ``members``; a missing value never is.

    Through one hash table of plain objects (pandas' own, as an object Index's isin): pandas 3.1's isin of a
    ``str`` column makes a pyarrow scalar per member (130 ms for 20,000 members, and the RETAIN list and
    the cohort matrix asked it each week), and numpy's isin compares object arrays member by member."""
    candidates = np.asarray(list(members), dtype=object)
    plain = np.asarray(values, dtype=object)
    return pd.Index(plain, dtype=object).isin(candidates) & pd.notna(plain)


def nps_scores(responses: pd.DataFrame) -> pd.Series:
    """The responses' NPS as scores(responses, "nps", 0, 10), derived once per batch (the RETAIN list's
    detractors and the repurchase respondents ask each week)."""
    return once_per_batch("nps scores", responses, lambda: scores(responses, "nps", 0, 10))


def purchases_only(transactions: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Rows that count as a purchase: positive amount and a known customer (refunds are not activity).
    ``columns``: only those (a copy of the rows of a few columns, not of every column)."""
    amount = transactions["amount"].astype("float64")
    is_purchase = (amount > 0) & transactions["customer_id"].notna()
    return transactions.loc[is_purchase] if columns is None else transactions.loc[is_purchase, columns]


def require_single_currency(transactions: pd.DataFrame) -> None:
    """Refuse to add up amounts in different currencies: conversion belongs upstream, not here."""
    if "currency" not in transactions.columns or transactions.empty:
        return
    currencies = sorted(transactions["currency"].dropna().astype("str").unique().tolist())
    if len(currencies) > 1:
        raise ValueError(
            f"transactions hold several currencies ({', '.join(currencies)}); convert amounts to one "
            "currency before computing revenue metrics"
        )


def as_float_array(values: pd.Series | np.ndarray) -> np.ndarray:
    """Plain float64 ndarray with NaN for missing values (pd.NA included)."""
    return pd.Series(values).astype("float64").to_numpy()


T = TypeVar("T")
# What one_batch has derived from its input frames: (kind, id(frame)) -> (frame, derived value). The frame is
# kept so that its id cannot be reused by another frame while the batch runs.
_BATCH: ContextVar[dict[tuple[str, int], tuple[Any, Any]] | None] = ContextVar("analytics_batch", default=None)


@contextmanager
def one_batch() -> Iterator[None]:
    """Within it, what the analytics derive from an input frame that does not depend on the week (the
    transaction ledger's customer codes and day numbers, the purchases in time order) is derived once per frame
    and reused by every week's figures, instead of once per figure per week: at a year's history that was 2 s
    of each week. The frames given to the analytics must not change while it is open (they never do: the
    analytics are pure).
    """
    token = _BATCH.set({})
    try:
        yield
    finally:
        _BATCH.reset(token)


def in_batch() -> bool:
    """Whether one_batch is open (what is derived once per frame is then kept while it runs)."""
    return _BATCH.get() is not None


def once_per_batch(kind: str, frame: pd.DataFrame, build: Callable[[], T]) -> T:
    """``build()``, or inside one_batch the value it gave for this very frame and kind."""
    memo = _BATCH.get()
    if memo is None:
        return build()
    hit = memo.get((kind, id(frame)))
    if hit is not None and hit[0] is frame:
        return hit[1]
    value = build()
    memo[(kind, id(frame))] = (frame, value)
    return value


def _full_ledger(transactions: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    require_columns(transactions, ["customer_id", "business_day", "amount"], "transactions")
    require_single_currency(transactions)
    known = transactions.loc[transactions["customer_id"].notna()]
    codes, customer_ids = pd.factorize(known["customer_id"].astype("str"), sort=True)
    ledger = pd.DataFrame(
        {
            "customer": codes.astype(np.int64),
            "day": day_numbers_of(known["business_day"]),
            "amount": known["amount"].astype("float64").to_numpy(),
        }
    )
    return ledger, np.asarray(customer_ids, dtype=object)


def transaction_ledger(
    transactions: pd.DataFrame, as_of: dt.date | None, *, window_days: int | None = None
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Return (ledger, customer_ids, as_of_day) for transactions on or before as_of (default: the last day),
    and with ``window_days`` only those of the window_days days up to as_of (days in (as_of - window_days,
    as_of]).

    ledger has int `customer` codes (positions in the sorted customer_ids array), int `day` (days since
    1970-01-01) and float `amount`; rows without a customer_id are dropped (they cannot be attributed).
    The codes and day numbers are computed once per frame inside one_batch.
    """
    full, customer_ids = once_per_batch("ledger", transactions, lambda: _full_ledger(transactions))
    as_of_day = day_number(as_of) if as_of is not None else int(full["day"].max()) if len(full) else 0
    after = None if window_days is None else as_of_day - window_days
    in_day_order = once_per_batch("ledger in day order", transactions, lambda: _in_day_order(full))
    return _days_between(full, after, as_of_day, in_day_order=in_day_order), customer_ids.copy(), as_of_day


def spend_by_customer(transactions: pd.DataFrame, as_of: dt.date, window_days: int) -> pd.Series:
    """Each customer code's net amount over the ``window_days`` days up to as_of (days in (as_of - window_days,
    as_of]), indexed by code: the RFM monetary score's and the RETAIN list's value at risk (one sum for both
    inside a batch)."""

    def build() -> pd.Series:
        ledger, _, _ = transaction_ledger(transactions, as_of, window_days=window_days)
        return ledger.groupby("customer")["amount"].sum()

    return once_per_batch(f"spend {as_of} {window_days}", transactions, build)


def _in_day_order(ledger: pd.DataFrame) -> bool:
    day = ledger["day"].to_numpy()
    return bool(len(day) < 2 or (day[1:] >= day[:-1]).all())


def _days_between(ledger: pd.DataFrame, after: int | None, last_day: int, *, in_day_order: bool) -> pd.DataFrame:
    """The ledger's rows with ``after`` < day <= ``last_day``, in their order, numbered from 0.

    The warehouse gives transactions in day order, so the rows are a slice found by binary search instead of
    a mask over every row and a copy (at a year, 4M rows copied per figure per week); a ledger not in day
    order (a caller's own frame) is masked. Every row: the frame itself, not a copy (copy-on-write keeps the
    batch's frame as it is when a caller adds a column)."""
    day = ledger["day"].to_numpy()
    if in_day_order:
        start = 0 if after is None else int(np.searchsorted(day, after, side="right"))
        stop = int(np.searchsorted(day, last_day, side="right"))
        if start == 0 and stop == len(day):
            return ledger.copy(deep=False)
        return ledger.iloc[start:stop].reset_index(drop=True)
    keep = day <= last_day
    if after is not None:
        keep &= day > after
    return ledger.copy(deep=False) if keep.all() else ledger.loc[keep].reset_index(drop=True)


def purchase_days(ledger: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each (customer code, day) of a transaction_ledger with a purchase, once, sorted by customer then day, as
    two int64 arrays. One int key per row, found by hash then sorted: a frame's drop_duplicates and sort of 4M
    rows held about 200 MB more at a year, and np.unique took 4.7 s for 4M keys (numpy 2.4) against 0.6 s."""
    bought = ledger["amount"].to_numpy() > 0
    day = ledger["day"].to_numpy()[bought]
    if not len(day):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    first, span = int(day.min()), int(day.max() - day.min()) + 1
    keys = np.sort(pd.unique(ledger["customer"].to_numpy()[bought] * span + (day - first)))
    return keys // span, keys % span + first
