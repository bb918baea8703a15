"""Demo outreach: the care teams working each week's RETAIN list, and a planted effect of reaching out.

Takes the demo's simulated frames (customers, transactions, survey_responses as the sources deliver them) and
adds ``outreach``: the contact log a CRM ("Relay", vendor headers in ``config/column_mapping.yaml``) exports
every night, plus the purchases that contacts bring back. It follows the pipeline's own rules, week by week:

1. the week's RETAIN list is built from the valid rows with the pipeline's functions (``build_retain_list`` on
   the coerced frames, amounts in GBP) and cases are opened with ``build_case_ledger`` from every list so far
   and every contact made so far, so the demo's cases are the pipeline's cases;
2. control cases (the same sha256 assignment) are never contacted; ``CONTACTED_SHARE`` of the others are;
3. a first attempt lands on the opening Monday (45%), Tuesday (30%) or later (25%: missed SLAs), in office
   hours; ``no_answer`` is retried up to twice a business day or two later; ``escalated`` gets a follow-up;
4. planted effect: a detractor who was reached (reached, resolved or escalated) buys again ``COMEBACK_DAYS``
   (14-42) days later with probability ``DETRACTOR_COMEBACK_P``, an overdue customer with
   ``OVERDUE_COMEBACK_P``. Control customers only have their simulated purchases, so the difference is the
   effect of the contact;
5. about 1% invalid extra rows (unknown channel, unknown outcome, missing customer, unparseable timestamp, a
   conflicting duplicate id a day later).

Notes are free text typed by agents; some hold an email address or HTML, as real notes do, so the tests can
show that a note never leaves the warehouse.

Everything is drawn from one numpy Generator seeded from ``seed``; the same frames give the same rows.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analytics.bundle import convert_currency
from analytics.cases import build_case_ledger
from analytics.retain_list import build_retain_list
from analytics.weeks import iso_week_label, iso_week_range, parse_iso_week
from demo.files import KIND_ORDER, OUTREACH_COLUMNS, RELAY_HEADERS
from loyalty.coerce import coerce_frame
from loyalty.contract import ENTITIES, OUTREACH_CHANNELS

__all__ = [
    "CONTACTED_SHARE",
    "DETRACTOR_COMEBACK_P",
    "OVERDUE_COMEBACK_P",
    "RELAY_HEADERS",
    "add_outreach",
    "simulate_outreach",
]

CONTACTED_SHARE = 0.88
DETRACTOR_COMEBACK_P = 0.75
OVERDUE_COMEBACK_P = 0.25
# A reached customer who comes back buys 2 to 6 weeks after the contact. Sooner (1-14 days, as first planted)
# made reached detractors buy again faster than promoters, which hid the demo's other planted pattern
# (detractors buy less afterwards) from the Kaplan-Meier curves: log-rank p 0.38 instead of < 0.001.
COMEBACK_DAYS = (14, 42)
INVALID_SHARE = 0.01
_FIRST_DAY_P = np.array([0.45, 0.30, 0.12, 0.08, 0.05])  # business days 0..3 after opening, then 5-8
_OUTCOMES = ("no_answer", "reached", "resolved", "declined", "escalated")
_OUTCOME_P = np.array([0.35, 0.33, 0.2, 0.06, 0.06])
_CHANNEL_P = np.array([0.6, 0.2, 0.05, 0.05, 0.1])  # phone, email, in_store, letter, sms
_NOTES = (
    "",
    "",
    "Left a voicemail",
    "Apologised for the late delivery, offered a voucher",
    "Customer asked us to write to j.smith@example.com instead",
    "Refund processed <b>today</b>, customer happy",
    "Wants a call back from the store manager",
    "Said <script>alert('hi')</script> was shown at checkout",
    "No longer interested",
)


def _typed(frames: dict[str, pd.DataFrame], source_tz: str, business_tz: str) -> dict[str, pd.DataFrame]:
    """The valid rows as the warehouse would hold them (contract types, business_day, GBP amounts)."""
    zone, business = ZoneInfo(source_tz), ZoneInfo(business_tz)
    out = {}
    for name in ("customers", "transactions", "survey_responses"):
        raw = frames[name].loc[frames[name]["invalid_kind"] == ""]
        typed = coerce_frame(raw, ENTITIES[name], zone).frame
        stamp = typed[ENTITIES[name].timestamp]
        typed["business_day"] = stamp.dt.tz_convert(business).dt.date
        out[name] = typed.reset_index(drop=True)
    out["transactions"] = convert_currency(out["transactions"], {"EUR": 0.86, "USD": 0.79}, "GBP")
    return out


def simulate_outreach(
    frames: dict[str, pd.DataFrame],
    start: dt.date,
    end: dt.date,
    *,
    seed: int = 7,
    source_tz: str = "Europe/London",
    business_tz: str = "Europe/London",
    top_n: int = 50,
    control_share: float = 0.1,
    expiry_weeks: int = 8,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (outreach raw rows, extra transaction raw rows), both with delivery_day, file_kind, invalid_kind.

    Outreach rows are delivered the day after the contact (``relay`` files); the purchases that contacts
    bring back are point-of-sale rows delivered on their own day (``pos`` files). Only days in [start, end].
    """
    rng = np.random.default_rng([seed, 16])
    typed = _typed(frames, source_tz, business_tz)
    customers = typed["customers"].drop_duplicates("customer_id").set_index("customer_id")
    spend = typed["transactions"].loc[typed["transactions"]["amount"] > 0].groupby("customer_id")["amount"].median()
    local = ZoneInfo(business_tz)
    weeks = [w for w in iso_week_range(iso_week_label(start), iso_week_label(end)) if parse_iso_week(w)[1] <= end]

    listings: list[pd.DataFrame] = []
    attempts: list[dict] = []
    comebacks: list[dict] = []
    handled: set[str] = set()
    for week in weeks:
        transactions = _with_comebacks(typed["transactions"], comebacks, local)
        retain = build_retain_list(
            typed["survey_responses"].assign(segment=None), transactions, typed["customers"], week=week
        )
        listings.append(retain.loc[retain["rank"] <= top_n])
        ledger = build_case_ledger(
            pd.concat(listings, ignore_index=True),
            _outreach_frame(attempts),
            transactions,
            business_tz=business_tz,
            expiry_weeks=expiry_weeks,
            control_share=control_share,
        )
        for case in ledger.loc[ledger["list_week"] == week].itertuples(index=False):
            if case.case_id in handled or case.is_control or rng.random() >= CONTACTED_SHARE:
                continue
            handled.add(case.case_id)
            region = customers["region"].get(case.customer_id)
            made = _work_case(rng, case.customer_id, case.opened_at, region, local)
            attempts.extend(made)
            reached = [a for a in made if a["outcome"] in ("reached", "resolved", "escalated")]
            chance = DETRACTOR_COMEBACK_P if case.is_detractor else OVERDUE_COMEBACK_P
            if reached and rng.random() < chance:
                # In a shop's opening hours, never near a daylight-saving change (naive times stay exact).
                day = reached[0]["contacted_at"].tz_convert(local).date() + dt.timedelta(
                    days=int(rng.integers(COMEBACK_DAYS[0], COMEBACK_DAYS[1] + 1))
                )
                seconds = int(rng.integers(10 * 3600, 18 * 3600))
                when = pd.Timestamp(dt.datetime.combine(day, dt.time(), tzinfo=local) + dt.timedelta(seconds=seconds))
                amount = float(spend.get(case.customer_id, 40.0)) * float(rng.uniform(0.7, 1.3))
                comebacks.append({"customer_id": case.customer_id, "occurred_at": when, "amount": round(amount, 2)})
    source = ZoneInfo(source_tz)
    return (
        _outreach_rows(rng, attempts, start, end, local, source),
        _comeback_rows(comebacks, customers, start, end, local, source),
    )


def _work_case(rng, customer_id: str, opened_at: pd.Timestamp, region, local: ZoneInfo) -> list[dict]:
    """A team's attempts on one case: first contact, retries after no answer, a follow-up after escalation."""
    opened_day = opened_at.tz_convert(local).date()
    choice = int(rng.choice(len(_FIRST_DAY_P), p=_FIRST_DAY_P))
    offset = choice if choice < 4 else int(rng.integers(5, 9))
    day = np.busday_offset(np.datetime64(opened_day, "D"), offset, roll="forward").astype(dt.date)
    team = f"{region} care team" if isinstance(region, str) else "Central care team"
    made: list[dict] = []
    for attempt in range(3):
        at = dt.datetime.combine(day, dt.time(9), tzinfo=local) + dt.timedelta(seconds=int(rng.integers(0, 8 * 3600)))
        channel = OUTREACH_CHANNELS[int(rng.choice(len(OUTREACH_CHANNELS), p=_CHANNEL_P))]
        outcome = _OUTCOMES[int(rng.choice(len(_OUTCOMES), p=_OUTCOME_P))] if attempt < 2 else "reached"
        owner = f"Store {int(rng.integers(1, 30))} {region}" if channel == "in_store" and region else team
        note = _NOTES[int(rng.integers(0, len(_NOTES)))] if outcome != "no_answer" else _NOTES[int(rng.integers(0, 3))]
        made.append({"customer_id": customer_id, "contacted_at": pd.Timestamp(at), "channel": channel,
                     "team": owner, "outcome": outcome, "note": note})  # fmt: skip
        if outcome not in ("no_answer", "escalated"):
            break
        day = np.busday_offset(np.datetime64(day, "D"), int(rng.integers(1, 3)), roll="forward").astype(dt.date)
    return made


def _outreach_frame(attempts: list[dict]) -> pd.DataFrame:
    if not attempts:
        return pd.DataFrame({"customer_id": [], "contacted_at": [], "outcome": [], "team": []})
    frame = pd.DataFrame(attempts)
    frame["contacted_at"] = pd.to_datetime(frame["contacted_at"], utc=True)
    return frame


def _with_comebacks(transactions: pd.DataFrame, comebacks: list[dict], local: ZoneInfo) -> pd.DataFrame:
    if not comebacks:
        return transactions
    extra = pd.DataFrame(comebacks).assign(currency="GBP")
    extra["occurred_at"] = pd.to_datetime(extra["occurred_at"], utc=True)
    extra["business_day"] = extra["occurred_at"].dt.tz_convert(local).dt.date
    return pd.concat([transactions, extra], ignore_index=True)


def _naive_local(at: pd.Timestamp, source: ZoneInfo) -> str:
    """Wall-clock time in the source's zone, as the CRM and the tills export it (read back in LOYALTY_SOURCE_TZ).
    Every demo contact and comeback falls in office or opening hours, so it is never in a fold or a gap."""
    return at.tz_convert(source).strftime("%Y-%m-%dT%H:%M:%S")


def _outreach_rows(
    rng, attempts: list[dict], start: dt.date, end: dt.date, local: ZoneInfo, source: ZoneInfo
) -> pd.DataFrame:
    rows = []
    for number, attempt in enumerate(sorted(attempts, key=lambda a: (a["contacted_at"], a["customer_id"])), 1):
        delivered = attempt["contacted_at"].tz_convert(local).date() + dt.timedelta(days=1)
        if not start <= delivered <= end:
            continue
        rows.append(
            {
                "outreach_id": f"RLY-{number:07d}",
                "customer_id": attempt["customer_id"],
                "contacted_at": _naive_local(attempt["contacted_at"], source),
                "channel": attempt["channel"],
                "team": attempt["team"],
                "outcome": attempt["outcome"],
                "note": attempt["note"] or None,
                "delivery_day": delivered,
                "file_kind": "relay",
                "invalid_kind": "",
            }
        )
    valid = pd.DataFrame(rows, columns=[*OUTREACH_COLUMNS, "delivery_day", "file_kind", "invalid_kind"])
    return (
        pd.concat([valid, _invalid_rows(rng, valid, end)], ignore_index=True)
        .sort_values(["delivery_day", "outreach_id"], kind="stable")
        .reset_index(drop=True)
    )


def _invalid_rows(rng, valid: pd.DataFrame, end: dt.date) -> pd.DataFrame:
    """Extra broken copies of valid rows (a new id each, except the conflicting duplicate)."""
    if valid.empty:
        return valid.iloc[0:0]
    size = min(len(valid), max(5, int(len(valid) * INVALID_SHARE)))
    picked = valid.iloc[np.sort(rng.choice(len(valid), size=size, replace=False))]
    kinds = (
        "unknown_channel",
        "unknown_outcome",
        "missing_customer_id",
        "unparseable_timestamp",
        "duplicate_id_conflict",
    )
    out = []
    for i, row in enumerate(picked.to_dict("records")):
        kind = kinds[i % len(kinds)]
        bad = {**row, "outreach_id": f"RLY-9{i:06d}", "invalid_kind": kind}
        if kind == "unknown_channel":
            bad["channel"] = "fax"
        elif kind == "unknown_outcome":
            bad["outcome"] = "call back later"
        elif kind == "missing_customer_id":
            bad["customer_id"] = None
        elif kind == "unparseable_timestamp":
            bad["contacted_at"] = "tomorrow 10am"
        else:  # the CRM re-exports a row with another outcome a day later
            if row["delivery_day"] >= end:
                continue
            bad.update(
                outreach_id=row["outreach_id"], outcome="declined" if row["outcome"] != "declined" else "reached"
            )
            bad["delivery_day"] = row["delivery_day"] + dt.timedelta(days=1)
        out.append(bad)
    return pd.DataFrame(out, columns=valid.columns)


def _comeback_rows(
    comebacks: list[dict], customers: pd.DataFrame, start: dt.date, end: dt.date, local: ZoneInfo, source: ZoneInfo
) -> pd.DataFrame:
    rows = []
    for number, buy in enumerate(sorted(comebacks, key=lambda b: (b["occurred_at"], b["customer_id"])), 1):
        day = buy["occurred_at"].tz_convert(local).date()
        if not start <= day <= end:
            continue
        region = customers["region"].get(buy["customer_id"])
        rows.append(
            {
                "transaction_id": f"POS-7{number:07d}",
                "customer_id": buy["customer_id"],
                "occurred_at": _naive_local(buy["occurred_at"], source),
                "amount": f"{buy['amount']:.2f}",
                "currency": "GBP",
                "channel": "in_store",
                "region": region if isinstance(region, str) else None,
                "delivery_day": day,
                "file_kind": "pos",
                "invalid_kind": "",
            }
        )
    columns = [*ENTITIES["transactions"].column_names, "delivery_day", "file_kind", "invalid_kind"]
    return pd.DataFrame(rows, columns=columns)


def add_outreach(frames: dict[str, pd.DataFrame], start: dt.date, end: dt.date, **options) -> dict[str, pd.DataFrame]:
    """The frames with ``outreach`` (the CRM's contact log) and the purchases contacts bring back added."""
    outreach, comebacks = simulate_outreach(frames, start, end, **options)
    transactions = pd.concat([frames["transactions"], comebacks.astype(frames["transactions"].dtypes.to_dict())])
    order = transactions["file_kind"].map(KIND_ORDER)
    transactions = transactions.assign(_order=order).sort_values(["delivery_day", "_order"], kind="stable")
    return {**frames, "transactions": transactions.drop(columns="_order").reset_index(drop=True), "outreach": outreach}
