"""Weekly satisfaction metrics (ASK): NPS, CSAT, CES, the five service dimensions, volume, and
week-over-week change tests, overall and by channel, region and customer segment.

Owns the `weekly_satisfaction` frame: one row per ISO week x dimension x segment_value.

Definitions
- NPS = 100 * (promoters - detractors) / NPS answers; promoters score 9-10, detractors 0-6. 95% interval
  by adjusted-Wald (see analytics.stats.adjusted_wald_nps_interval), reported in NPS points.
- CSAT = share of CSAT answers scoring 4 or 5 (0-1 scale), Wilson interval.
- CES = mean CES answer (1-7), Student-t interval.
- Service dimensions: mean (1-5) and top-2-box share (answers 4-5) of each.
- comment_rate = share of responses with a non-blank comment.
- Missing region or segment is reported as segment_value "unknown", never dropped.
- Small samples, per metric: each of NPS, CSAT and CES rests on its own n (nps_n, csat_n, ces_n: the answers
  to that question, not the responses: comment cards often answer CSAT only). is_<metric>_suppressed when
  that n is below `min_n` (the metric is blanked), is_<metric>_small_sample when it is below `small_n`.
  The cell flags are kept: a cell with fewer than `min_n` responses is suppressed whole (every count and
  metric except `responses` blanked, is_suppressed = True, and every metric flagged suppressed);
  is_small_sample = fewer than `small_n` responses.
- Week-over-week: each cell is compared with the same cell in the previous ISO week (not the previous row
  present). NPS by the adjusted-Wald difference z-test, CSAT by the pooled two-proportion z-test.
  Benjamini-Hochberg runs per week and metric across every tested cell of that week (all dimensions
  together). Significant means q < alpha.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics._frames import (
    SERVICE_DIMENSIONS,
    has_text,
    is_detractor,
    is_promoter,
    labels_or_unknown,
    require_columns,
    scores,
)
from analytics.stats import (
    adjusted_wald_nps_interval,
    bh_qvalues,
    mean_t_interval,
    nps_difference_test,
    two_proportion_test,
    wilson_interval,
)
from analytics.weeks import iso_week_labels, shift_iso_week

__all__ = [
    "BREAKDOWNS",
    "WEEKLY_SATISFACTION_COLUMNS",
    "add_week_over_week_changes",
    "compute_weekly_satisfaction",
]

BREAKDOWNS = ("overall", "channel", "region", "segment")

_COUNT_COLUMNS = [
    "comments",
    "nps_n",
    "promoters",
    "passives",
    "detractors",
    "csat_n",
    "csat_satisfied",
    "ces_n",
]
_CELL_COLUMNS = [
    "week",
    "dimension",
    "segment_value",
    "responses",
    "comments",
    "comment_rate",
    "is_suppressed",
    "is_small_sample",
    "nps_n",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "nps_ci_low",
    "nps_ci_high",
    "csat_n",
    "csat_satisfied",
    "csat",
    "csat_ci_low",
    "csat_ci_high",
    "ces_n",
    "ces",
    "ces_ci_low",
    "ces_ci_high",
    *[f"{name}_{stat}" for name in SERVICE_DIMENSIONS for stat in ("mean", "top2")],
    *[f"is_{metric}_{flag}" for metric in ("nps", "csat", "ces") for flag in ("small_sample", "suppressed")],
]
_CHANGE_COLUMNS = [
    "previous_responses",
    "nps_previous",
    "nps_change",
    "nps_change_p",
    "nps_change_q",
    "is_nps_change_significant",
    "csat_previous",
    "csat_change",
    "csat_change_p",
    "csat_change_q",
    "is_csat_change_significant",
]
WEEKLY_SATISFACTION_COLUMNS = _CELL_COLUMNS + _CHANGE_COLUMNS

_RESPONSE_COLUMNS = ["business_day", "channel", "nps", "csat", "ces", "comment", "region", "segment"]


def compute_weekly_satisfaction(
    responses: pd.DataFrame, *, min_n: int = 5, small_n: int = 30, alpha: float = 0.05
) -> pd.DataFrame:
    """Return weekly_satisfaction: one row per ISO week x dimension x segment_value.

    dimension is one of overall / channel / region / segment; segment_value is "all" for overall.
    Columns are WEEKLY_SATISFACTION_COLUMNS; rows sorted by week, dimension (in BREAKDOWNS order),
    segment_value. Only cells with at least one response appear.
    """
    cells = _summarise_cells(responses, min_n=min_n, small_n=small_n, alpha=alpha)
    return add_week_over_week_changes(cells, alpha=alpha)


def _prepare(responses: pd.DataFrame) -> pd.DataFrame:
    require_columns(responses, _RESPONSE_COLUMNS + list(SERVICE_DIMENSIONS), "responses")
    if responses["business_day"].isna().any():
        raise ValueError("responses.business_day has missing values; every response needs a business day")
    nps = scores(responses, "nps", 0, 10)
    csat = scores(responses, "csat", 1, 5)
    columns: dict[str, pd.Series] = {
        "week": iso_week_labels(responses["business_day"]),
        "overall": pd.Series("all", index=responses.index, dtype="str"),
        "channel": labels_or_unknown(responses["channel"]),
        "region": labels_or_unknown(responses["region"]),
        "segment": labels_or_unknown(responses["segment"]),
        "comments": has_text(responses["comment"]),
        "nps_n": nps.notna(),
        "promoters": is_promoter(nps),
        "detractors": is_detractor(nps),
        "csat_n": csat.notna(),
        "csat_satisfied": csat >= 4,
        "ces": scores(responses, "ces", 1, 7),
    }
    for name in SERVICE_DIMENSIONS:
        values = scores(responses, name, 1, 5)
        columns[f"{name}_sum"] = values
        columns[f"{name}_n"] = values.notna()
        columns[f"{name}_top2"] = values >= 4
    return pd.DataFrame(columns, index=responses.index)


def overall_cells(
    responses: pd.DataFrame,
    *,
    groups: np.ndarray | None = None,
    min_n: int = 5,
    small_n: int = 30,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The "overall" cells of weekly_satisfaction (the cell columns, without week-over-week changes): what
    compute_weekly_satisfaction gives for them, for a caller that needs no breakdown (restatements).

    ``groups`` (one label per response): cells per label instead of per ISO week, in the ``week`` column; a
    cell is what the label's rows alone give (restatements ask for several versions of weeks in one call)."""
    return _summarise_cells(
        responses, min_n=min_n, small_n=small_n, alpha=alpha, breakdowns=("overall",), groups=groups
    )


def _summarise_cells(
    responses: pd.DataFrame,
    *,
    min_n: int,
    small_n: int,
    alpha: float,
    breakdowns: tuple[str, ...] = BREAKDOWNS,
    groups: np.ndarray | None = None,
) -> pd.DataFrame:
    prepared = _prepare(responses)
    if groups is not None:
        prepared["week"] = pd.Series(np.asarray(groups, dtype=object), index=prepared.index, dtype="str")
    sums = [
        "comments",
        "nps_n",
        "promoters",
        "detractors",
        "csat_n",
        "csat_satisfied",
        *[f"{name}_{stat}" for name in SERVICE_DIMENSIONS for stat in ("sum", "n", "top2")],
    ]
    parts = []
    for dimension in breakdowns:
        grouped = prepared.groupby(["week", dimension], sort=False, observed=True)
        part = grouped[sums].sum()
        part["responses"] = grouped.size()
        part["ces_n"] = grouped["ces"].count()
        part["ces"] = grouped["ces"].mean()
        part["ces_sd"] = grouped["ces"].std()
        part = part.reset_index().rename(columns={dimension: "segment_value"})
        part.insert(1, "dimension", dimension)
        parts.append(part)
    cells = pd.concat(parts, ignore_index=True)
    cells = _add_metrics(cells, min_n=min_n, alpha=alpha)
    cells = _apply_small_sample_rules(cells, min_n=min_n, small_n=small_n)
    order = pd.Categorical(cells["dimension"], categories=list(BREAKDOWNS), ordered=True)
    cells = cells.assign(_order=order).sort_values(["week", "_order", "segment_value"], kind="stable")
    return cells[_CELL_COLUMNS].reset_index(drop=True)


def _add_metrics(cells: pd.DataFrame, *, min_n: int, alpha: float) -> pd.DataFrame:
    cells = cells.copy()
    cells["passives"] = cells["nps_n"] - cells["promoters"] - cells["detractors"]
    cells["comment_rate"] = cells["comments"] / cells["responses"]

    nps_estimate, nps_low, nps_high = adjusted_wald_nps_interval(
        cells["promoters"], cells["detractors"], cells["nps_n"], alpha=alpha
    )
    cells["nps"], cells["nps_ci_low"], cells["nps_ci_high"] = (
        100 * nps_estimate,
        100 * nps_low,
        100 * nps_high,
    )

    with np.errstate(invalid="ignore", divide="ignore"):
        cells["csat"] = cells["csat_satisfied"] / cells["csat_n"].replace(0, np.nan)
    cells["csat_ci_low"], cells["csat_ci_high"] = wilson_interval(cells["csat_satisfied"], cells["csat_n"], alpha=alpha)
    cells["ces_ci_low"], cells["ces_ci_high"] = mean_t_interval(
        cells["ces"], cells["ces_sd"], cells["ces_n"], alpha=alpha
    )
    for name in SERVICE_DIMENSIONS:
        answered = cells[f"{name}_n"].replace(0, np.nan)
        cells[f"{name}_mean"] = cells[f"{name}_sum"] / answered
        cells[f"{name}_top2"] = cells[f"{name}_top2"] / answered

    # A metric resting on fewer than min_n answers is too noisy to publish even in a busy cell.
    metric_groups = {
        "nps_n": ["nps", "nps_ci_low", "nps_ci_high"],
        "csat_n": ["csat", "csat_ci_low", "csat_ci_high"],
        "ces_n": ["ces", "ces_ci_low", "ces_ci_high"],
        **{f"{name}_n": [f"{name}_mean", f"{name}_top2"] for name in SERVICE_DIMENSIONS},
    }
    for count_column, metric_columns in metric_groups.items():
        too_few = cells[count_column] < min_n
        cells.loc[too_few, metric_columns] = np.nan
    return cells


def _apply_small_sample_rules(cells: pd.DataFrame, *, min_n: int, small_n: int) -> pd.DataFrame:
    cells = cells.copy()
    suppressed = cells["responses"] < min_n
    cells["is_suppressed"] = suppressed.astype(bool)
    cells["is_small_sample"] = (cells["responses"] < small_n).astype(bool)
    cells["responses"] = cells["responses"].astype("int64")
    for column in _COUNT_COLUMNS:
        cells[column] = cells[column].astype("Int64").mask(suppressed)
    float_columns = [c for c in _CELL_COLUMNS if c not in {"week", "dimension", "segment_value", "responses"}]
    float_columns = [c for c in float_columns if c not in _COUNT_COLUMNS and not c.startswith("is_")]
    cells[float_columns] = cells[float_columns].astype("float64")
    cells.loc[suppressed, float_columns] = np.nan
    for metric in ("nps", "csat", "ces"):
        answers = cells[f"{metric}_n"].astype("float64").fillna(0)  # a suppressed cell's n is blank: 0 shown
        cells[f"is_{metric}_suppressed"] = (suppressed | (answers < min_n)).to_numpy()
        cells[f"is_{metric}_small_sample"] = (suppressed | (answers < small_n)).to_numpy()
    return cells


def add_week_over_week_changes(cells: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Return a copy of weekly satisfaction cells with week-over-week change tests added.

    Grain unchanged: one row per ISO week x dimension x segment_value. Each cell is compared with the same
    (dimension, segment_value) in the previous ISO week; changes are current minus previous (NPS in points,
    CSAT as a share). Cells without a publishable metric in either week get NaN change, p and q and a
    False significance flag. BH runs per week and metric across all tested cells of the week.
    """
    require_columns(cells, _CELL_COLUMNS, "weekly satisfaction cells")
    current = cells.drop(columns=[c for c in _CHANGE_COLUMNS if c in cells.columns])
    keys = ["week", "dimension", "segment_value"]
    compared = ["responses", "nps", "nps_n", "promoters", "detractors", "csat", "csat_n", "csat_satisfied"]
    previous = current[keys + compared]
    previous_week = {week: shift_iso_week(week, 1) for week in previous["week"].unique()}
    previous = previous.assign(week=previous["week"].map(previous_week)).add_prefix("prev_")
    previous = previous.rename(columns={f"prev_{key}": key for key in keys})
    merged = current.merge(previous, on=keys, how="left", validate="one_to_one")

    def floats(column: str) -> np.ndarray:
        return merged[column].astype("float64").to_numpy()

    nps_testable = np.isfinite(floats("nps")) & np.isfinite(floats("prev_nps"))
    _, nps_p = nps_difference_test(
        floats("prev_promoters"),
        floats("prev_detractors"),
        floats("prev_nps_n"),
        floats("promoters"),
        floats("detractors"),
        floats("nps_n"),
    )
    nps_p[~nps_testable] = np.nan

    csat_testable = np.isfinite(floats("csat")) & np.isfinite(floats("prev_csat"))
    _, csat_p = two_proportion_test(
        floats("prev_csat_satisfied"), floats("prev_csat_n"), floats("csat_satisfied"), floats("csat_n")
    )
    csat_p[~csat_testable] = np.nan

    out = current.copy()
    out["previous_responses"] = pd.array(merged["prev_responses"], dtype="Int64")
    out["nps_previous"] = floats("prev_nps")
    out["nps_change"] = np.where(nps_testable, floats("nps") - floats("prev_nps"), np.nan)
    out["nps_change_p"] = nps_p
    out["nps_change_q"] = _bh_by_week(out["week"], nps_p)
    out["is_nps_change_significant"] = (out["nps_change_q"] < alpha).to_numpy()
    out["csat_previous"] = floats("prev_csat")
    out["csat_change"] = np.where(csat_testable, floats("csat") - floats("prev_csat"), np.nan)
    out["csat_change_p"] = csat_p
    out["csat_change_q"] = _bh_by_week(out["week"], csat_p)
    out["is_csat_change_significant"] = (out["csat_change_q"] < alpha).to_numpy()
    return out[WEEKLY_SATISFACTION_COLUMNS].reset_index(drop=True)


def _bh_by_week(weeks: pd.Series, p_values: np.ndarray) -> np.ndarray:
    q_values = np.full(len(p_values), np.nan)
    for _, positions in pd.Series(np.arange(len(p_values))).groupby(weeks.to_numpy()).groups.items():
        index = np.asarray(positions)
        q_values[index] = bh_qvalues(p_values[index])
    return q_values
