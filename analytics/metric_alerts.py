"""Alerts: turn significant week-over-week changes and rising terms into short, readable rows.

Owns the `alerts` frame: one row per alert (week x kind x subject).

Rules
- nps_drop / nps_rise, csat_drop / csat_rise: a weekly_satisfaction cell whose change is significant after
  Benjamini-Hochberg (is_*_change_significant). Drops are "high" severity when they reach
  nps_high_drop points (NPS) or csat_high_drop (CSAT share), else "medium"; rises are "info".
- rising_term: a trending_terms row that is significant and rising; "medium" when its ratio reaches
  term_high_ratio, else "low".
Evidence is plain text with the numbers, p and q; it notes a small sample when the cell is flagged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics._frames import require_columns

__all__ = ["ALERT_COLUMNS", "SEVERITIES", "build_alerts"]

ALERT_COLUMNS = ["week", "kind", "subject", "severity", "evidence", "p_value", "q_value"]
SEVERITIES = ("high", "medium", "low", "info")


def build_alerts(
    weekly_satisfaction: pd.DataFrame | None = None,
    trending_terms: pd.DataFrame | None = None,
    *,
    weeks: list[str] | None = None,
    nps_high_drop: float = 10.0,
    csat_high_drop: float = 0.10,
    term_high_ratio: float = 3.0,
) -> pd.DataFrame:
    """Return alerts: one row per alert, columns ALERT_COLUMNS, optionally limited to `weeks`.

    Takes the outputs of compute_weekly_satisfaction and find_trending_terms (either may be None).
    subject is "overall" or "<dimension>=<value>" (e.g. "channel=phone") for metric alerts and the term
    for rising_term. Rows sorted by week, severity (high first), kind, subject.
    """
    parts = []
    if weekly_satisfaction is not None and not weekly_satisfaction.empty:
        parts.append(_metric_alerts(weekly_satisfaction, "nps", high_drop=nps_high_drop))
        parts.append(_metric_alerts(weekly_satisfaction, "csat", high_drop=csat_high_drop))
    if trending_terms is not None and not trending_terms.empty:
        parts.append(_term_alerts(trending_terms, high_ratio=term_high_ratio))
    alerts = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ALERT_COLUMNS)
    if weeks is not None:
        alerts = alerts.loc[alerts["week"].isin(weeks)]
    severity_order = alerts["severity"].map({name: rank for rank, name in enumerate(SEVERITIES)})
    alerts = alerts.assign(_order=severity_order).sort_values(["week", "_order", "kind", "subject"], kind="stable")
    return (
        alerts[ALERT_COLUMNS]
        .reset_index(drop=True)
        .astype({"week": "str", "kind": "str", "subject": "str", "severity": "str", "evidence": "str"})
    )


def _metric_alerts(weekly: pd.DataFrame, metric: str, *, high_drop: float) -> pd.DataFrame:
    flag = f"is_{metric}_change_significant"
    require_columns(
        weekly,
        ["week", "dimension", "segment_value", "responses", "previous_responses", "is_small_sample", flag],
        "weekly_satisfaction",
    )
    rows = weekly.loc[weekly[flag].fillna(False).astype(bool)]
    change = rows[f"{metric}_change"]
    falling = change < 0
    subject = np.where(
        rows["dimension"] == "overall",
        "overall",
        rows["dimension"].astype("str") + "=" + rows["segment_value"],
    )
    if metric == "nps":
        numbers = (
            "NPS "
            + _fmt(rows["nps_previous"], "{:.1f}")
            + " -> "
            + _fmt(rows["nps"], "{:.1f}")
            + " ("
            + _fmt(change, "{:+.1f}")
            + " pts"
        )
    else:
        numbers = (
            "CSAT "
            + _fmt(rows["csat_previous"], "{:.1%}")
            + " -> "
            + _fmt(rows["csat"], "{:.1%}")
            + " ("
            + _fmt(100 * change, "{:+.1f}")
            + " pts"
        )
    evidence = (
        numbers
        + "; responses "
        + _fmt(rows["previous_responses"], "{:.0f}")
        + " -> "
        + _fmt(rows["responses"], "{:.0f}")
        + "); p="
        + _fmt(rows[f"{metric}_change_p"], "{:.2g}")
        + ", q="
        + _fmt(rows[f"{metric}_change_q"], "{:.2g}")
        + np.where(rows["is_small_sample"].astype(bool), " (small sample)", "")
    )
    severity = np.where(falling, np.where(change.abs() >= high_drop, "high", "medium"), "info")
    return pd.DataFrame(
        {
            "week": rows["week"].to_numpy(),
            "kind": np.where(falling, f"{metric}_drop", f"{metric}_rise"),
            "subject": subject,
            "severity": severity,
            "evidence": evidence.to_numpy(),
            "p_value": rows[f"{metric}_change_p"].to_numpy(float),
            "q_value": rows[f"{metric}_change_q"].to_numpy(float),
        }
    )


def _term_alerts(trending: pd.DataFrame, *, high_ratio: float) -> pd.DataFrame:
    require_columns(
        trending,
        ["week", "term", "count", "comments", "share", "baseline_share", "ratio", "p_value", "q_value"],
        "trending_terms",
    )
    rows = trending.loc[trending["is_significant"].astype(bool) & (trending["direction"] == "rising")]
    evidence = (
        "'"
        + rows["term"].astype("str")
        + "' in "
        + _fmt(rows["count"], "{:.0f}")
        + " of "
        + _fmt(rows["comments"], "{:.0f}")
        + " comments ("
        + _fmt(rows["share"], "{:.1%}")
        + ") vs "
        + _fmt(rows["baseline_share"], "{:.1%}")
        + " in the baseline weeks (ratio "
        + _fmt(rows["ratio"], "{:.1f}")
        + "); p="
        + _fmt(rows["p_value"], "{:.2g}")
        + ", q="
        + _fmt(rows["q_value"], "{:.2g}")
    )
    return pd.DataFrame(
        {
            "week": rows["week"].to_numpy(),
            "kind": "rising_term",
            "subject": rows["term"].astype("str").to_numpy(),
            "severity": np.where(rows["ratio"] >= high_ratio, "medium", "low"),
            "evidence": evidence.to_numpy(),
            "p_value": rows["p_value"].to_numpy(float),
            "q_value": rows["q_value"].to_numpy(float),
        }
    )


def _fmt(values: pd.Series, pattern: str) -> pd.Series:
    """Format numbers for evidence text; missing values read "n/a"."""
    return values.map(lambda value: pattern.format(float(value)), na_action="ignore").astype("object").fillna("n/a")
