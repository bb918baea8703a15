"""Headline figures of one week as a plain, JSON-ready dict (for `loyalty metrics --week ... --json`).

Owns no frame: it reads the rows of the stored metric tables (a DataFrame, or a list of row mappings as a
database read returns them) and converts every value to plain Python (numpy scalars to int/float/bool, NaN
and NA to None, dates to ISO strings). It imports neither pandas nor numpy, so the command line can print a
stored week without paying their import (about half a second): the rows are plain lists of mappings, and a
DataFrame is turned into one with its own ``to_dict``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from analytics.parameters import KPI_COLUMNS, KPI_ORDER
from analytics.week_labels import parse_iso_week

Rows = Sequence[Mapping[str, Any]]

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
    weekly_satisfaction: Any,
    *,
    weekly_retention: Any = None,
    trending_terms: Any = None,
    alerts: Any = None,
    kpi_tiles: Any = None,
    max_terms: int = 10,
    response_completeness: Any = None,
    restatements: Any = None,
    published_previous: Any = None,
    repurchase_by_nps_group: Any = None,
    repurchase_tests: Any = None,
    persisting_terms: Any = None,
    cohort_retention: Any = None,
) -> dict[str, Any]:
    """Return the headline figures of `week` (one ISO week, overall cell) as a JSON-serialisable dict.

    Each table is a DataFrame or a list of row mappings (see the module docstring), or None.
    Keys: week, the overall satisfaction figures (responses, nps, nps_ci_low, nps_ci_high, promoters,
    passives, detractors, csat, ces, ... see _SATISFACTION_FIELDS), the retention figures
    (active_customers, repeat_rate, churn_rate, net_revenue_retention, ...), rising_terms (significant
    rising terms of the week, strongest first, at most max_terms, each {term, count, share,
    baseline_share, ratio, p_value, q_value}), alerts (the week's alert rows as dicts) and kpis (the stored
    KPI tiles the report shows, in its order: each {kpi, value, previous, change, p_value, q_value,
    is_significant, test, n, direction, unit}).
    With the optional tables it also carries (each None or empty when its table is not given):
    metric_n ({nps|csat|ces: {n, is_small_sample, is_suppressed}}), minimum_detectable_change ({kpi: mde},
    from the stored tiles), completeness (the "all" row plus per-channel rows), restatement (the previous
    week's figures as reported / published and as restated), survival (Kaplan-Meier summary per NPS group and
    the log-rank tests, with the response weeks covered), persisting_terms and cohorts (cohort rows with
    is_existing_customers and is_partial_month). A figure that is missing for the week is None; responses is
    0 when the week had none.
    """
    parse_iso_week(week)
    headline: dict[str, Any] = {"week": week}

    overall = [r for r in _of_week(weekly_satisfaction, week) if r.get("dimension") == "overall"]
    cell = overall[0] if overall else {}
    for field in _SATISFACTION_FIELDS:
        headline[field] = cell.get(field)
    if not overall:
        headline["responses"] = 0

    retention = _of_week(weekly_retention, week)
    for field in _RETENTION_FIELDS:
        headline[field] = retention[0].get(field) if retention else None

    rising = [r for r in _of_week(trending_terms, week) if r["direction"] == "rising" and _truthy(r["is_significant"])]
    rising.sort(key=lambda r: (_nan_last(r["q_value"]), _nan_last(r["p_value"]), _nan_last(r["term"])))
    headline["rising_terms"] = [_pick(r, _TERM_FIELDS) for r in rising[:max_terms]]

    headline["alerts"] = [dict(r) for r in _of_week(alerts, week)]

    order = {kpi: i for i, (kpi, *_) in enumerate(KPI_ORDER)}
    tiles = sorted(_of_week(kpi_tiles, week), key=lambda r: _nan_last(order.get(r["kpi"])))
    headline["kpis"] = [{c: r[c] for c in _KPI_FIELDS if c in r} for r in tiles]
    headline["metric_n"] = {
        metric: {
            "n": cell.get(n_column, 0) if cell else 0,
            "is_small_sample": cell.get(f"is_{metric}_small_sample", True) if cell else True,
            "is_suppressed": cell.get(f"is_{metric}_suppressed", True) if cell else True,
        }
        for metric, n_column in _METRIC_N
    }
    unordered = _of_week(kpi_tiles, week)
    has_mde = unordered and all("mde" in r for r in unordered)
    headline["minimum_detectable_change"] = {r["kpi"]: r["mde"] for r in unordered} if has_mde else {}
    headline["completeness"] = _completeness(_of_week(response_completeness, week))
    headline["restatement"] = _restatement(_of_week(restatements, week), _records(published_previous))
    headline["survival"] = _survival(_of_week(repurchase_by_nps_group, week), _of_week(repurchase_tests, week))
    persisting = sorted(_of_week(persisting_terms, week), key=lambda r: (_nan_last(r["q_value"]), _nan_last(r["term"])))
    headline["persisting_terms"] = [_pick(r, _PERSISTING_FIELDS) for r in persisting]
    headline["cohorts"] = [_pick(r, _COHORT_FIELDS) for r in _of_week(cohort_retention, week)]
    return to_plain(headline)


def _records(table: Any) -> list[Mapping[str, Any]]:
    """The rows of a DataFrame (by its own ``to_dict``, so pandas is not imported here) or of a row list."""
    if table is None:
        return []
    if hasattr(table, "to_dict"):
        return table.to_dict(orient="records")
    return list(table)


def _of_week(table: Any, week: str) -> list[Mapping[str, Any]]:
    return [r for r in _records(table) if r.get("week") == week]


def _pick(row: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
    return {f: row[f] for f in fields}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or _is_pandas_missing(value)


def _is_pandas_missing(value: Any) -> bool:
    # pd.NA and pd.NaT, told by their type's name so that this module need not import pandas.
    return type(value).__name__ in ("NAType", "NaTType")


def _nan_last(value: Any) -> tuple[bool, Any]:
    """A sort key that orders like pandas' sort_values: missing values last."""
    return (True, 0) if _is_missing(value) else (False, value)


def _truthy(value: Any) -> bool:
    # As pandas' astype(bool): NaN is true, None false.
    return bool(value) if not _is_pandas_missing(value) else False


def _completeness(rows: Rows) -> dict[str, Any] | None:
    by = {r["channel"]: r for r in rows}
    if "all" not in by:
        return None
    fields = ["arrived_responses", "expected_responses", "completeness", "known_responses", "late_responses"]
    out = {"cutoff_day": by["all"]["cutoff_day"], **{f: by["all"][f] for f in fields}}
    out["channels"] = [
        {"channel": channel, "on_time_share": row["on_time_share"], **{f: row[f] for f in fields}}
        for channel, row in by.items()
        if channel != "all"
    ]
    return out


def _restatement(rows: Rows, published: Rows) -> dict[str, Any] | None:
    if not rows:
        return None
    shown = {r["figure"]: r["value"] for r in published}
    figures = []
    for row in rows:
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
    late = [r["late_responses"] for r in rows if not _is_missing(r["late_responses"])]
    return {
        "previous_week": rows[0]["previous_week"],
        "late_responses": max(late) if late else None,
        "figures": figures,
    }


def _survival(summary: Rows, tests: Rows) -> dict[str, Any] | None:
    if not summary:
        return None
    first = summary[0]
    return {
        "first_response_week": first["first_response_week"],
        "last_response_week": first["last_response_week"],
        "window_days": first["window_days"],
        "groups": [{k: v for k, v in r.items() if k not in _SURVIVAL_SHARED} for r in summary],
        "log_rank": [_pick(r, ["comparison", "statistic", "dof", "p_value", "is_significant"]) for r in tests],
    }


def to_plain(value: Any) -> Any:
    """Recursively convert to JSON-ready plain Python: NaN / NA / NaT -> None, numpy -> builtins,
    dates and timestamps -> ISO strings, tuples -> lists.

    numpy and pandas values are told apart by their methods and type names, not imported: a value of theirs
    can only arrive when the caller has imported them already.
    """
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    if _is_missing(value):
        return None
    if isinstance(value, bool | int | str):
        return value if type(value) in (bool, int, str) else _builtin(value)
    if isinstance(value, float):
        return None if math.isinf(value) else float(value)
    if isinstance(value, dt.datetime | dt.date):  # pd.Timestamp is a datetime
        return value.isoformat()
    kind = type(value).__name__
    if kind == "datetime64":
        import pandas as pd  # already imported by whoever made the value

        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas Series
        return to_plain(value.tolist())
    raise TypeError(f"cannot convert {kind} to a JSON value")


def _builtin(value: bool | int | str) -> bool | int | str:
    """A subclass of bool, int or str (numpy's str_ is one) as the builtin itself."""
    for kind in (bool, int, str):
        if isinstance(value, kind):
            return kind(value)
    raise TypeError(type(value).__name__)  # pragma: no cover - the caller checked


_FOLLOWUP_FIELDS = [
    "cases_opened",
    "cases_open",
    "contacted_within_sla_share",
    "median_hours_to_first_contact",
    "resolved_share",
    "came_back_share",
]
_EFFECT_FIELDS = ["difference", "ci_low", "ci_high", "p_value", "logrank_p_value", "mde", "verdict", "window_days"]


def summarise_cases(week: str, weekly_followup: Any, outreach_effect: Any) -> dict[str, Any]:
    """The week's RETAIN follow-up figures (overall row of weekly_followup) and the outreach effect.

    Each table is a DataFrame or a list of row mappings. Keys: cases_opened, cases_open,
    contacted_within_sla_share, median_hours_to_first_contact, resolved_share, came_back_share (None when the
    week has no cases), and outreach_effect: {n: {outreach, control}, difference, ci_low, ci_high, p_value,
    is_randomised, logrank_p_value, mde, verdict, window_days, detractors: the same for detractor cases} or
    None when the week has no effect row.
    """
    overall = [r for r in _of_week(weekly_followup, week) if r["dimension"] == "overall"]
    out: dict[str, Any] = {f: overall[0][f] if overall else None for f in _FOLLOWUP_FIELDS}
    effects = {r["subset"]: r for r in _of_week(outreach_effect, week)}

    def effect(subset: str) -> dict[str, Any] | None:
        if subset not in effects:
            return None
        row = effects[subset]
        return {
            "n": {"outreach": row["treatment_n"], "control": row["control_n"]},
            **{f: row[f] for f in _EFFECT_FIELDS},
            "is_randomised": row["is_randomised"],
        }

    out["outreach_effect"] = effect("all")
    if out["outreach_effect"] is not None:
        out["outreach_effect"]["detractors"] = effect("detractor")
    return to_plain(out)
