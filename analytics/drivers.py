"""Key-driver analysis: how much each of the five service dimensions explains NPS, next to how well we
perform on it.

Owns the `key_drivers` frame: one row per ISO week x service dimension (the driver), computed over a
trailing window of weeks ending at that week.

Importance is Johnson's relative weights (Johnson 2000): the model R-squared of NPS on the five dimensions
split into non-negative shares that add up to R-squared even when the dimensions are correlated (they
always are). It is hand-rolled because neither statsmodels nor scikit-learn provides it; the recipe is a
few lines of linear algebra on the correlation matrix.

Uncertainty: each importance gets a 95% percentile bootstrap interval (rows resampled with replacement,
`bootstrap_samples` times, from a generator seeded by the week label so a week always gives the same
interval). top_share is the share of resamples in which the driver came out on top. When the top two
drivers' intervals overlap, is_tied_top is True on both: the report then calls them tied and names no
single winner (two weeks sharing 3 of 4 weeks' data swapped winners on noise). The resampling is
hand-rolled because scipy.stats.bootstrap gives an interval per statistic but not the rank of each driver
within the same resample, which top_share needs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics._frames import SERVICE_DIMENSIONS, require_columns, scores
from analytics.weeks import iso_week_labels, parse_iso_week, shift_iso_week

__all__ = [
    "KEY_DRIVER_COLUMNS",
    "compute_key_drivers",
    "relative_weights",
    "relative_weights_from_correlations",
]

KEY_DRIVER_COLUMNS = [
    "week",
    "window_start_week",
    "driver",
    "n",
    "r2",
    "raw_weight",
    "importance",
    "importance_rank",
    "mean",
    "top2_share",
    "is_estimable",
    "note",
    "importance_ci_low",
    "importance_ci_high",
    "top_share",
    "is_tied_top",
]

# Eigenvalues of the predictor correlation matrix below this (relative to the largest) mean two or more
# dimensions are (near-)exact linear copies of each other, so the split of R-squared is not identified.
_COLLINEARITY_TOLERANCE = 1e-8


def relative_weights(predictors: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, float]:
    """Johnson's relative weights of each predictor column for `outcome`; returns (raw_weights, r2).

    raw_weights are in R-squared units and sum to r2 (the OLS R-squared with an intercept). Divide by r2
    for shares. Raises ValueError for fewer than p + 2 rows, a constant column, or collinear predictors.
    """
    x = np.asarray(predictors, dtype="float64")
    y = np.asarray(outcome, dtype="float64")
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError("predictors must be 2-D (rows x predictors) and outcome 1-D with the same rows")
    rows, columns = x.shape
    if rows < columns + 2:
        raise ValueError(f"need at least {columns + 2} complete rows, got {rows}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("predictors and outcome must be finite (drop incomplete rows first)")
    if np.ptp(y) == 0 or (np.ptp(x, axis=0) == 0).any():
        raise ValueError("outcome and every predictor need some variance")
    correlations = np.corrcoef(np.column_stack([x, y]), rowvar=False)
    return relative_weights_from_correlations(correlations[:columns, :columns], correlations[:columns, columns])


def relative_weights_from_correlations(r_xx: np.ndarray, r_xy: np.ndarray) -> tuple[np.ndarray, float]:
    """Johnson's relative weights from the predictor correlation matrix r_xx and the predictor-outcome
    correlations r_xy; returns (raw_weights, r2). Raises ValueError when r_xx is (near-)singular.
    """
    r_xx = np.asarray(r_xx, dtype="float64")
    r_xy = np.asarray(r_xy, dtype="float64")
    eigenvalues, eigenvectors = np.linalg.eigh(r_xx)
    if eigenvalues.min() <= _COLLINEARITY_TOLERANCE * eigenvalues.max():
        raise ValueError("predictors are collinear")
    # Lambda = R_xx^(1/2) holds the loadings of each predictor on its closest orthogonal counterpart Z.
    loadings = eigenvectors @ np.diag(np.sqrt(eigenvalues)) @ eigenvectors.T
    beta = np.linalg.solve(loadings, r_xy)  # standardised coefficients of y on Z (Z is orthonormal)
    raw_weights = (loadings**2) @ (beta**2)
    return raw_weights, float(beta @ beta)


def compute_key_drivers(
    responses: pd.DataFrame,
    *,
    window_weeks: int = 1,
    min_rows: int = 30,
    weeks: list[str] | None = None,
    bootstrap_samples: int = 200,
) -> pd.DataFrame:
    """Return key_drivers: one row per ISO week x driver (reliability, responsiveness, assurance,
    empathy, tangibles), computed over the `window_weeks` weeks ending at that week.

    Uses responses with NPS and all five dimensions answered (listwise deletion); `n` counts them, and
    `mean` / `top2_share` (performance) are over those same responses so importance and performance
    describe the same people. `importance` is the share of R-squared (sums to 1 within a week) and
    `importance_rank` 1 is the strongest driver. When a window has fewer than `min_rows` complete
    responses, a constant NPS or dimension, or collinear dimensions, the weights are NaN,
    is_estimable is False and `note` says why (performance is still reported).
    `weeks` defaults to every week with at least one response. Rows sorted by week, then driver order.
    """
    if window_weeks < 1:
        raise ValueError(f"window_weeks must be >= 1, got {window_weeks}")
    require_columns(responses, ["business_day", "nps", *SERVICE_DIMENSIONS], "responses")
    complete = pd.DataFrame(
        {name: scores(responses, name, 1, 5) for name in SERVICE_DIMENSIONS} | {"nps": scores(responses, "nps", 0, 10)},
        index=responses.index,
    )
    complete["week"] = iso_week_labels(responses["business_day"])
    if weeks is None:
        weeks = sorted(complete["week"].dropna().unique().tolist())
    complete = complete.dropna()
    for week in weeks:
        parse_iso_week(week)

    rows = []
    for week in sorted(weeks):
        start = shift_iso_week(week, -(window_weeks - 1))
        in_window = complete[(complete["week"] >= start) & (complete["week"] <= week)]
        rows.append(_drivers_for_window(week, start, in_window, min_rows=min_rows, samples=bootstrap_samples))
    if not rows:
        return pd.DataFrame({column: pd.Series(dtype="object") for column in KEY_DRIVER_COLUMNS})
    return pd.concat(rows, ignore_index=True)[KEY_DRIVER_COLUMNS]


def _drivers_for_window(week: str, start: str, window: pd.DataFrame, *, min_rows: int, samples: int) -> pd.DataFrame:
    x = window[list(SERVICE_DIMENSIONS)].to_numpy(dtype="float64")
    y = window["nps"].to_numpy(dtype="float64")
    n = len(window)
    raw = np.full(len(SERVICE_DIMENSIONS), np.nan)
    r2 = np.nan
    note = _why_not_estimable(x, y, min_rows=min_rows)
    if note is None:
        try:
            raw, r2 = relative_weights(x, y)
        except ValueError:
            note = "collinear"
    estimable = note is None
    importance = raw / r2 if estimable and r2 > 0 else np.full(len(SERVICE_DIMENSIONS), np.nan)
    ranks = pd.Series(importance).rank(ascending=False, method="min").astype("Int64")
    low, high, top_share = _bootstrap(x, y, week=week, samples=samples) if estimable else (None, None, None)
    k = len(SERVICE_DIMENSIONS)
    low = np.full(k, np.nan) if low is None else low
    high = np.full(k, np.nan) if high is None else high
    top_share = np.full(k, np.nan) if top_share is None else top_share
    tied = np.zeros(k, dtype=bool)
    if estimable and np.isfinite(importance).all() and np.isfinite(low).all():
        first, second = np.argsort(-importance, kind="stable")[:2]
        if high[second] >= low[first]:
            tied[[first, second]] = True
    with np.errstate(invalid="ignore"):
        means = x.mean(axis=0) if n else np.full(len(SERVICE_DIMENSIONS), np.nan)
        top2 = (x >= 4).mean(axis=0) if n else np.full(len(SERVICE_DIMENSIONS), np.nan)
    return pd.DataFrame(
        {
            "week": week,
            "window_start_week": start,
            "driver": list(SERVICE_DIMENSIONS),
            "n": n,
            "r2": r2,
            "raw_weight": raw,
            "importance": importance,
            "importance_rank": ranks.array,
            "mean": means,
            "top2_share": top2,
            "is_estimable": estimable,
            "note": note,
            "importance_ci_low": low,
            "importance_ci_high": high,
            "top_share": top_share,
            "is_tied_top": tied,
        }
    )


def _bootstrap(
    x: np.ndarray, y: np.ndarray, *, week: str, samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | tuple[None, None, None]:
    """95% percentile intervals of each importance share and the share of resamples each driver tops."""
    if samples < 1:
        return None, None, None
    seed = int(week.replace("-W", ""))  # the week label: the same week always draws the same resamples
    rng = np.random.default_rng(seed)
    n = len(y)
    shares = []
    for _ in range(samples):
        pick = rng.integers(0, n, n)
        try:
            raw, r2 = relative_weights(x[pick], y[pick])
        except ValueError:  # a resample with a constant column: no estimate, skip it
            continue
        if r2 > 0:
            shares.append(raw / r2)
    if len(shares) < max(10, samples // 2):
        return None, None, None
    table = np.vstack(shares)
    low, high = np.percentile(table, [2.5, 97.5], axis=0)
    top_share = np.bincount(table.argmax(axis=1), minlength=x.shape[1]) / len(table)
    return low, high, top_share


def _why_not_estimable(x: np.ndarray, y: np.ndarray, *, min_rows: int) -> str | None:
    if len(y) < max(min_rows, x.shape[1] + 2):
        return "too_few_rows"
    if np.ptp(y) == 0:
        return "zero_variance:nps"
    constant = [name for name, spread in zip(SERVICE_DIMENSIONS, np.ptp(x, axis=0), strict=True) if spread == 0]
    if constant:
        return "zero_variance:" + ",".join(constant)
    return None
