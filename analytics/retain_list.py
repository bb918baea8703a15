"""The weekly RETAIN list: customers worth a personal call this week, ranked by the value at risk.

Owns the `retain_list` frame: one row per customer to contact, and the email masking rule. Personal data
leaves this module only as customer_id and a masked email.

Who is on the list
- Detractors: customers with a customer_id who gave NPS 0-6 in the week (anonymous cards cannot be called).
- Overdue valuable customers: monetary RFM score >= min_monetary_score as of `as_of` (top two quintiles
  by default), at least `min_purchases` distinct purchase days in the value window, and days since their
  last purchase > overdue_factor x their median gap between those purchase days (their own rhythm over the
  last `value_window_days` days, not a global rule and not how they bought years ago).
value_at_risk = the customer's net spend in the `value_window_days` days up to as_of (trailing 12 months).

Order: the list is reserved for the week's detractors first (every identified detractor, highest value at
risk first), then the overdue valuable customers who are not detractors, by value at risk. Ranking everyone
by spend alone pushed most detractors below the cut (27 of 31 in one week). is_on_previous_list marks
customers who were also on last week's list (the caller passes last week's listed customer ids).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analytics._frames import (
    is_detractor,
    isin_text,
    nps_scores,
    once_per_batch,
    purchase_days,
    require_columns,
    spend_by_customer,
    transaction_ledger,
)
from analytics.history import PurchaseHistory
from analytics.retention import compute_rfm_segments
from analytics.weeks import day_number, day_numbers_of, parse_iso_week

__all__ = ["RETAIN_COLUMNS", "build_retain_list", "mask_email", "mask_emails"]

RETAIN_COLUMNS = [
    "week",
    "rank",
    "customer_id",
    "email_masked",
    "region",
    "segment",
    "value_at_risk",
    "is_detractor",
    "is_overdue",
    "nps",
    "days_since_last_purchase",
    "usual_gap_days",
    "reason",
    "is_on_previous_list",
]


def mask_email(email: str | None) -> str | None:
    """Mask an email for display: "jane@example.com" -> "j***@example.com"; None stays None.

    Anything without a usable "@domain" becomes "***" so a malformed value never leaks in full.
    """
    if email is None or (not isinstance(email, str) and pd.isna(email)):
        return None
    local, at, domain = str(email).strip().rpartition("@")
    if not at or not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_emails(emails: pd.Series) -> pd.Series:
    """Series version of mask_email (same index)."""
    return emails.map(mask_email, na_action="ignore").astype("object").where(emails.notna(), None)


def build_retain_list(
    responses: pd.DataFrame,
    transactions: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    week: str,
    as_of: dt.date | None = None,
    overdue_factor: float = 2.0,
    min_purchases: int = 3,
    min_monetary_score: int = 4,
    value_window_days: int = 365,
    previous_list: set[str] | None = None,
    history: PurchaseHistory | None = None,
) -> pd.DataFrame:
    """Return retain_list: one row per customer to contact for `week` ("YYYY-Www").

    Columns RETAIN_COLUMNS. `as_of` defaults to the week's Sunday; transactions after it are ignored.
    nps is the customer's lowest NPS in the week (detractors only); days_since_last_purchase and
    usual_gap_days are filled whenever the customer has purchase history. `reason` lists every reason,
    detractor responses first (oldest first), separated by "; ", e.g.
    "Detractor (NPS 3) on 2026-11-18 via phone; Overdue: 64 days since last purchase vs usual 21".
    Sorted detractors first, then by value_at_risk (highest first), then customer_id; rank starts at 1.
    is_on_previous_list: the customer_id is in `previous_list` (last week's list; all False without it).
    With `history` (analytics.history), `transactions` may start at ``history.start``, a year or more before
    as_of: the list is the same as over all history.
    """
    monday, sunday = parse_iso_week(week)
    as_of = as_of or sunday
    require_columns(
        responses,
        ["response_id", "customer_id", "submitted_at", "business_day", "channel", "nps"],
        "responses",
    )
    require_columns(customers, ["customer_id", "email", "region", "segment"], "customers")
    if overdue_factor <= 0 or min_purchases < 2:
        raise ValueError("overdue_factor must be > 0 and min_purchases >= 2 (a rhythm needs a gap)")

    detractors = _detractors(responses, monday=monday, sunday=sunday)
    rhythm = _purchase_rhythm(transactions, as_of=as_of, value_window_days=value_window_days, history=history)
    rfm = compute_rfm_segments(transactions, as_of=as_of, lookback_days=value_window_days)
    valuable = set(rfm.loc[rfm["m_score"] >= min_monetary_score, "customer_id"])
    rhythm["is_overdue"] = (
        isin_text(rhythm.index, valuable)
        & (rhythm["purchase_days"] >= min_purchases)
        & (rhythm["days_since_last_purchase"] > overdue_factor * rhythm["usual_gap_days"])
    )

    listed = detractors.join(rhythm, how="outer")
    listed = listed.loc[listed["detractor_reason"].notna() | listed["is_overdue"].fillna(False).astype(bool)]
    listed = listed.rename_axis("customer_id").reset_index()
    listed["is_detractor"] = listed["detractor_reason"].notna()
    listed["is_overdue"] = listed["is_overdue"].fillna(False).astype(bool)
    listed["value_at_risk"] = listed["value_at_risk"].fillna(0.0)
    listed["reason"] = _reasons(listed)

    profile = once_per_batch("retain profile", customers, lambda: _profile(customers))
    listed = listed.merge(profile, on="customer_id", how="left")
    listed["email_masked"] = mask_emails(listed["email"])
    listed = listed.sort_values(
        ["is_detractor", "value_at_risk", "customer_id"], ascending=[False, False, True], kind="stable"
    )
    listed["is_on_previous_list"] = isin_text(listed["customer_id"], previous_list or set())
    listed["rank"] = np.arange(1, len(listed) + 1)
    listed["week"] = week
    listed["nps"] = listed["nps"].astype("Int64")
    listed["days_since_last_purchase"] = listed["days_since_last_purchase"].astype("Int64")
    return listed[RETAIN_COLUMNS].reset_index(drop=True)


def _profile(customers: pd.DataFrame) -> pd.DataFrame:
    """Each customer's email, region and segment (the first row of a repeated id)."""
    profile = customers.drop_duplicates("customer_id").assign(customer_id=lambda f: f["customer_id"].astype("str"))
    return profile[["customer_id", "email", "region", "segment"]]


def _detractors(responses: pd.DataFrame, *, monday: dt.date, sunday: dt.date) -> pd.DataFrame:
    nps = nps_scores(responses)
    days = once_per_batch("response days", responses, lambda: day_numbers_of(responses["business_day"]))
    in_week = (days >= day_number(monday)) & (days <= day_number(sunday))
    picked = responses.loc[in_week & is_detractor(nps).to_numpy() & responses["customer_id"].notna().to_numpy()]
    if picked.empty:
        return pd.DataFrame(
            {"nps": pd.Series(dtype="float64"), "detractor_reason": pd.Series(dtype="str")},
            index=pd.Index([], dtype="str", name="customer_id"),
        )
    picked = pd.DataFrame(
        {
            "customer_id": picked["customer_id"].astype("str"),
            "nps": nps.loc[picked.index],
            "day": pd.to_datetime(picked["business_day"]).dt.strftime("%Y-%m-%d"),
            "channel": picked["channel"].astype("str").fillna("unknown channel"),
            "submitted_at": pd.to_datetime(picked["submitted_at"], utc=True),
            "response_id": picked["response_id"].astype("str"),
        }
    ).sort_values(["customer_id", "submitted_at", "response_id"], kind="stable")
    picked["reason"] = (
        "Detractor (NPS "
        + picked["nps"].astype(int).astype("str")
        + ") on "
        + picked["day"]
        + " via "
        + picked["channel"]
    )
    grouped = picked.groupby("customer_id", sort=True)
    return pd.DataFrame({"nps": grouped["nps"].min(), "detractor_reason": grouped["reason"].agg("; ".join)})


def _purchase_rhythm(
    transactions: pd.DataFrame, *, as_of: dt.date, value_window_days: int, history: PurchaseHistory | None
) -> pd.DataFrame:
    """One row per customer with purchase history up to as_of: rhythm and value at risk.

    The rhythm (purchase_days, usual_gap_days) is the customer's over the value window, as the value at risk
    is: how they buy now, not years ago. days_since_last_purchase counts from their last purchase ever (from
    ``history`` when it came before the transactions given).
    """
    _, customer_ids, as_of_day = transaction_ledger(transactions, as_of)
    ids = pd.Index(customer_ids.astype(str), dtype="str")
    days_bought = once_per_batch("purchase_days", transactions, lambda: _purchase_days(transactions))
    bought = days_bought.loc[days_bought["day"].to_numpy() <= as_of_day]  # still in (customer, day) order
    last = bought.groupby("customer")["day"].max()
    last = pd.Series(last.to_numpy(np.float64), index=ids[last.index.to_numpy()])
    if history is not None:  # a purchase in the transactions given is later than any before them
        last = last.combine_first(history.customers["last_purchase_before"].dropna())
    days = bought.loc[bought["day"] > as_of_day - value_window_days]
    gaps = days["day"].diff()
    gaps[days["customer"].ne(days["customer"].shift())] = np.nan  # no gap across customers
    rhythm = pd.DataFrame(
        {"purchase_days": days.groupby("customer").size(), "usual_gap_days": gaps.groupby(days["customer"]).median()}
    )
    rhythm.index = ids[rhythm.index.to_numpy()]
    rhythm = rhythm.join((as_of_day - last).rename("days_since_last_purchase"), how="outer")
    value = spend_by_customer(transactions, as_of, value_window_days)
    value = pd.Series(value.to_numpy(), index=ids[value.index.to_numpy()], name="value_at_risk")
    rhythm = rhythm.join(value, how="outer")
    rhythm.index = pd.Index(rhythm.index, name="customer_id", dtype="str")
    return rhythm


def _purchase_days(transactions: pd.DataFrame) -> pd.DataFrame:
    """Each (customer code, day) with a purchase, once, sorted by customer then day: the days of every as_of
    are a cut of it (a batch derives it once)."""
    ledger, _, _ = transaction_ledger(transactions, None)
    customer, day = purchase_days(ledger)
    return pd.DataFrame({"customer": customer, "day": day})


def _reasons(listed: pd.DataFrame) -> pd.Series:
    gap = listed["usual_gap_days"].map(lambda value: f"{value:g}", na_action="ignore").astype("str")
    days_since = listed["days_since_last_purchase"].map(lambda value: f"{int(value)}", na_action="ignore")
    days_since = days_since.astype("str")
    overdue = ("Overdue: " + days_since + " days since last purchase vs usual " + gap).where(listed["is_overdue"])
    detractor = listed["detractor_reason"]
    reason = detractor.fillna(overdue)
    both = detractor.notna() & overdue.notna()
    reason[both] = detractor[both] + "; " + overdue[both]
    return reason
