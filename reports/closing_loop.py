"""The report's "Closing the loop" part of "Act on it": follow-up figures, the backlog by region, the outreach
effect with its CI and chart, and the RETAIN table's marks (pure, like reports/context.py).

Every number is formatted here. A regional edition passes only its region's cases and follow-up rows (its
effect is the company-wide estimate, labelled so: one region's cases are too few to measure it alone).
Control customers are never listed: the RETAIN table a team reads leaves them out and says how many.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports import charts

MIN_CASES_PER_ARM = 20  # analytics.bundle.MetricParameters.min_cases_per_arm: the "cannot answer yet" bar
_SUBSET_LABELS = {"all": "All cases", "detractor": "Detractor cases"}


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _pct(value: Any, digits: int = 0) -> str:
    return "n/a" if _missing(value) else f"{float(value):.{digits}%}"


def _points(value: Any) -> str:
    return "n/a" if _missing(value) else f"{float(value) * 100:+.1f}".replace("-", "\u2212")


def _hours(value: Any) -> str:
    return "n/a" if _missing(value) else f"{float(value):.0f} h"


def _days(value: Any) -> str:
    return "n/a" if _missing(value) else f"{float(value):.0f} d"


def _int(value: Any) -> str:
    return "0" if _missing(value) else f"{int(value):,}"


def _p(value: Any) -> str:
    if _missing(value):
        return "n/a"
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def _clip(text: Any, limit: int = 40) -> str:
    if _missing(text):
        return ""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _followup_row(row: dict, label: str) -> dict:
    return {
        "label": _clip(label, 24),
        "cases_opened": _int(row.get("cases_opened")),
        "control_cases_opened": _int(row.get("control_cases_opened")),
        "cases_open": _int(row.get("cases_open")),
        "backlog_age": _days(row.get("backlog_median_age_days")),
        "backlog_oldest": _days(row.get("backlog_oldest_age_days")),
        "sla": _pct(row.get("contacted_within_sla_share")),
        "sla_n": _int(row.get("sla_cases")),
        "hours": _hours(row.get("median_hours_to_first_contact")),
        "first_contacts": _int(row.get("first_contacts")),
        "closed": _int(row.get("cases_closed")),
        "resolved": _pct(row.get("resolved_share")),
        "came_back": _pct(row.get("came_back_share")),
    }


def _verdict(row: dict) -> str:
    window = int(row["window_days"])
    treated, control = _int(row["treatment_n"]), _int(row["control_n"])
    arms = "contacted" if not row["is_randomised"] else "outreach"
    if row["verdict"] == "cannot_answer_yet":
        text = (
            f"Cannot answer yet: {control} control and {treated} {arms} cases have had {window} days to buy again; "
            f"at least {MIN_CASES_PER_ARM} of each are needed."
        )
        if not _missing(row.get("mde")):
            text += f" At these numbers only a difference of {_points(row['mde'])} points or more would show."
        return text
    rates = (
        f"{_pct(row['treatment_rate'])} of {arms} customers bought again within {window} days against "
        f"{_pct(row['control_rate'])} of the {'control group' if row['is_randomised'] else 'customers not contacted'}"
    )
    ci = f"difference {_points(row['difference'])} points, 95% CI {_points(row['ci_low'])} to {_points(row['ci_high'])}"
    if row["verdict"] == "effect":
        return f"Yes: {rates} ({ci})."
    if row["verdict"] == "harm":
        return f"No, the reverse: {rates} ({ci})."
    return (
        f"No difference detected: {rates} ({ci}). A true difference under {_points(row['mde'])} points would "
        "usually go unseen at this sample size."
    )


def closing_loop_context(
    weekly_cases: pd.DataFrame,
    weekly_followup: pd.DataFrame,
    outreach_effect: pd.DataFrame,
    outreach_survival: pd.DataFrame,
    *,
    week: str,
    region: str | None,
) -> dict[str, Any]:
    """What the "Closing the loop" part shows for one edition (``region`` None: company-wide)."""
    followup = weekly_followup.loc[weekly_followup["week"] == week] if len(weekly_followup) else weekly_followup
    if len(followup):
        if region is None:
            headline = followup.loc[followup["dimension"] == "overall"]
            label = "All"
        else:
            headline = followup.loc[(followup["dimension"] == "region") & (followup["segment_value"] == region)]
            label = region
        by_region = followup.loc[followup["dimension"] == "region"].sort_values("segment_value")
        if region is not None:
            by_region = by_region.loc[by_region["segment_value"] == region]
        by_team = followup.loc[(followup["dimension"] == "team") & (followup["segment_value"] != "unassigned")]
        if region is not None:  # teams of this region's cases only
            region_teams = set(weekly_cases["team"].dropna()) if len(weekly_cases) else set()
            by_team = by_team.loc[by_team["segment_value"].isin(region_teams)]
    else:
        headline = by_region = by_team = followup
        label = region or "All"
    headline_rows = [_followup_row(r, label) for r in headline.to_dict("records")]

    effect = outreach_effect.loc[outreach_effect["week"] == week] if len(outreach_effect) else outreach_effect
    effects = []
    for row in effect.to_dict("records"):
        effects.append(
            {
                "subset": _SUBSET_LABELS.get(row["subset"], row["subset"]),
                "n_outreach": _int(row["treatment_n"]),
                "n_control": _int(row["control_n"]),
                "rate_outreach": _pct(row["treatment_rate"], 1),
                "rate_control": _pct(row["control_rate"], 1),
                "difference": _points(row["difference"]),
                "ci": f"{_points(row['ci_low'])} to {_points(row['ci_high'])}",
                "p": _p(row["p_value"]),
                "logrank_p": _p(row["logrank_p_value"]),
                "mde": _points(row["mde"]),
                "verdict": _verdict(row),
            }
        )
    is_randomised = bool(effect["is_randomised"].iloc[0]) if len(effect) else True
    survival = outreach_survival.loc[outreach_survival["week"] == week] if len(outreach_survival) else outreach_survival
    return {
        "headline": headline_rows[0] if headline_rows else None,
        "by_region": [_followup_row(r, r["segment_value"]) for r in by_region.to_dict("records")],
        "by_team": [_followup_row(r, r["segment_value"]) for r in _busiest(by_team).to_dict("records")],
        "effects": effects,
        "is_randomised": is_randomised,
        "window_days": int(effect["window_days"].iloc[0]) if len(effect) else 90,
        "effect_scope": "company-wide" if region is not None else None,
        "effect_svg": charts.outreach_effect_chart(survival, effect),
    }


def _busiest(teams: pd.DataFrame, limit: int = 12) -> pd.DataFrame:
    if teams.empty:
        return teams
    return teams.sort_values(["first_contacts", "segment_value"], ascending=[False, True]).head(limit)


def mark_retain_rows(
    retain_rows: list[dict], retain: pd.DataFrame, weekly_cases: pd.DataFrame, week: str
) -> tuple[list[dict], int]:
    """The RETAIN table's rows without control customers, each marked with ``open_since`` (the list week of a
    case still open from an earlier week, else ""); and how many control customers were left out.

    ``retain_rows`` are the formatted rows of ``retain`` (same order: by rank).
    """
    if weekly_cases.empty or retain.empty:
        return [dict(r, open_since="") for r in retain_rows], 0
    cases = weekly_cases.loc[weekly_cases["week"] == week]
    control = set(cases.loc[cases["is_control"].astype(bool), "customer_id"])
    earlier = cases.loc[cases["is_from_earlier_week"].astype(bool)].set_index("customer_id")["list_week"]
    ids = retain.sort_values("rank")["customer_id"].astype(str).tolist()
    kept = []
    for customer_id, row in zip(ids, retain_rows, strict=True):
        if customer_id in control:
            continue
        kept.append(dict(row, open_since=str(earlier.get(customer_id, ""))))
    return kept, sum(1 for c in ids if c in control)
