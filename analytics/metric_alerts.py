"""Alerts: turn significant week-over-week changes and rising terms into short, readable rows.

Owns the `alerts` frame: one row per alert (week x kind x subject).

Rules
- nps_drop / nps_rise, csat_drop / csat_rise: a weekly_satisfaction cell whose week-over-week change is
  EITHER significant after Benjamini-Hochberg across that week's cells (q < alpha; rule "q<0.05") OR
  significant on its own (p < alpha) this week AND last week in the same direction (rule "two weeks
  running"). Drops are "high" severity when they reach nps_high_drop points (NPS) or csat_high_drop (CSAT
  share), else "medium"; rises are "info".
  False alarms: BH keeps the expected share of false alerts among one week's metric alerts at or below
  alpha. The two-week rule lets a moderate change that BH would drop be seen, at a small cost: with no
  real change, a cell passes p < 0.05 in a given direction with probability 0.025, so two weeks running in
  the same direction about 0.025 x 0.025 x 2 = 0.00125 per cell and week (less in practice: consecutive
  changes share a week and are negatively correlated). With about 30 cells per metric that is one false
  two-week alert every ~27 weeks per metric.
- rising_term: a trending_terms row that is significant and rising; "medium" when its ratio reaches
  term_high_ratio, else "low".
- persisting_term: a persisting_terms row (a term that rose and is still significantly above its pre-rise
  baseline); "medium". It stays until the term returns to that baseline.
Evidence is plain text with the numbers, p and q; it notes a small sample when the metric's own n is
flagged (is_nps_small_sample / is_csat_small_sample).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics._frames import require_columns
from analytics.weeks import shift_iso_week

__all__ = ["ALERT_COLUMNS", "SEVERITIES", "build_alerts"]

ALERT_COLUMNS = ["week", "kind", "subject", "severity", "evidence", "p_value", "q_value", "rule"]
SEVERITIES = ("high", "medium", "low", "info")


def build_alerts(
    weekly_satisfaction: pd.DataFrame | None = None,
    trending_terms: pd.DataFrame | None = None,
    *,
    persisting_terms: pd.DataFrame | None = None,
    weeks: list[str] | None = None,
    alpha: float = 0.05,
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
        parts.append(_metric_alerts(weekly_satisfaction, "nps", high_drop=nps_high_drop, alpha=alpha))
        parts.append(_metric_alerts(weekly_satisfaction, "csat", high_drop=csat_high_drop, alpha=alpha))
    if trending_terms is not None and not trending_terms.empty:
        parts.append(_term_alerts(trending_terms, high_ratio=term_high_ratio))
    if persisting_terms is not None and not persisting_terms.empty:
        parts.append(_persisting_alerts(persisting_terms))
    alerts = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ALERT_COLUMNS)
    if weeks is not None:
        alerts = alerts.loc[alerts["week"].isin(weeks)]
    severity_order = alerts["severity"].map({name: rank for rank, name in enumerate(SEVERITIES)})
    alerts = alerts.assign(_order=severity_order).sort_values(["week", "_order", "kind", "subject"], kind="stable")
    return (
        alerts[ALERT_COLUMNS]
        .reset_index(drop=True)
        .astype({"week": "str", "kind": "str", "subject": "str", "severity": "str", "evidence": "str", "rule": "str"})
    )


def _metric_alerts(weekly: pd.DataFrame, metric: str, *, high_drop: float, alpha: float) -> pd.DataFrame:
    flag = f"is_{metric}_change_significant"
    require_columns(
        weekly,
        ["week", "dimension", "segment_value", "responses", "previous_responses", "is_small_sample", flag],
        "weekly_satisfaction",
    )
    keys = ["week", "dimension", "segment_value"]
    p, change_all = weekly[f"{metric}_change_p"].astype(float), weekly[f"{metric}_change"].astype(float)
    last_week = weekly[keys].assign(
        week=weekly["week"].map(lambda label: shift_iso_week(label, 1)),
        _last_p=p.to_numpy(),
        _last_change=change_all.to_numpy(),
    )
    joined = weekly[keys].merge(last_week, on=keys, how="left", validate="one_to_one")
    same_direction = np.sign(joined["_last_change"].to_numpy()) == np.sign(change_all.to_numpy())
    twice = (
        (p.to_numpy() < alpha) & (joined["_last_p"].to_numpy() < alpha) & same_direction & (change_all != 0).to_numpy()
    )
    single = weekly[flag].fillna(False).astype(bool).to_numpy()
    rows = weekly.loc[single | twice]
    rule = np.where(single[single | twice], "q<0.05", "two weeks running")
    last_p = joined["_last_p"].to_numpy()[single | twice]
    small = f"is_{metric}_small_sample" if f"is_{metric}_small_sample" in rows.columns else "is_small_sample"
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
        + np.where(
            rule == "two weeks running",
            "; also a change last week, p=" + _fmt(pd.Series(last_p, index=rows.index), "{:.2g}"),
            "",
        )
        + np.where(rows[small].astype(bool), " (small sample)", "")
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
            "rule": rule,
        }
    )


def _term_alerts(trending: pd.DataFrame, *, high_ratio: float) -> pd.DataFrame:
    require_columns(
        trending,
        ["week", "term", "count", "comments", "share", "baseline_share", "ratio", "p_value", "q_value"],
        "trending_terms",
    )
    rows = trending.loc[trending["is_significant"].astype(bool) & (trending["direction"] == "rising")]
    evidence = _term_evidence(
        rows, "in", "baseline_share", " in the baseline weeks (ratio " + _fmt(rows["ratio"], "{:.1f}") + ")"
    )
    severity = np.where(rows["ratio"] >= high_ratio, "medium", "low")
    return _term_alert_frame(rows, "rising_term", severity, evidence, "q<0.05")


def _persisting_alerts(persisting: pd.DataFrame) -> pd.DataFrame:
    require_columns(
        persisting, ["week", "term", "onset_week", "count", "comments", "share", "reference_share"], "persisting_terms"
    )
    evidence = _term_evidence(
        persisting, "still in", "reference_share", " before it rose in " + persisting["onset_week"].astype("str")
    )
    return _term_alert_frame(persisting, "persisting_term", "medium", evidence, "persisting")


def _term_evidence(rows: pd.DataFrame, verb: str, reference: str, reference_text: pd.Series | str) -> pd.Series:
    """ "'<term>' <verb> <count> of <comments> comments (<share>) vs <reference share><reference text>; p=, q="."""
    return (
        "'"
        + rows["term"].astype("str")
        + f"' {verb} "
        + _fmt(rows["count"], "{:.0f}")
        + " of "
        + _fmt(rows["comments"], "{:.0f}")
        + " comments ("
        + _fmt(rows["share"], "{:.1%}")
        + ") vs "
        + _fmt(rows[reference], "{:.1%}")
        + reference_text
        + "; p="
        + _fmt(rows["p_value"], "{:.2g}")
        + ", q="
        + _fmt(rows["q_value"], "{:.2g}")
    )


def _term_alert_frame(rows: pd.DataFrame, kind: str, severity: object, evidence: pd.Series, rule: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week": rows["week"].to_numpy(),
            "kind": kind,
            "subject": rows["term"].astype("str").to_numpy(),
            "severity": severity,
            "evidence": evidence.to_numpy(),
            "p_value": rows["p_value"].to_numpy(float),
            "q_value": rows["q_value"].to_numpy(float),
            "rule": rule,
        }
    )


def _fmt(values: pd.Series, pattern: str) -> pd.Series:
    """Format numbers for evidence text; missing values read "n/a"."""
    return values.map(lambda value: pattern.format(float(value)), na_action="ignore").astype("object").fillna("n/a")
