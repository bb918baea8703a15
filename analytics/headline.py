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

__all__ = ["summarise_week", "to_plain"]

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
    "is_partial_week",
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
) -> dict[str, Any]:
    """Return the headline figures of `week` (one ISO week, overall cell) as a JSON-serialisable dict.

    Keys: week, the overall satisfaction figures (responses, nps, nps_ci_low, nps_ci_high, promoters,
    passives, detractors, csat, ces, ... see _SATISFACTION_FIELDS), the retention figures
    (active_customers, repeat_rate, churn_rate, net_revenue_retention, ...), rising_terms (significant
    rising terms of the week, strongest first, at most max_terms, each {term, count, share,
    baseline_share, ratio, p_value, q_value}), alerts (the week's alert rows as dicts) and kpis (the stored
    KPI tiles the report shows, in its order: each {kpi, value, previous, change, p_value, q_value,
    is_significant, test, n, direction, unit}).
    A figure that is missing for the week is None; responses is 0 when the week had none.
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
    return to_plain(headline)


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
