"""RETAIN, closed: cases opened from each week's RETAIN list, the control group, and the follow-up figures.

Owns three things:
- the case ledger (:func:`build_case_ledger`): one row per case, from every week's RETAIN list so far;
- `weekly_cases`: one row per ISO week x case active during that week, its status as of the week's end;
- `weekly_followup`: one row per ISO week x dimension (overall, region, team) x value, the follow-up figures.

Definitions (times in UTC; days and weeks in the business time zone)
- A week's RETAIN list is issued when the week ends, so a case opens at ``opened_at`` = Monday 00:00 (business
  time zone) after its ``list_week``. Each customer on the list opens a case, unless that customer already has a
  case open at that moment: then the open case continues (``times_listed`` and ``last_listed_week`` move on) and
  keeps its opening week, reason and value. In `weekly_cases` both count only the listings up to that week. So
  a customer has at most one open case.
- A case closes at the first of: an outreach with outcome ``resolved`` at or after ``opened_at`` (status
  ``resolved``); a purchase (amount > 0) at or after ``opened_at`` (``came_back``; rows at the instant a list
  is issued come after it, as for a customer whose open case that list continues); ``expiry_weeks`` weeks
  later, when the list of ``list_week`` + ``expiry_weeks`` is issued (``expired``; local weeks, so across a clock
  change an hour more or less than 168 hours each). At one instant, expiry comes first, then a resolved
  outreach, then a purchase. Before it closes a case is ``contacted`` once an outreach attempt (any outcome) at or after
  ``opened_at`` was made, else ``open``. The status shown for a week is the status at that week's end: events
  after it are not seen, so a week's rows never depend on later data.
- Which week an instant belongs to. A purchase or an outreach attempt is a row: like every row it belongs to the
  week of its business day (the source contract), so one at exactly Monday 00:00 belongs to the week that
  starts then, and the week that ends then does not see it (its inputs stop at its Sunday). Expiry is computed,
  not read: a case that expires at a week's end has expired in that week. So a case closed by a row at instant t
  is closed as of any later instant, and an expired one as of t itself (:func:`_closed_as_of`); likewise a
  contact counts for a week when it came before the week's end. This is what makes a week's rows a function of
  the rows up to its Sunday (tests/tasks/test_week_is_a_function_of_its_inputs.py).
- Owner team: the team of the case's first outreach attempt; none ("unassigned") before it.
- SLA: a first contact before the end of the ``sla_business_days``-th business day (Monday to Friday, no holiday
  calendar) from the opening day counts as on time: a case opened on Monday 00:00 is on time if first contacted
  by Tuesday 23:59:59 with the default of 2. ``is_contacted_within_sla`` is empty while the deadline has not
  passed, for control cases (never to be contacted), and for a case that closed (came back) before its deadline
  without a contact.
- Control group: a new case is held out ("do not contact") when ``control_unit(customer_id, list_week)`` is below
  ``control_share``; the unit is the first 8 bytes of sha256("<customer_id>|<list_week>") over 2**64, so the same
  customer and week always land in the same arm, on any machine and in any process (Python's ``hash`` is
  salted per process). A continued case keeps its arm. Control cases stay in the ledger and in `weekly_cases`,
  marked ``is_control``; :func:`team_list` leaves them out.

Why a hand-written loop: whether a listing opens a new case depends on when the customer's previous case
closed, a sequential rule per customer that no pandas or library primitive expresses. The loop runs over list
rows (top N per week), not over transactions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analytics._frames import isin_text, purchases_only, require_columns
from analytics.weeks import parse_iso_week, shift_iso_week

__all__ = [
    "CASE_LEDGER_COLUMNS",
    "CASE_STATUSES",
    "FOLLOWUP_COLUMNS",
    "WEEKLY_CASE_COLUMNS",
    "assign_control",
    "build_case_ledger",
    "compute_weekly_cases",
    "compute_weekly_followup",
    "control_unit",
    "list_issued_at",
    "sla_deadline",
    "team_list",
]

CASE_STATUSES = ("open", "contacted", "resolved", "came_back", "expired")
UNASSIGNED = "unassigned"

CASE_LEDGER_COLUMNS = [
    "case_id",
    "customer_id",
    "list_week",
    "opened_at",
    "sla_due_at",
    "closed_at",
    "closed_by",
    "reason",
    "value_at_risk",
    "region",
    "email_masked",
    "is_detractor",
    "is_control",
    "times_listed",
    "last_listed_week",
    "listed_weeks",
    "team",
    "first_contact_at",
]

WEEKLY_CASE_COLUMNS = [
    "week",
    "case_id",
    "customer_id",
    "list_week",
    "opened_day",
    "status",
    "reason",
    "value_at_risk",
    "region",
    "team",
    "email_masked",
    "is_detractor",
    "is_control",
    "is_new",
    "is_from_earlier_week",
    "times_listed",
    "last_listed_week",
    "sla_due_day",
    "first_contact_day",
    "hours_to_first_contact",
    "is_contacted_within_sla",
    "contact_attempts",
    "closed_day",
    "age_days",
]

FOLLOWUP_COLUMNS = [
    "week",
    "dimension",
    "segment_value",
    "cases_opened",
    "control_cases_opened",
    "cases_open",
    "backlog_median_age_days",
    "backlog_oldest_age_days",
    "sla_cases",
    "contacted_within_sla",
    "contacted_within_sla_share",
    "first_contacts",
    "median_hours_to_first_contact",
    "cases_closed",
    "cases_resolved",
    "cases_came_back",
    "cases_expired",
    "resolved_share",
    "came_back_share",
]


# --- control assignment -------------------------------------------------------------------------------


def control_unit(customer_id: str, week: str) -> float:
    """A uniform number in [0, 1) fixed by the customer and the list week (sha256, stable everywhere)."""
    digest = hashlib.sha256(f"{customer_id}|{week}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_control(customer_ids: pd.Series, weeks: pd.Series, share: float) -> np.ndarray:
    """True where a new case of (customer, week) is held out as control, for the given share (0..1)."""
    if not 0 <= share < 1:
        raise ValueError("control share must be in [0, 1)")
    units = [control_unit(str(c), str(w)) for c, w in zip(customer_ids, weeks, strict=True)]
    return np.asarray(units, dtype="float64") < share


# --- time helpers ---------------------------------------------------------------------------------------


def list_issued_at(week: str, business_tz: str) -> pd.Timestamp:
    """When a week's list is issued: Monday 00:00 after the week, business time zone, as UTC."""
    sunday = parse_iso_week(week)[1]
    local = dt.datetime.combine(sunday + dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(business_tz))
    return pd.Timestamp(local).tz_convert("UTC")


def _week_start(week: str, business_tz: str) -> pd.Timestamp:
    monday = parse_iso_week(week)[0]
    return pd.Timestamp(dt.datetime.combine(monday, dt.time(), tzinfo=ZoneInfo(business_tz))).tz_convert("UTC")


def sla_deadline(opened_at: pd.Timestamp, business_days: int, business_tz: str) -> pd.Timestamp:
    """The instant a first contact stops being on time: the end of the ``business_days``-th business day
    counted from the opening day (the opening day counts when it is a business day)."""
    zone = ZoneInfo(business_tz)
    local_day = opened_at.tz_convert(zone).date()
    first = np.busday_offset(np.datetime64(local_day, "D"), 0, roll="forward")
    last = np.busday_offset(first, max(business_days, 1) - 1, roll="forward")
    end_day = (last + np.timedelta64(1, "D")).astype(dt.date)
    return pd.Timestamp(dt.datetime.combine(end_day, dt.time(), tzinfo=zone)).tz_convert("UTC")


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.as_unit("ns")


# --- the case ledger ------------------------------------------------------------------------------------


def build_case_ledger(
    listings: pd.DataFrame,
    outreach: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    business_tz: str,
    expiry_weeks: int = 8,
    sla_business_days: int = 2,
    control_share: float = 0.1,
) -> pd.DataFrame:
    """Return the case ledger: one row per case opened from ``listings`` (CASE_LEDGER_COLUMNS).

    ``listings`` holds every week's RETAIN list so far (week, customer_id, reason, value_at_risk, region,
    email_masked, is_detractor), ``outreach`` the contact attempts (customer_id, contacted_at, outcome, team,
    outreach_id), ``transactions`` purchases and refunds (customer_id, occurred_at, amount). ``closed_at`` and
    the first contact are the first such events at any time (callers showing a week cut them at its end).
    Sorted by list_week, then customer_id.
    """
    require_columns(listings, ["week", "customer_id", "reason", "value_at_risk", "region", "is_detractor"], "listings")
    require_columns(outreach, ["customer_id", "contacted_at", "outcome", "team"], "outreach")
    require_columns(transactions, ["customer_id", "occurred_at", "amount"], "transactions")
    if expiry_weeks < 1 or sla_business_days < 1:
        raise ValueError("expiry_weeks and sla_business_days must be at least 1")
    if listings.empty:
        return _empty(CASE_LEDGER_COLUMNS)

    rows = listings.assign(customer_id=listings["customer_id"].astype("str")).drop_duplicates(["week", "customer_id"])
    rows = rows.sort_values(["customer_id", "week"], kind="stable")
    attempts = _attempts(outreach, rows["customer_id"])
    purchases = _purchase_times(transactions, rows["customer_id"])
    issued = {w: list_issued_at(w, business_tz) for w in rows["week"].unique()}
    # A case expires when the list ``expiry_weeks`` weeks later is issued: Monday 00:00 local, so a clock change in
    # between does not move it an hour off the week's end (8 x 168 hours from a GMT opening was Monday 01:00 BST,
    # and such a case stayed on one more weekly list).
    expiries = {w: list_issued_at(shift_iso_week(w, expiry_weeks), business_tz) for w in issued}

    cases: list[dict] = []
    customer_id, current = None, None
    # One pass over the rows, sorted by customer then week (a groupby with itertuples per customer cost
    # about 0.25 ms per customer in making tuple classes: a second at a year and a half of lists).
    for row in rows.itertuples(index=False):
        if row.customer_id != customer_id:
            customer_id, current = row.customer_id, None
            contact_times, contact_outcomes, contact_teams = attempts.get(customer_id, (np.array([]), [], []))
            buy_times = purchases.get(customer_id, np.array([], dtype="datetime64[ns]"))
        opened_at = issued[row.week]
        if current is not None and not _closed_as_of(current["closed_at"], current["closed_by"], opened_at):
            current["times_listed"] += 1
            current["last_listed_week"] = row.week
            current["listed_weeks"] += (row.week,)
            continue
        current = _open_case(
            row, opened_at, expiries[row.week], contact_times, contact_outcomes, contact_teams, buy_times
        )
        cases.append(current)
    ledger = pd.DataFrame(cases)
    ledger["is_control"] = assign_control(ledger["customer_id"], ledger["list_week"], control_share)
    ledger["sla_due_at"] = [sla_deadline(t, sla_business_days, business_tz) for t in ledger["opened_at"]]
    for column in ("opened_at", "sla_due_at", "closed_at", "first_contact_at"):
        ledger[column] = _utc(ledger[column])
    ledger = ledger.sort_values(["list_week", "customer_id"], kind="stable").reset_index(drop=True)
    return ledger[CASE_LEDGER_COLUMNS]


def _open_case(
    row: Any,
    opened_at: pd.Timestamp,
    expires_at: pd.Timestamp,
    contact_times: np.ndarray,
    contact_outcomes: list,
    contact_teams: list,
    buy_times: np.ndarray,
) -> dict:
    opened = opened_at.to_datetime64()
    expires = expires_at.to_datetime64()
    after = np.flatnonzero(contact_times >= opened) if len(contact_times) else np.array([], dtype=int)
    resolved = [i for i in after if contact_outcomes[i] == "resolved"]
    resolved_at = contact_times[resolved[0]] if resolved else None
    bought = buy_times[buy_times >= opened]
    bought_at = bought[0] if len(bought) else None
    closings = [(expires, 0, "expired")]  # first at a tie: see "Which week an instant belongs to"
    if resolved_at is not None:
        closings.append((resolved_at, 1, "resolved"))
    if bought_at is not None:
        closings.append((bought_at, 2, "came_back"))
    closed_at, _, closed_by = min(closings)
    # A contact at the very instant a case expires comes after the expiry; one that resolves it is in it.
    in_case = [i for i in after if not _closed_as_of(closed_at, closed_by, contact_times[i])]
    return {
        "case_id": f"{row.customer_id}:{row.week}",
        "customer_id": row.customer_id,
        "list_week": row.week,
        "opened_at": opened_at,
        "closed_at": pd.Timestamp(closed_at, tz="UTC"),
        "closed_by": closed_by,
        "reason": row.reason,
        "value_at_risk": float(row.value_at_risk) if pd.notna(row.value_at_risk) else np.nan,
        "region": row.region if isinstance(row.region, str) else None,
        "email_masked": getattr(row, "email_masked", None),
        "is_detractor": bool(row.is_detractor),
        "times_listed": 1,
        "last_listed_week": row.week,
        "listed_weeks": (row.week,),
        "team": contact_teams[in_case[0]] if in_case else None,
        "first_contact_at": pd.Timestamp(contact_times[in_case[0]], tz="UTC") if in_case else pd.NaT,
    }


def _closed_as_of(closed_at: Any, closed_by: Any, instant: Any) -> Any:
    """Whether a case is closed as of ``instant`` (a scalar or Series each): a row (purchase, resolving
    contact) at exactly ``instant`` belongs to the week that starts then, an expiry to the one that ends then."""
    return (closed_at < instant) | ((closed_at == instant) & (closed_by == "expired"))


def _attempts(outreach: pd.DataFrame, customer_ids: pd.Series) -> dict[str, tuple[np.ndarray, list, list]]:
    frame = pd.DataFrame(
        {
            "customer_id": outreach["customer_id"].astype("str"),
            "at": _utc(outreach["contacted_at"]),
            "outcome": outreach["outcome"].astype("str"),
            "team": outreach["team"].astype("object").where(outreach["team"].notna(), None),
            "key": outreach["outreach_id"].astype("str") if "outreach_id" in outreach else "",
        }
    )
    frame = frame.loc[isin_text(frame["customer_id"], set(customer_ids))]
    frame = frame.sort_values(["customer_id", "at", "key"], kind="stable")
    out = {}
    for customer_id, part in frame.groupby("customer_id", sort=False):
        times = part["at"].dt.tz_localize(None).to_numpy("datetime64[ns]")
        out[customer_id] = (times, part["outcome"].tolist(), part["team"].tolist())
    return out


def _purchase_times(transactions: pd.DataFrame, customer_ids: pd.Series) -> dict[str, np.ndarray]:
    bought = purchases_only(transactions)
    frame = pd.DataFrame({"customer_id": bought["customer_id"].astype("str"), "at": _utc(bought["occurred_at"])})
    frame = frame.loc[isin_text(frame["customer_id"], set(customer_ids))].sort_values(["customer_id", "at"])
    # One array split by customer (a groupby with a datetime conversion per customer cost 0.3 s a week).
    times = frame["at"].dt.tz_localize(None).to_numpy("datetime64[ns]")
    ids = frame["customer_id"].to_numpy()
    if not len(ids):
        return {}
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return {ids[a]: times[a:b] for a, b in zip(starts, [*starts[1:], len(ids)], strict=True)}


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


# --- weekly rows ----------------------------------------------------------------------------------------


def compute_weekly_cases(
    ledger: pd.DataFrame, outreach: pd.DataFrame, *, weeks: list[str], business_tz: str
) -> pd.DataFrame:
    """Return weekly_cases: one row per requested ISO week x case active in it (WEEKLY_CASE_COLUMNS).

    A week runs from its Monday 00:00 to the next Monday 00:00 (its end, the moment its list is issued); a row
    at that instant belongs to the next week, an expiry to this one (module docstring). A case is active in
    week W when it opened by W's end (its list week is W or earlier) and was not closed as of W's start. Its
    status, contacts and age are as of W's end; a case closed later shows as open or contacted. ``is_new``:
    opened from W's own list; ``is_from_earlier_week``: opened from an earlier list and still open at W's end.
    Sorted by week, then list_week, then customer_id.
    """
    if ledger.empty or not weeks:
        return _empty(WEEKLY_CASE_COLUMNS)
    attempts = pd.DataFrame(
        {"customer_id": outreach["customer_id"].astype("str"), "at": _utc(outreach["contacted_at"])}
    ).merge(ledger[["case_id", "customer_id", "opened_at", "closed_at", "closed_by"]], on="customer_id")
    in_case = (attempts["at"] >= attempts["opened_at"]) & ~_closed_as_of(
        attempts["closed_at"], attempts["closed_by"], attempts["at"]
    )
    attempts = attempts.loc[in_case]
    zone = ZoneInfo(business_tz)
    parts = []
    for week in sorted(set(weeks)):
        start, end = _week_start(week, business_tz), list_issued_at(week, business_tz)
        still_open = ~_closed_as_of(ledger["closed_at"], ledger["closed_by"], start)
        active = ledger.loc[(ledger["list_week"] <= week) & still_open].copy()
        if active.empty:
            continue
        seen = attempts.loc[attempts["at"] < end].groupby("case_id").size()
        active["contact_attempts"] = active["case_id"].map(seen).fillna(0).astype(int)
        closed = _closed_as_of(active["closed_at"], active["closed_by"], end)
        contacted = active["first_contact_at"].notna() & (active["first_contact_at"] < end)
        active["status"] = np.where(closed, active["closed_by"], np.where(contacted, "contacted", "open"))
        first = active["first_contact_at"].where(contacted)
        active["hours_to_first_contact"] = (first - active["opened_at"]).dt.total_seconds() / 3600
        due_passed = active["sla_due_at"] <= end
        on_time = contacted & (first < active["sla_due_at"])
        late = (contacted & ~on_time) | (~contacted & due_passed & (active["closed_at"] >= active["sla_due_at"]))
        within = pd.Series(pd.NA, index=active.index, dtype="boolean")
        within[on_time] = True
        within[late & ~on_time] = False
        within[active["is_control"].astype(bool)] = pd.NA
        active["is_contacted_within_sla"] = within
        stop = active["closed_at"].where(closed, end)
        active["age_days"] = ((stop - active["opened_at"]).dt.total_seconds() // 86400).astype(int)
        # As of W: a later listing that continued the case is not known yet at W's end.
        seen_listings = [tuple(w for w in weeks_listed if w <= week) for weeks_listed in active["listed_weeks"]]
        active["times_listed"] = [len(listed) for listed in seen_listings]
        active["last_listed_week"] = [listed[-1] for listed in seen_listings]
        active["is_new"] = active["list_week"] == week
        active["is_from_earlier_week"] = (active["list_week"] < week) & ~closed
        teams = zip(active["team"], contacted, strict=True)
        active["team"] = pd.Series(
            [t if c and isinstance(t, str) else None for t, c in teams], index=active.index, dtype="object"
        )
        active["week"] = week
        active["opened_day"] = _local_day(active["opened_at"], zone)
        active["sla_due_day"] = _local_day(active["sla_due_at"] - pd.Timedelta(seconds=1), zone)
        active["first_contact_day"] = _local_day(first, zone)
        active["closed_day"] = _local_day(active["closed_at"].where(closed), zone)
        parts.append(active)
    if not parts:
        return _empty(WEEKLY_CASE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["week", "list_week", "customer_id"], kind="stable")[WEEKLY_CASE_COLUMNS].reset_index(
        drop=True
    )


def _local_day(times: pd.Series, zone: ZoneInfo) -> pd.Series:
    local = times.dt.tz_convert(zone)
    return pd.Series([t.date() if pd.notna(t) else None for t in local], index=times.index, dtype="object")


# --- follow-up figures ----------------------------------------------------------------------------------


def compute_weekly_followup(weekly_cases: pd.DataFrame, ledger: pd.DataFrame, *, business_tz: str) -> pd.DataFrame:
    """Return weekly_followup: per week x dimension (overall, region, team) x value (FOLLOWUP_COLUMNS).

    Every figure counts the cases teams work (control cases apart: ``control_cases_opened``):
    - cases_opened: new cases from the week's list; cases_open: the backlog (open or contacted) at the week's end,
      with its median and oldest age in days;
    - sla_cases: cases whose SLA deadline fell in the week and that needed a contact; contacted_within_sla: those
      first contacted in time; contacted_within_sla_share = contacted_within_sla / sla_cases;
    - first_contacts: cases first contacted during the week; median_hours_to_first_contact over them;
    - cases_closed during the week, split into resolved, came_back and expired; resolved_share and came_back_share
      are over cases_closed.
    A team is the owner team of a contacted case; uncontacted cases count under "unassigned". Region "unknown"
    holds customers without one. Shares and medians are empty where their denominator is 0.
    """
    if weekly_cases.empty:
        return _empty(FOLLOWUP_COLUMNS)
    frame = weekly_cases.copy()
    frame["region"] = frame["region"].where(frame["region"].notna(), "unknown")
    frame["team"] = frame["team"].where(frame["team"].notna(), UNASSIGNED)
    starts = {w: _week_start(w, business_tz) for w in frame["week"].unique()}
    ends = {w: list_issued_at(w, business_tz) for w in frame["week"].unique()}
    due = frame["case_id"].map(ledger.set_index("case_id")["sla_due_at"])
    first_at = frame["case_id"].map(ledger.set_index("case_id")["first_contact_at"])
    week_start = frame["week"].map(starts)
    week_end = frame["week"].map(ends)
    worked = ~frame["is_control"].astype(bool)
    frame["_opened"] = frame["is_new"].astype(bool) & worked
    frame["_control_opened"] = frame["is_new"].astype(bool) & ~worked
    frame["_open"] = frame["status"].isin(["open", "contacted"]) & worked
    frame["_sla"] = worked & (due > week_start) & (due <= week_end) & frame["is_contacted_within_sla"].notna()
    frame["_on_time"] = frame["_sla"] & frame["is_contacted_within_sla"].fillna(False).astype(bool)
    frame["_first"] = worked & first_at.notna() & (first_at >= week_start) & (first_at < week_end)
    closed = frame["status"].isin(["resolved", "came_back", "expired"]) & worked
    frame["_closed"] = closed
    for status in ("resolved", "came_back", "expired"):
        frame[f"_{status}"] = closed & (frame["status"] == status)

    rows = []
    for dimension in ("overall", "region", "team"):
        keys = pd.Series("all", index=frame.index) if dimension == "overall" else frame[dimension]
        for (week, value), part in frame.groupby([frame["week"], keys], sort=True):
            backlog_age = part.loc[part["_open"], "age_days"]
            hours = part.loc[part["_first"], "hours_to_first_contact"]
            sla, on_time = int(part["_sla"].sum()), int(part["_on_time"].sum())
            n_closed = int(part["_closed"].sum())
            rows.append(
                {
                    "week": week,
                    "dimension": dimension,
                    "segment_value": value,
                    "cases_opened": int(part["_opened"].sum()),
                    "control_cases_opened": int(part["_control_opened"].sum()),
                    "cases_open": int(part["_open"].sum()),
                    "backlog_median_age_days": float(backlog_age.median()) if len(backlog_age) else np.nan,
                    "backlog_oldest_age_days": float(backlog_age.max()) if len(backlog_age) else np.nan,
                    "sla_cases": sla,
                    "contacted_within_sla": on_time,
                    "contacted_within_sla_share": on_time / sla if sla else np.nan,
                    "first_contacts": len(hours),
                    "median_hours_to_first_contact": float(hours.median()) if len(hours) else np.nan,
                    "cases_closed": n_closed,
                    "cases_resolved": int(part["_resolved"].sum()),
                    "cases_came_back": int(part["_came_back"].sum()),
                    "cases_expired": int(part["_expired"].sum()),
                    "resolved_share": part["_resolved"].sum() / n_closed if n_closed else np.nan,
                    "came_back_share": part["_came_back"].sum() / n_closed if n_closed else np.nan,
                }
            )
    out = pd.DataFrame(rows, columns=FOLLOWUP_COLUMNS)
    order = {"overall": 0, "region": 1, "team": 2}
    out = out.sort_values(
        ["week", "dimension", "segment_value"], key=lambda s: s.map(order) if s.name == "dimension" else s
    )
    return out.reset_index(drop=True)


def team_list(weekly_cases: pd.DataFrame) -> pd.DataFrame:
    """The cases a team may contact: control cases are never on it, whatever else the caller filters."""
    return weekly_cases.loc[~weekly_cases["is_control"].astype(bool)].reset_index(drop=True)
