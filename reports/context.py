"""The report's content: turn one week's metric frames into the plain values the templates show.

Pure: frames and parameters in, a dict of strings, numbers and lists out. Every number a reader sees is
formatted here, once, so the PDF, the HTML, the email summary and the Prefect artifact agree. Free text
(comments, terms, region and segment names) passes through untouched except for truncation: escaping is
the templates' job (autoescape), never this module's.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analytics.kpis import KPI_ORDER
from analytics.weeks import parse_iso_week, shift_iso_week
from loyalty.contract import SERVICE_DIMENSIONS
from reports import charts
from reports.closing_loop import closing_loop_context, mark_retain_rows

SEGMENT_DIMENSIONS = (("channel", "Channel"), ("region", "Region"), ("segment", "Customer segment"))
SERVICE_LABELS = {dimension: dimension.capitalize() for dimension in SERVICE_DIMENSIONS}
NPS_GROUP_LABELS = {"promoter": "Promoters", "passive": "Passives", "detractor": "Detractors"}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}


@dataclass(frozen=True)
class ReportOptions:
    company: str = "Loyalty Analytics"
    currency: str = "GBP"
    comment_chars: int = 280
    term_chars: int = 60
    label_chars: int = 60
    retain_rows_pdf: int = 25
    churn_days: int = 90
    baseline_weeks: int = 8
    baseline_gap_weeks: int = 2
    min_n: int = 5
    small_n: int = 30


# ---------------------------------------------------------------- formatting


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):  # float("NaN") parses: a comment or term reading "nan" is text, not a gap
        return False
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def clip(text: Any, limit: int) -> str:
    """The text cut to ``limit`` characters with an ellipsis; no HTML is made or removed here."""
    if _missing(text):
        return ""
    text = " ".join(str(text).split())  # newlines and runs of spaces: one line in a table cell
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "\u2026"


def fmt_int(value: Any) -> str:
    return "n/a" if _missing(value) else f"{int(round(float(value))):,}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    return "n/a" if _missing(value) else f"{float(value) * 100:.{digits}f}%"


def fmt_num(value: Any, digits: int = 1) -> str:
    return "n/a" if _missing(value) else f"{float(value):.{digits}f}"


def fmt_money(value: Any, currency: str) -> str:
    if _missing(value):
        return "n/a"
    symbol = {"GBP": "\u00a3", "EUR": "\u20ac", "USD": "$"}.get(currency)
    return f"{symbol}{float(value):,.0f}" if symbol else f"{float(value):,.0f} {currency}"


def fmt_p(value: Any) -> str:
    if _missing(value):
        return "n/a"
    value = float(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _signed(value: float, pattern: str) -> str:
    text = pattern.format(abs(value))
    if not any(digit in text for digit in "123456789"):  # rounds to zero: no sign
        return text
    return ("+" if value > 0 else "\u2212") + text


def format_kpi(kpi: str, value: Any) -> str:
    if kpi == "nps":
        return fmt_num(value, 1)
    if kpi in ("csat", "repeat_rate"):
        return fmt_pct(value, 1)
    if kpi == "churn_rate":
        return fmt_pct(value, 2)
    if kpi == "ces":
        return fmt_num(value, 2)
    return fmt_int(value)


def format_change(kpi: str, change: Any) -> str:
    if _missing(change):
        return "no comparison"
    change = float(change)
    if kpi == "nps":
        return _signed(change, "{:.1f} pts")
    if kpi in ("csat", "repeat_rate"):
        return _signed(change * 100, "{:.1f} pp")
    if kpi == "churn_rate":
        return _signed(change * 100, "{:.2f} pp")
    if kpi == "ces":
        return _signed(change, "{:.2f}")
    return _signed(change, "{:,.0f}")


def week_heading(week: str) -> str:
    monday, sunday = parse_iso_week(week)
    year, number = week.split("-W")
    return f"Week {int(number)}, {year} ({monday:%-d %b} \u2013 {sunday:%-d %b %Y})"


# ---------------------------------------------------------------- sections


def kpi_tiles(stored: pd.DataFrame, week: str) -> list[dict]:
    """The week's KPI tiles as the reader sees them, from the stored ``weekly_kpi_tiles`` rows (in KPI order).

    The tiles and their tests are computed once, in the metrics step (:func:`analytics.kpis.compute_kpi_tiles`);
    here they are only formatted.
    """
    rows = stored.loc[stored["week"] == week] if len(stored) else stored
    order = {kpi: i for i, (kpi, *_) in enumerate(KPI_ORDER)}
    if sorted(rows["kpi"].map(order).tolist() if len(rows) else []) != list(range(len(KPI_ORDER))):
        raise ValueError(f"no complete set of stored KPI tiles for {week}: compute the week's metrics first")
    rows = rows.assign(_order=rows["kpi"].map(order)).sort_values("_order").drop(columns=["_order", "week"])
    tiles = []
    for row in rows.to_dict("records"):
        change = row["change"]
        if row["is_significant"] and not _missing(change) and float(change) != 0:
            rising = float(change) > 0
            good = rising == (row["direction"] == "higher")
            marker, tone = ("\u25b2" if rising else "\u25bc"), ("good" if good else "bad")
            significance = f"significant (q {fmt_p(row['q_value'])})"
        else:
            marker, tone = "", "neutral"
            significance = "not significant" if not _missing(row["q_value"]) else "not tested"
        mde = row.get("mde")
        tiles.append(
            {
                "kpi": row["kpi"],
                "label": row["label"],
                "value": format_kpi(row["kpi"], row["value"]),
                "change": format_change(row["kpi"], change),
                "previous": format_kpi(row["kpi"], row["previous"]),
                "marker": marker,
                "tone": tone,
                "significance": significance,
                "is_significant": bool(row["is_significant"]),
                "n": fmt_int(row["n"]),
                "test": row["test"],
                "mde": "" if _missing(mde) else "\u00b1" + format_change(row["kpi"], mde).lstrip("+\u2212"),
                "raw": row,
            }
        )
    return tiles


def _overall(satisfaction: pd.DataFrame, week: str) -> dict:
    if satisfaction.empty:
        return {}
    rows = satisfaction.loc[(satisfaction["week"] == week) & (satisfaction["dimension"] == "overall")]
    return rows.iloc[0].to_dict() if len(rows) else {}


def segment_tables(satisfaction: pd.DataFrame, week: str, options: ReportOptions) -> list[dict]:
    """One table per breakdown; suppressed cells show no figures, small ones are flagged."""
    tables = []
    week_rows = satisfaction.loc[satisfaction["week"] == week] if len(satisfaction) else satisfaction
    for dimension, title in SEGMENT_DIMENSIONS:
        rows = week_rows.loc[week_rows["dimension"] == dimension] if len(week_rows) else week_rows
        rows = rows.sort_values(["responses", "segment_value"], ascending=[False, True]) if len(rows) else rows
        out = []
        for r in rows.to_dict("records"):
            suppressed = bool(r.get("is_suppressed"))
            hidden = {m: suppressed or bool(r.get(f"is_{m}_suppressed")) for m in ("nps", "csat", "ces")}
            small = [
                f"{label} n={fmt_int(r.get(f'{m}_n'))}"
                for m, label in (("nps", "NPS"), ("csat", "CSAT"), ("ces", "CES"))
                if not suppressed and r.get(f"is_{m}_small_sample") and not hidden[m]
            ]
            held = [
                label for m, label in (("nps", "NPS"), ("csat", "CSAT"), ("ces", "CES")) if hidden[m] and not suppressed
            ]
            if suppressed:
                flag = f"suppressed (n < {options.min_n})"
            else:
                parts = ([f"small: {', '.join(small)}"] if small else []) + (
                    [f"not shown (n < {options.min_n}): {', '.join(held)}"] if held else []
                )
                flag = "; ".join(parts)
                if "is_nps_small_sample" not in r and r.get("is_small_sample"):  # rows from before per-metric n
                    flag = f"small sample (n < {options.small_n})"
            out.append(
                {
                    "name": clip(r["segment_value"], options.label_chars),
                    "responses": fmt_int(r["responses"]),
                    "nps": "\u2014" if hidden["nps"] else fmt_num(r.get("nps")),
                    "nps_ci": ""
                    if hidden["nps"] or _missing(r.get("nps_ci_low"))
                    else f"{fmt_num(r['nps_ci_low'])} to {fmt_num(r['nps_ci_high'])}",
                    "nps_change": "" if hidden["nps"] else format_change("nps", r.get("nps_change")),
                    "nps_significant": bool(r.get("is_nps_change_significant")) and not hidden["nps"],
                    "csat": "\u2014" if hidden["csat"] else fmt_pct(r.get("csat")),
                    "ces": "\u2014" if hidden["ces"] else fmt_num(r.get("ces"), 2),
                    "nps_small": not hidden["nps"] and bool(r.get("is_nps_small_sample", r.get("is_small_sample"))),
                    "csat_small": not hidden["csat"] and bool(r.get("is_csat_small_sample", r.get("is_small_sample"))),
                    "ces_small": not hidden["ces"] and bool(r.get("is_ces_small_sample", r.get("is_small_sample"))),
                    "flag": flag,
                }
            )
        tables.append({"dimension": dimension, "title": title, "rows": out})
    return tables


def driver_rows(drivers: pd.DataFrame) -> list[dict]:
    if drivers.empty:
        return []
    drivers = drivers.sort_values(["importance_rank", "driver"], na_position="last")
    mean_importance = drivers["importance"].mean()
    mean_top2 = drivers["top2_share"].mean()
    rows = []
    for r in drivers.to_dict("records"):
        important = not _missing(r["importance"]) and r["importance"] >= mean_importance
        performing = not _missing(r["top2_share"]) and r["top2_share"] >= mean_top2
        if not r.get("is_estimable") or _missing(r["importance"]):
            quadrant = "not estimable"
        else:
            quadrant = {
                (True, False): "Fix first",
                (True, True): "Keep up",
                (False, True): "Maintain",
                (False, False): "Lower priority",
            }[(important, performing)]
        ci = (
            ""
            if _missing(r.get("importance_ci_low"))
            else f"{fmt_pct(r['importance_ci_low'], 0)} to {fmt_pct(r['importance_ci_high'], 0)}"
        )
        rows.append(
            {
                "driver": r["driver"],
                "label": SERVICE_LABELS.get(r["driver"], str(r["driver"]).title()),
                "importance": fmt_pct(r["importance"], 0),
                "importance_ci": ci,
                "top_share": fmt_pct(r.get("top_share"), 0) if not _missing(r.get("top_share")) else "",
                "tied": bool(r.get("is_tied_top")),
                "rank": fmt_int(r["importance_rank"]) + (" (tied)" if r.get("is_tied_top") else ""),
                "mean": fmt_num(r["mean"], 2),
                "top2": fmt_pct(r["top2_share"], 0),
                "quadrant": quadrant,
                "n": fmt_int(r["n"]),
                "window": f"{r['window_start_week']} \u2013 {r['week']}",
                "r2": fmt_num(r["r2"], 2),
            }
        )
    return rows


def repurchase_rows(repurchase: pd.DataFrame) -> list[dict]:
    """The Kaplan-Meier summary per NPS group (promoters first, "All" last)."""
    if repurchase.empty:
        return []
    order = {g: i for i, g in enumerate(("promoter", "passive", "detractor", "all"))}
    repurchase = repurchase.assign(_o=repurchase["nps_group"].map(order)).sort_values("_o")
    return [
        {
            "group": NPS_GROUP_LABELS.get(
                r["nps_group"], "All respondents" if r["nps_group"] == "all" else r["nps_group"]
            ),
            "respondents": fmt_int(r["respondents"]),
            "repurchasers": fmt_int(r["repurchasers"]),
            "censored": fmt_int(r["censored"]),
            "median": "not reached" if _missing(r["median_days"]) else f"{float(r['median_days']):.0f} days",
            "by_30": fmt_pct(r["repurchased_30d"], 0),
            "by_90": fmt_pct(r["repurchased_90d"], 0),
            "ci_90": ""
            if _missing(r["repurchased_90d_ci_low"])
            else f"{fmt_pct(r['repurchased_90d_ci_low'], 0)} to {fmt_pct(r['repurchased_90d_ci_high'], 0)}",
            "weeks": f"{r['first_response_week']} \u2013 {r['last_response_week']}",
            "window_days": fmt_int(r["window_days"]),
        }
        for r in repurchase.to_dict("records")
    ]


def repurchase_test_rows(tests: pd.DataFrame) -> list[dict]:
    if tests.empty:
        return []
    names = {
        "all_groups": "Curves differ across the three groups (log-rank)",
        "detractor_vs_promoter": "Detractors vs promoters (log-rank)",
    }
    return [
        {
            "comparison": names.get(r["comparison"], str(r["comparison"]).replace("_", " ")),
            "p": fmt_p(r["p_value"]),
            "significant": bool(r["is_significant"]),
        }
        for r in tests.to_dict("records")
    ]


def repurchase_cohort_rows(cohorts: pd.DataFrame) -> list[dict]:
    """One row per response week: the 90-day repurchase share of each NPS group, with its n."""
    if cohorts.empty:
        return []
    out = []
    for week, part in cohorts.groupby("response_week", sort=True):
        by = part.set_index("nps_group")
        row = {"week": week}
        for group in ("promoter", "passive", "detractor", "all"):
            if group in by.index and by.at[group, "respondents"]:
                row[group] = f"{fmt_pct(by.at[group, 'repurchase_rate'], 0)} (n={fmt_int(by.at[group, 'respondents'])})"
            else:
                row[group] = "n/a"
        out.append(row)
    return out


def _term_rows(trending: pd.DataFrame, direction: str, options: ReportOptions, limit: int = 8) -> list[dict]:
    if trending.empty:
        return []
    rows = trending.loc[(trending["direction"] == direction) & trending["is_significant"].astype(bool)]
    rows = rows.sort_values(["q_value", "ratio", "term"], ascending=[True, direction == "falling", True]).head(limit)
    return [
        {
            "term": clip(r["term"], options.term_chars),
            "raw_term": r["term"],
            # count: this week's comments holding the term; comments: all of this week's comments.
            "count": fmt_int(r["count"]),
            "comments": fmt_int(r["comments"]),
            "share": fmt_pct(r["share"]),
            "baseline_share": fmt_pct(r["baseline_share"]),
            "ratio": fmt_num(r["ratio"], 1) + "\u00d7",
            "q": fmt_p(r["q_value"]),
        }
        for r in rows.to_dict("records")
    ]


def persisting_rows(persisting: pd.DataFrame, options: ReportOptions, limit: int = 8) -> list[dict]:
    if persisting.empty:
        return []
    rows = persisting.sort_values(["q_value", "term"]).head(limit)
    return [
        {
            "term": clip(r["term"], options.term_chars),
            "since": str(r["onset_week"]),
            "weeks": fmt_int(r["weeks_flagged"]),
            "count": fmt_int(r["count"]),
            "share": fmt_pct(r["share"]),
            "reference_share": fmt_pct(r["reference_share"]),
            "q": fmt_p(r["q_value"]),
        }
        for r in rows.to_dict("records")
    ]


def completeness_note(completeness: pd.DataFrame) -> dict | None:
    """How much of the week had arrived by the report, and which channels were still short."""
    if completeness.empty:
        return None
    by = completeness.set_index("channel")
    if "all" not in by.index:
        return None
    total = by.loc["all"]
    short = [
        f"{clip(channel, 30).replace('_', ' ')} "
        f"({fmt_int(row['arrived_responses'])} of ~{fmt_int(row['expected_responses'])})"
        for channel, row in by.drop(index="all").iterrows()
        if not _missing(row["completeness"]) and row["completeness"] < 0.95
    ]
    text = (
        f"An estimated {fmt_pct(total['completeness'], 0)} of this week's survey responses had arrived by the report "
        f"({fmt_int(total['arrived_responses'])} of about {fmt_int(total['expected_responses'])}, from how late each "
        "channel usually is)."
    )
    if short:
        text += " Still arriving: " + ", ".join(short) + "; their figures may be restated next week."
    return {
        "text": text,
        "completeness": fmt_pct(total["completeness"], 0),
        "is_incomplete": bool(not _missing(total["completeness"]) and total["completeness"] < 0.95),
    }


_FIGURE_LABELS = {"nps": ("NPS", "nps"), "csat": ("CSAT", "csat"), "ces": ("CES", "ces")}


def restatement_lines(restatements: pd.DataFrame, published: pd.DataFrame | None = None) -> list[str]:
    """Sentences stating how last week's figures changed with the responses that arrived after its report.

    The value "as reported" is the published one when that edition's published figures are at hand
    (published_figures), else the value from the rows delivered by its cut-off (what its report showed).
    """
    if restatements.empty:
        return []
    shown = {}
    if published is not None and len(published):
        shown = dict(zip(published["figure"], published["value"], strict=True))
    by = restatements.set_index("figure")
    late = int(by["late_responses"].max()) if len(by) else 0
    lines = []
    for figure, (label, kpi) in _FIGURE_LABELS.items():
        if figure not in by.index:
            continue
        row = by.loc[figure]
        before = shown.get(figure, row["reported_value"])
        after = row["restated_value"]
        if _missing(before) and _missing(after):
            continue
        if not _missing(before) and not _missing(after) and format_kpi(kpi, before) == format_kpi(kpi, after):
            continue
        lines.append(
            f"Last week's {label}, restated after {late} late response{'s' if late != 1 else ''}: "
            f"{format_kpi(kpi, before)} \u2192 {format_kpi(kpi, after)}."
        )
    if not lines and late > 0:
        lines.append(
            f"Last week's figures gained {late} late response{'s' if late != 1 else ''}; NPS, CSAT and CES unchanged."
        )
    return lines


def published_figures(overall: dict) -> list[dict]:
    """The headline figures this edition publishes (kept in published_figures for later restatements)."""
    if not overall:
        return [{"figure": "responses", "value": 0.0, "n": 0}]
    out = [
        {"figure": "responses", "value": float(overall.get("responses") or 0), "n": int(overall.get("responses") or 0)}
    ]
    for figure in ("nps", "csat", "ces"):
        value, n = overall.get(figure), overall.get(f"{figure}_n")
        out.append(
            {
                "figure": figure,
                "value": None if _missing(value) else float(value),
                "n": None if _missing(n) else int(n),
            }
        )
    return out


def nrr_text(row: dict, week: str, currency: str, nrr_weeks: int = 13) -> str:
    """NRR in one plain sentence, with the revenue it leaves out beside it."""
    if not row or _missing(row.get("net_revenue_retention")):
        return "Net revenue retention needs 26 weeks of history (two 13-week periods); it is not available yet."
    current_first = shift_iso_week(week, -(nrr_weeks - 1))
    prior_first, prior_last = shift_iso_week(week, -(2 * nrr_weeks - 1)), shift_iso_week(week, -nrr_weeks)
    text = (
        f"Net revenue retention {fmt_pct(row['net_revenue_retention'], 0)}: customers who bought in "
        f"{prior_first}\u2013{prior_last} spent {fmt_pct(row['net_revenue_retention'], 0)} as much in "
        f"{current_first}\u2013{week} as they did then. It leaves out new customers and those who came back, "
        "so it is not the change in revenue."
    )
    if not _missing(row.get("period_revenue")):
        total, before = float(row["period_revenue"]), row.get("prior_period_revenue")
        change = ""
        if not _missing(before) and float(before) > 0:
            change = f", {_signed((total / float(before) - 1) * 100, '{:.0f}%')} on the 13 weeks before"
        text += (
            f" Revenue over {current_first}\u2013{week}: {fmt_money(total, currency)}{change}; "
            f"{fmt_money(row.get('period_revenue_returning'), currency)} from returning customers and "
            f"{fmt_money(row.get('period_revenue_new'), currency)} from new ones."
        )
    return text


def _sentiment_label(value: Any) -> str:
    if _missing(value):
        return "n/a"
    value = float(value)
    # VADER's compound score; +/-0.05 are its authors' thresholds for neutral.
    word = "positive" if value >= 0.05 else "negative" if value <= -0.05 else "neutral"
    return f"{word} ({value:+.2f})"


def theme_details(details: pd.DataFrame, group_terms: pd.DataFrame, options: ReportOptions) -> list[dict]:
    if details.empty:
        return []
    over = {}
    if len(group_terms):
        significant = group_terms.loc[group_terms["is_significant"].astype(bool)]
        over = dict(zip(significant["term"], significant["over_represented_in"], strict=True))
    out = []
    quoted: set[str] = set()  # related terms ("app", "app crashed") share comments: quote each one once
    for r in details.to_dict("records"):
        verbatims, repeated = [], 0
        for i in (1, 2, 3):
            text, response_id = r.get(f"verbatim_{i}"), r.get(f"response_id_{i}")
            if _missing(text) or not str(text).strip():
                continue
            key = str(response_id) if not _missing(response_id) else str(text)
            if key in quoted:
                repeated += 1
                continue
            quoted.add(key)
            verbatims.append({"text": clip(text, options.comment_chars), "id": clip(response_id, 40)})
        group = over.get(r["term"])
        out.append(
            {
                "term": clip(r["term"], options.term_chars),
                "comments": fmt_int(r["comments"]),
                "sentiment": _sentiment_label(r["sentiment"]),
                "group": f"over-represented among {group}" if group else "",
                "verbatims": verbatims,
                "repeated": repeated,
            }
        )
    return out


def retain_rows(retain: pd.DataFrame, options: ReportOptions) -> list[dict]:
    if retain.empty:
        return []
    return [
        {
            "rank": fmt_int(r["rank"]),
            "customer_id": clip(r["customer_id"], 24),
            "email": clip(r["email_masked"], 40),
            "region": clip(r["region"], 24) or "unknown",
            "segment": clip(r["segment"], 24) or "unknown",
            "value_at_risk": fmt_money(r["value_at_risk"], options.currency),
            "nps": fmt_int(r["nps"]) if not _missing(r["nps"]) else "",
            "reason": clip(r["reason"], 120),
            "is_detractor": bool(r.get("is_detractor")),
            "again": bool(r.get("is_on_previous_list")),
        }
        for r in retain.sort_values("rank").to_dict("records")
    ]


def alert_rows(alerts: pd.DataFrame, options: ReportOptions) -> list[dict]:
    if alerts.empty:
        return []
    alerts = alerts.assign(_o=alerts["severity"].map(SEVERITY_ORDER).fillna(9)).sort_values(["_o", "kind", "subject"])
    return [
        {
            "severity": r["severity"],
            "kind": str(r["kind"]).replace("_", " "),
            "subject": clip(r["subject"], options.label_chars),
            "evidence": clip(r["evidence"], 300),
        }
        for r in alerts.to_dict("records")
    ]


def data_quality(dq: dict[str, list[dict]]) -> dict:
    entities = []
    for r in dq.get("delivery_counts", []):
        rows_in = int(r["rows_in"] or 0)
        entities.append(
            {
                "entity": r["entity"],
                "days": fmt_int(r["count_days"]),
                "rows_in": fmt_int(rows_in),
                "loaded": fmt_int(r["rows_loaded"]),
                "quarantined": fmt_int(r["rows_quarantined"]),
                "quarantined_share": fmt_pct((r["rows_quarantined"] or 0) / rows_in, 2) if rows_in else "n/a",
                "files": fmt_int(r["files_loaded"]),
                "duplicate": fmt_int(r["files_duplicate"]),
                "rejected": fmt_int(r["files_rejected"]),
                "balanced": rows_in == int(r["rows_loaded"] or 0) + int(r["rows_quarantined"] or 0),
            }
        )
    return {
        "entities": entities,
        "reasons": [
            {"entity": r["entity"], "reason": clip(r["reason"], 80), "rows": fmt_int(r["count_rows"])}
            for r in dq.get("quarantine_reasons", [])
        ],
        "files": [
            {
                "entity": r["entity"],
                "day": str(r["delivery_day"])[:10],
                "path": clip(r["path"], 80),
                "status": r["status"],
                "reason": clip(r["reason"], 120),
            }
            for r in dq.get("problem_files", [])[:40]
        ],
        "failed_runs": [
            {"entity": r["entity"], "day": str(r["delivery_day"])[:10], "error": clip(r["error"], 160)}
            for r in dq.get("failed_runs", [])
        ],
    }


# ---------------------------------------------------------------- the summary


def summary_sentences(
    tiles: list[dict],
    overall: dict,
    rising: list[dict],
    drivers: list[dict],
    retain: list[dict],
    alerts: list[dict],
    options: ReportOptions,
) -> list[str]:
    """Three to five plain sentences, each stating a number and, where one follows, what to do."""
    by = {t["kpi"]: t for t in tiles}
    sentences = []
    nps, responses = by["nps"], by["responses"]
    if overall and not _missing(overall.get("nps")) and not overall.get("is_suppressed"):
        ci = f"95% CI {fmt_num(overall.get('nps_ci_low'))} to {fmt_num(overall.get('nps_ci_high'))}"
        if nps["is_significant"]:
            size = nps["change"].lstrip("+\u2212")
            verdict = f"{'up' if nps['raw']['change'] > 0 else 'down'} {size} on last week, a significant change"
        elif not _missing(nps["raw"]["change"]):
            verdict = f"{nps['change']} on last week, within normal week-to-week variation"
        else:
            verdict = "with no week before it to compare"
        # The interval rests on the answers to the NPS question, which may be fewer than the responses.
        answered = overall.get("nps_n")
        base = f"{responses['value']} responses"
        if not _missing(answered) and fmt_int(answered) != responses["value"]:
            base = f"{fmt_int(answered)} answers of {base}"
        sentences.append(f"NPS was {nps['value']} ({ci}) from {base}, {verdict}.")
    elif overall and not overall.get("is_suppressed") and not _missing(overall.get("nps_n")):
        # Enough responses to publish the cell, but too few of them answered the NPS question.
        sentences.append(
            f"Only {fmt_int(overall['nps_n'])} of this week's {responses['value']} survey responses answered the "
            f"NPS question: too few to publish NPS (fewer than {options.min_n}). Check the question is still asked."
        )
    elif responses["value"] in ("0", "n/a"):
        sentences.append(
            "No survey responses came in this week, so there is no NPS, CSAT or CES to report. Check that every "
            "survey channel is still delivering (the data-quality appendix lists what arrived)."
        )
    else:
        sentences.append(
            f"Only {responses['value']} survey responses came in this week: too few to publish NPS (fewer than "
            f"{options.min_n}). Check that every survey channel is still delivering."
        )
    csat, ces = by["csat"], by["ces"]
    if csat["value"] != "n/a":
        moves = [t for t in (csat, ces) if t["is_significant"]]
        tail = (
            "; " + " and ".join(f"{t['label']} moved significantly ({t['change']})" for t in moves)
            if moves
            else "; neither moved significantly"
        )
        ces_text = (
            f"CES {ces['value']} out of 7" if ces["value"] != "n/a" else "CES was not asked or had too few answers"
        )
        sentences.append(f"CSAT was {csat['value']} and {ces_text}{tail}.")
    active, repeat, churn = by["active_customers"], by["repeat_rate"], by["churn_rate"]
    if active["value"] != "n/a":
        churn_note = (
            f"churn {'rose' if churn['raw']['change'] > 0 else 'fell'} significantly to {churn['value']}"
            if churn["is_significant"]
            else f"churn was {churn['value']}"
        )
        sentences.append(
            f"{active['value']} customers bought this week and {repeat['value']} of them had bought before; "
            f"{churn_note} (no purchase for {options.churn_days} days)."
        )
    if rising:
        top = rising[0]
        sentences.append(
            f"\u201c{top['term']}\u201d is the fastest-rising theme in comments: in {top['count']} of "
            f"{top['comments']} comments ({top['share']}, against {top['baseline_share']} over the "
            f"{options.baseline_weeks} weeks before the last {options.baseline_gap_weeks}). "
            "Read its verbatims in Themes and give it an owner."
        )
    actions = []
    fix_first = [d["label"] for d in drivers if d["quadrant"] == "Fix first"]
    if fix_first:
        actions.append(f"improve {', '.join(fix_first[:2])} (high importance, below-average scores)")
    if retain:
        who = "the customer" if len(retain) == 1 else f"the {len(retain)} customers"
        actions.append(f"call {who} on the RETAIN list, starting with {retain[0]['customer_id']}")
    high = [a for a in alerts if a["severity"] == "high"]
    if high:
        actions.append(f"review {len(high)} high-severity alert{'s' if len(high) > 1 else ''}")
    if actions:
        sentences.append("This week: " + "; ".join(actions) + ".")
    return sentences[:5]


# ---------------------------------------------------------------- the whole report


def build_report_context(
    frames: dict[str, pd.DataFrame],
    *,
    week: str,
    region: str | None,
    data_quality_counts: dict[str, list[dict]] | None,
    options: ReportOptions,
) -> dict[str, Any]:
    """Every value the templates show, for one edition (company-wide when ``region`` is None)."""
    empty = pd.DataFrame()

    def frame(name: str) -> pd.DataFrame:
        f = frames.get(name, empty)
        return f.loc[f["week"] == week].reset_index(drop=True) if len(f) and "week" in f.columns else empty

    satisfaction = frames.get("weekly_satisfaction", empty)
    retention = frames.get("weekly_retention", empty)
    overall = _overall(satisfaction, week)
    trend = (
        satisfaction.loc[(satisfaction["dimension"] == "overall") & (satisfaction["week"] <= week)]
        if len(satisfaction)
        else satisfaction
    )
    tiles = kpi_tiles(frames.get("weekly_kpi_tiles", empty), week)
    drivers = driver_rows(frame("key_drivers"))
    rising = _term_rows(frame("trending_terms"), "rising", options)
    falling = _term_rows(frame("trending_terms"), "falling", options)
    retain_all = retain_rows(frame("retain_list"), options)
    # Control customers are not called: the table teams read leaves them out; open cases are marked.
    retain_all, retain_held_out = mark_retain_rows(retain_all, frame("retain_list"), frame("weekly_cases"), week)
    alerts = alert_rows(frame("alerts"), options)
    persisting = persisting_rows(frame("persisting_terms"), options)
    completeness = completeness_note(frame("response_completeness"))
    published_before = frames.get("published_previous")
    restated = restatement_lines(frame("restatements"), published_before)
    survival_summary = frame("repurchase_by_nps_group")
    survival_weeks = (
        f"{survival_summary['first_response_week'].iloc[0]} \u2013 {survival_summary['last_response_week'].iloc[0]}"
        if len(survival_summary) and "first_response_week" in survival_summary.columns
        else ""
    )
    cohort_rows = frame("cohort_retention")
    retention_now = retention.loc[retention["week"] == week] if len(retention) else retention
    retention_row = retention_now.iloc[0].to_dict() if len(retention_now) else {}
    monday, sunday = parse_iso_week(week)
    edition = f"Region: {region}" if region is not None else "Company-wide"
    title = f"Weekly loyalty report {week}" + (f" \u2013 {region}" if region is not None else "")
    return {
        "meta": {
            "company": options.company,
            "week": week,
            "week_heading": week_heading(week),
            "region": region,
            "edition": edition,
            "title": title,
            # The report date is the Monday after the week: the same week renders the same, whenever it runs.
            "report_date": (sunday + dt.timedelta(days=1)).isoformat(),
            "currency": options.currency,
        },
        "kpis": tiles,
        "summary": summary_sentences(tiles, overall, rising, drivers, retain_all, alerts, options),
        "completeness": completeness,
        "restatements": restated,
        "published": published_figures(overall),
        "overall": {
            "responses": fmt_int(overall.get("responses")) if overall else "0",
            "comment_rate": fmt_pct(overall.get("comment_rate")) if overall else "n/a",
            "promoters": fmt_int(overall.get("promoters")) if overall else "n/a",
            "passives": fmt_int(overall.get("passives")) if overall else "n/a",
            "detractors": fmt_int(overall.get("detractors")) if overall else "n/a",
        },
        "trend_svg": charts.trend_chart(trend.tail(13) if len(trend) else trend),
        "segments": segment_tables(satisfaction, week, options),
        "drivers": drivers,
        "driver_svg": charts.driver_quadrant(frame("key_drivers")),
        "retention": {
            "new_customers": fmt_int(retention_row.get("new_customers")),
            "revenue": fmt_money(retention_row.get("revenue"), options.currency),
            "nrr": fmt_pct(retention_row.get("net_revenue_retention")),
            "nrr_text": nrr_text(retention_row, week, options.currency),
            "at_risk": fmt_int(retention_row.get("at_risk_customers")),
            "churned": fmt_int(retention_row.get("churned_customers")),
            "is_partial_week": bool(retention_row.get("is_partial_week")),
        },
        "cohort_svg": charts.cohort_heatmap(cohort_rows),
        "cohort_notes": {
            "existing": next(
                (str(c) for c in cohort_rows.get("cohort_month", pd.Series(dtype=str)) if not str(c)[:1].isdigit()), ""
            ),
            "partial": bool(cohort_rows["is_partial_month"].astype(bool).any())
            if "is_partial_month" in cohort_rows.columns
            else False,
        },
        "repurchase": repurchase_rows(survival_summary),
        "repurchase_weeks": survival_weeks,
        "repurchase_tests": repurchase_test_rows(frame("repurchase_tests")),
        "repurchase_svg": charts.repurchase_chart(frame("repurchase_survival")),
        "repurchase_cohorts": repurchase_cohort_rows(frame("repurchase_cohorts")),
        "themes": {
            "rising": rising,
            "persisting": persisting,
            "falling": falling,
            "details": theme_details(frame("term_verbatims"), frame("terms_by_nps_group"), options),
        },
        "retain": {
            "rows": retain_all,
            "total": len(retain_all),
            "pdf_rows": options.retain_rows_pdf,
            "held_out": retain_held_out,
        },
        "closing_loop": closing_loop_context(
            frame("weekly_cases"),
            frame("weekly_followup"),
            frame("outreach_effect"),
            frame("outreach_survival"),
            week=week,
            region=region,
        ),
        "alerts": alerts,
        "data_quality": data_quality(data_quality_counts) if data_quality_counts is not None else None,
        "methods": {
            "churn_days": options.churn_days,
            "baseline_weeks": options.baseline_weeks,
            "baseline_gap_weeks": options.baseline_gap_weeks,
            "mde": [{"label": t["label"], "mde": t["mde"], "n": t["n"]} for t in tiles if t["mde"]],
            "min_n": options.min_n,
            "small_n": options.small_n,
            "comment_chars": options.comment_chars,
            "currency": options.currency,
            "week_start": monday.isoformat(),
            "week_end": sunday.isoformat(),
        },
    }
