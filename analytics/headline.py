"""Headline figures of one week as a plain, JSON-ready dict (for `loyalty metrics --week ... --json`).

Owns no frame: it reads the frames produced by the other modules and converts every value to plain
Python (numpy scalars to int/float/bool, NaN and NA to None, dates to ISO strings).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from analytics.kpis import KPI_COLUMNS, KPI_ORDER
from analytics.weeks import parse_iso_week

__all__ = ["summarise_cases", "summarise_week", "to_plain"]

_SATISFACTION_FIELDS = [
    "responses",
    "comment_rate",
    "nps",
    "nps_ci_low",
    "nps_ci_high",
    "promoters",
    "passives",
    "detractors",
    "csat",
    "csat_ci_low",
    "csat_ci_high",
    "ces",
    "ces_ci_low",
    "ces_ci_high",
    "nps_change",
    "nps_change_q",
    "is_nps_change_significant",
    "csat_change",
    "csat_change_q",
    "is_csat_change_significant",
    "is_small_sample",
    "is_suppressed",
]
_RETENTION_FIELDS = [
    "active_customers",
    "new_customers",
    "repeat_rate",
    "churned_customers",
    "churn_rate",
    "revenue",
    "net_revenue_retention",
    "period_revenue",
    "prior_period_revenue",
    "period_revenue_returning",
    "period_revenue_new",
    "is_partial_week",
]
_METRIC_N = (("nps", "nps_n"), ("csat", "csat_n"), ("ces", "ces_n"))
# Per NPS group: the stored repurchase row without the fields shared by every group (given once, above it).
_SURVIVAL_SHARED = ("week", "first_response_week", "last_response_week", "window_days", "as_of")
_PERSISTING_FIELDS = [
    "term",
    "onset_week",
    "weeks_flagged",
    "count",
    "comments",
    "share",
    "reference_share",
    "ratio",
    "p_value",
    "q_value",
]
_COHORT_FIELDS = [
    "cohort_month",
    "months_since",
    "cohort_size",
    "active_customers",
    "customer_share",
    "is_existing_customers",
    "is_partial_month",
]
_KPI_FIELDS = [c for c in KPI_COLUMNS if c != "label"]  # the tile's label is the report's wording
_TERM_FIELDS = ["term", "count", "share", "baseline_share", "ratio", "p_value", "q_value"]


def summarise_week(
    week: str,
    weekly_satisfaction: pd.DataFrame,
    *,
    weekly_retention: pd.DataFrame | None = None,
    trending_terms: pd.DataFrame | None = None,
    alerts: pd.DataFrame | None = None,
    kpi_tiles: pd.DataFrame | None = None,
    max_terms: int = 10,
    response_completeness: pd.DataFrame | None = None,
    restatements: pd.DataFrame | None = None,
    published_previous: pd.DataFrame | None = None,
    repurchase_by_nps_group: pd.DataFrame | None = None,
    repurchase_tests: pd.DataFrame | None = None,
    persisting_terms: pd.DataFrame | None = None,
    cohort_retention: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Return the headline figures of `week` (one ISO week, overall cell) as a JSON-serialisable dict.

    Keys: week, the overall satisfaction figures (responses, nps, nps_ci_low, nps_ci_high, promoters,
    passives, detractors, csat, ces, ... see _SATISFACTION_FIELDS), the retention figures
    (active_customers, repeat_rate, churn_rate, net_revenue_retention, ...), rising_terms (significant
    rising terms of the week, strongest first, at most max_terms, each {term, count, share,
    baseline_share, ratio, p_value, q_value}), alerts (the week's alert rows as dicts) and kpis (the stored
    KPI tiles the report shows, in its order: each {kpi, value, previous, change, p_value, q_value,
    is_significant, test, n, direction, unit}).
    With the optional frames it also carries (each None or empty when its frame is not given):
    metric_n ({nps|csat|ces: {n, is_small_sample, is_suppressed}}), minimum_detectable_change ({kpi: mde},
    from the stored tiles), completeness (the "all" row plus per-channel rows), restatement (the previous
    week's figures as reported / published and as restated), survival (Kaplan-Meier summary per NPS group and
    the log-rank tests, with the response weeks covered), persisting_terms and cohorts (cohort rows with
    is_existing_customers and is_partial_month). A figure that is missing for the week is None; responses is
    0 when the week had none.
    """
    parse_iso_week(week)
    headline: dict[str, Any] = {"week": week}

    overall = weekly_satisfaction.loc[
        (weekly_satisfaction["week"] == week) & (weekly_satisfaction["dimension"] == "overall")
    ]
    for field in _SATISFACTION_FIELDS:
        headline[field] = overall[field].iloc[0] if len(overall) and field in overall.columns else None
    if not len(overall):
        headline["responses"] = 0

    retention = weekly_retention.loc[weekly_retention["week"] == week] if weekly_retention is not None else None
    for field in _RETENTION_FIELDS:
        present = retention is not None and len(retention) and field in retention.columns
        headline[field] = retention[field].iloc[0] if present and retention is not None else None

    headline["rising_terms"] = []
    if trending_terms is not None and len(trending_terms):
        rising = trending_terms.loc[
            (trending_terms["week"] == week)
            & (trending_terms["direction"] == "rising")
            & trending_terms["is_significant"].astype(bool)
        ]
        rising = rising.sort_values(["q_value", "p_value", "term"], kind="stable").head(max_terms)
        headline["rising_terms"] = rising[_TERM_FIELDS].to_dict(orient="records")

    headline["alerts"] = []
    if alerts is not None and len(alerts):
        headline["alerts"] = alerts.loc[alerts["week"] == week].to_dict(orient="records")

    headline["kpis"] = []
    if kpi_tiles is not None and len(kpi_tiles):
        order = {kpi: i for i, (kpi, *_) in enumerate(KPI_ORDER)}
        tiles = kpi_tiles.loc[kpi_tiles["week"] == week]
        tiles = tiles.assign(_order=tiles["kpi"].map(order)).sort_values("_order")
        headline["kpis"] = tiles[[c for c in _KPI_FIELDS if c in tiles.columns]].to_dict(orient="records")
    cell = overall.iloc[0].to_dict() if len(overall) else {}
    headline["metric_n"] = {
        metric: {
            "n": cell.get(n_column, 0) if cell else 0,
            "is_small_sample": cell.get(f"is_{metric}_small_sample", True) if cell else True,
            "is_suppressed": cell.get(f"is_{metric}_suppressed", True) if cell else True,
        }
        for metric, n_column in _METRIC_N
    }
    tiles_of_week = _of_week(kpi_tiles, week)
    headline["minimum_detectable_change"] = (
        dict(zip(tiles_of_week["kpi"], tiles_of_week["mde"], strict=True))
        if len(tiles_of_week) and "mde" in tiles_of_week.columns
        else {}
    )
    headline["completeness"] = _completeness(_of_week(response_completeness, week))
    headline["restatement"] = _restatement(_of_week(restatements, week), published_previous)
    headline["survival"] = _survival(_of_week(repurchase_by_nps_group, week), _of_week(repurchase_tests, week))
    persisting = _of_week(persisting_terms, week)
    headline["persisting_terms"] = (
        persisting.sort_values(["q_value", "term"])[_PERSISTING_FIELDS].to_dict(orient="records")
        if len(persisting)
        else []
    )
    cohorts = _of_week(cohort_retention, week)
    headline["cohorts"] = cohorts[_COHORT_FIELDS].to_dict(orient="records") if len(cohorts) else []
    return to_plain(headline)


def _of_week(frame: pd.DataFrame | None, week: str) -> pd.DataFrame:
    if frame is None or frame.empty or "week" not in frame.columns:
        return pd.DataFrame()
    return frame.loc[frame["week"] == week]


def _completeness(rows: pd.DataFrame) -> dict[str, Any] | None:
    if rows.empty:
        return None
    by = rows.set_index("channel")
    if "all" not in by.index:
        return None
    fields = ["arrived_responses", "expected_responses", "completeness", "known_responses", "late_responses"]
    out = {"cutoff_day": by.loc["all", "cutoff_day"], **{f: by.loc["all", f] for f in fields}}
    out["channels"] = [
        {"channel": channel, "on_time_share": row["on_time_share"], **{f: row[f] for f in fields}}
        for channel, row in by.drop(index="all").iterrows()
    ]
    return out


def _restatement(rows: pd.DataFrame, published: pd.DataFrame | None) -> dict[str, Any] | None:
    if rows.empty:
        return None
    shown = (
        dict(zip(published["figure"], published["value"], strict=True))
        if published is not None and len(published)
        else {}
    )
    figures = []
    for row in rows.to_dict(orient="records"):
        reported = shown.get(row["figure"], row["reported_value"])
        figures.append(
            {
                "figure": row["figure"],
                "reported_value": reported,
                "restated_value": row["restated_value"],
                "reported_n": row["reported_n"],
                "restated_n": row["restated_n"],
                "is_published_value": row["figure"] in shown,
                "is_restated": bool(row["is_restated"])
                if row["figure"] not in shown
                else reported != row["restated_value"],
            }
        )
    return {
        "previous_week": rows["previous_week"].iloc[0],
        "late_responses": rows["late_responses"].max(),
        "figures": figures,
    }


def _survival(summary: pd.DataFrame, tests: pd.DataFrame) -> dict[str, Any] | None:
    if summary.empty:
        return None
    first = summary.iloc[0]
    return {
        "first_response_week": first["first_response_week"],
        "last_response_week": first["last_response_week"],
        "window_days": first["window_days"],
        "groups": summary.drop(columns=[c for c in _SURVIVAL_SHARED if c in summary]).to_dict(orient="records"),
        "log_rank": tests[["comparison", "statistic", "dof", "p_value", "is_significant"]].to_dict(orient="records")
        if len(tests)
        else [],
    }


def to_plain(value: Any) -> Any:
    """Recursively convert to JSON-ready plain Python: NaN / NA / NaT -> None, numpy -> builtins,
    dates and timestamps -> ISO strings, tuples -> lists."""
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return [to_plain(item) for item in list(value)]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, np.str_ | str):
        return str(value)
    raise TypeError(f"cannot convert {type(value).__name__} to a JSON value")


_FOLLOWUP_FIELDS = [
    "cases_opened",
    "cases_open",
    "contacted_within_sla_share",
    "median_hours_to_first_contact",
    "resolved_share",
    "came_back_share",
]
_EFFECT_FIELDS = ["difference", "ci_low", "ci_high", "p_value", "logrank_p_value", "mde", "verdict", "window_days"]


def summarise_cases(week: str, weekly_followup: pd.DataFrame, outreach_effect: pd.DataFrame) -> dict[str, Any]:
    """The week's RETAIN follow-up figures (overall row of weekly_followup) and the outreach effect.

    Keys: cases_opened, cases_open, contacted_within_sla_share, median_hours_to_first_contact, resolved_share,
    came_back_share (None when the week has no cases), and outreach_effect: {n: {outreach, control},
    difference, ci_low, ci_high, p_value, is_randomised, logrank_p_value, mde, verdict, window_days, detractors:
    the same for detractor cases} or None when the week has no effect row.
    """
    overall = weekly_followup.loc[(weekly_followup["week"] == week) & (weekly_followup["dimension"] == "overall")]
    out: dict[str, Any] = {f: overall[f].iloc[0] if len(overall) else None for f in _FOLLOWUP_FIELDS}
    effects = outreach_effect.loc[outreach_effect["week"] == week].set_index("subset")

    def effect(subset: str) -> dict[str, Any] | None:
        if subset not in effects.index:
            return None
        row = effects.loc[subset]
        return {
            "n": {"outreach": row["treatment_n"], "control": row["control_n"]},
            **{f: row[f] for f in _EFFECT_FIELDS},
            "is_randomised": row["is_randomised"],
        }

    out["outreach_effect"] = effect("all")
    if out["outreach_effect"] is not None:
        out["outreach_effect"]["detractors"] = effect("detractor")
    return to_plain(out)
