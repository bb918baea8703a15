"""The week's KPI tiles: each headline figure with its week-over-week change, a significance test and n.

Owns the `kpi_tiles` frame: one row per KPI (nps, csat, ces, responses, active_customers, repeat_rate,
churn_rate) of one ISO week, compared with the previous ISO week.

Tests
- NPS and CSAT reuse the tests of the weekly_satisfaction frame (adjusted-Wald difference and pooled
  two-proportion z-tests, Benjamini-Hochberg across that week's cells), so the tiles agree with the alerts.
- CES: Welch's t-test from the two weeks' means, standard deviations and n (scipy). The stored frame keeps
  the 95% t-interval rather than the standard deviation, so the sd is recovered from the interval's width.
- responses and active customers are counts: an exact conditional Poisson test that the two weeks' rates
  are equal (statsmodels `test_poisson_2indep`, method "exact-cond").
- repeat rate (repeat / active customers) and churn rate (churned / at-risk customers): two-proportion
  z-tests (statsmodels `proportions_ztest`).
- These five p-values get Benjamini-Hochberg q-values among themselves; significant means q < alpha.
Minimum detectable change (`mde`): the smallest true week-over-week change the tile's test would detect
with 80% power at alpha 0.05 (two-sided), given this week's and last week's n (this week's twice when last
week has none): mde = d x sigma, where d is the standardised effect statsmodels' NormalIndPower solves for
at those sample sizes and sigma the per-answer standard deviation of the metric (pooled over both weeks).
NPS: sigma = sqrt(pP + pD - (pP - pD)^2) x 100 points; CSAT, repeat and churn rate: sqrt(p (1 - p)); CES:
the pooled standard deviation; counts: sqrt(count) per week (Poisson). A change smaller than the mde
that is "not significant" says nothing about stability: the test could not have seen it.
`direction` says whether a rise is good ("higher") or bad ("lower": churn) for the business. CES asks "How
easy was it to get what you needed?" (1-7), so a higher CES is better.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from analytics.parameters import KPI_COLUMNS, KPI_ORDER
from analytics.weeks import shift_iso_week

# scipy and statsmodels are imported inside the functions that run the tests, so that importing this module
# (the report's KPI tiles) stays light.

__all__ = ["KPI_COLUMNS", "KPI_ORDER", "compute_kpi_tiles"]


def _row(frame: pd.DataFrame | None, week: str, **match: str) -> dict:
    if frame is None or frame.empty:
        return {}
    mask = frame["week"] == week
    for column, value in match.items():
        mask &= frame[column] == value
    rows = frame.loc[mask]
    return rows.iloc[0].to_dict() if len(rows) else {}


def _num(row: dict, key: str) -> float | None:
    value = row.get(key)
    if value is None or value is pd.NA:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _ces_welch(now: dict, before: dict) -> float | None:
    """Welch's t-test p-value of the two weeks' mean CES, or None without enough answers."""

    from scipy import stats as scipy_stats

    def moments(row: dict) -> tuple[float, float, float] | None:
        mean, low, high, n = (_num(row, k) for k in ("ces", "ces_ci_low", "ces_ci_high", "ces_n"))
        if None in (mean, low, high, n) or n < 2:  # type: ignore[operator]
            return None
        # The stored interval is mean +/- t(0.975, n-1) * sd / sqrt(n); invert it for the sd.
        sd = (high - low) / 2 * math.sqrt(n) / scipy_stats.t.ppf(0.975, n - 1)  # type: ignore[operator, arg-type]
        return mean, sd, n  # type: ignore[return-value]

    a, b = moments(now), moments(before)
    if a is None or b is None or (a[1] == 0 and b[1] == 0):
        return None
    result = scipy_stats.ttest_ind_from_stats(a[0], a[1], a[2], b[0], b[1], b[2], equal_var=False)
    return None if math.isnan(result.pvalue) else float(result.pvalue)


def _poisson(count_now: float | None, count_before: float | None) -> float | None:
    if count_now is None or count_before is None or count_now + count_before == 0:
        return None
    from statsmodels.stats.rates import test_poisson_2indep

    result = test_poisson_2indep(int(count_now), 1.0, int(count_before), 1.0, method="exact-cond")
    return float(result.pvalue)


def _proportions(hits_now, n_now, hits_before, n_before) -> float | None:  # type: ignore[no-untyped-def]
    if None in (hits_now, n_now, hits_before, n_before) or min(n_now, n_before) <= 0:
        return None
    pooled = (hits_now + hits_before) / (n_now + n_before)
    if pooled in (0.0, 1.0):  # both weeks all or nothing: no variance, nothing to test
        return None
    from statsmodels.stats.proportion import proportions_ztest

    _, p = proportions_ztest(np.array([hits_now, hits_before]), np.array([n_now, n_before]))
    return float(p)


def standardised_mde(
    n_now: float | None, n_before: float | None, *, alpha: float = 0.05, power: float = 0.8
) -> float | None:
    """The effect size d (in per-answer standard deviations) a two-sample z-test detects with `power`."""
    if n_now is None or n_now < 1:
        return None
    n_before = n_now if n_before is None or n_before < 1 else n_before
    return _solved_mde(float(n_now), float(n_before), alpha, power)


@functools.lru_cache(maxsize=4096)
def _solved_mde(n_now: float, n_before: float, alpha: float, power: float) -> float:
    """statsmodels' power solve (a root search, 25 ms): the same counts recur across tiles and weeks."""
    from statsmodels.stats.power import NormalIndPower

    d = NormalIndPower().solve_power(
        effect_size=None, nobs1=n_now, alpha=alpha, power=power, ratio=n_before / n_now, alternative="two-sided"
    )
    return float(d)


def _share_sigma(hits: list[float | None], n: list[float | None]) -> float | None:
    pairs = [(h, m) for h, m in zip(hits, n, strict=True) if h is not None and m]
    if not pairs:
        return None
    p = sum(h for h, _ in pairs) / sum(m for _, m in pairs)
    return math.sqrt(p * (1 - p))


def _minimum_detectable_changes(sat_now: dict, sat_before: dict, ret_now: dict, ret_before: dict, alpha: float) -> dict:
    from scipy import stats as scipy_stats

    def d(row_now: dict, row_before: dict, key: str) -> float | None:
        return standardised_mde(_num(row_now, key), _num(row_before, key), alpha=alpha)

    out: dict[str, float | None] = {}
    # NPS: each answer scores +1 (promoter), 0 or -1 (detractor); its variance is pP + pD - (pP - pD)^2.
    answers = [r for r in (sat_now, sat_before) if _num(r, "nps_n") and _num(r, "promoters") is not None]
    if answers and (dn := d(sat_now, sat_before, "nps_n")) is not None:
        total = sum(_num(r, "nps_n") for r in answers)  # type: ignore[misc]
        p_p = sum(_num(r, "promoters") for r in answers) / total  # type: ignore[misc]
        p_d = sum(_num(r, "detractors") or 0.0 for r in answers) / total
        out["nps"] = dn * math.sqrt(max(p_p + p_d - (p_p - p_d) ** 2, 0.0)) * 100
    sigma = _share_sigma(
        [_num(sat_now, "csat_satisfied"), _num(sat_before, "csat_satisfied")],
        [_num(sat_now, "csat_n"), _num(sat_before, "csat_n")],
    )
    if sigma is None and _num(sat_now, "csat") is not None:  # stored share without the count
        sigma = math.sqrt(_num(sat_now, "csat") * (1 - _num(sat_now, "csat")))  # type: ignore[operator]
    if sigma is not None and (dc := d(sat_now, sat_before, "csat_n")) is not None:
        out["csat"] = dc * sigma
    mean, low, high, n = (_num(sat_now, k) for k in ("ces", "ces_ci_low", "ces_ci_high", "ces_n"))
    if (
        mean is not None
        and low is not None
        and high is not None
        and n is not None
        and n >= 2
        and (de := d(sat_now, sat_before, "ces_n")) is not None
    ):
        sd = (high - low) / 2 * math.sqrt(n) / scipy_stats.t.ppf(0.975, n - 1)
        out["ces"] = de * sd
    # Counts: a week's count is Poisson, so its sd is sqrt(count); one "observation" per week.
    for kpi, row_now, key in (("responses", sat_now, "responses"), ("active_customers", ret_now, "active_customers")):
        value = _num(row_now, key)
        if value:
            out[kpi] = standardised_mde(1, 1, alpha=alpha) * math.sqrt(value)  # type: ignore[operator]
    for kpi, hits, base in (
        ("repeat_rate", "repeat_customers", "active_customers"),
        ("churn_rate", "churned_customers", "at_risk_customers"),
    ):
        sigma = _share_sigma(
            [_num(ret_now, hits), _num(ret_before, hits)], [_num(ret_now, base), _num(ret_before, base)]
        )
        if sigma is not None and (dr := d(ret_now, ret_before, base)) is not None:
            out[kpi] = dr * sigma
    return out


def compute_kpi_tiles(
    week: str,
    weekly_satisfaction: pd.DataFrame,
    weekly_retention: pd.DataFrame,
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """One row per KPI of ``week`` (see KPI_COLUMNS), from the overall satisfaction cell and the retention row.

    Missing figures are NaN; a change or test that cannot be worked out is NaN with is_significant False.
    """
    previous = shift_iso_week(week, -1)
    sat_now = _row(weekly_satisfaction, week, dimension="overall")
    sat_before = _row(weekly_satisfaction, previous, dimension="overall")
    ret_now = _row(weekly_retention, week)
    ret_before = _row(weekly_retention, previous)

    def pair(row_now: dict, row_before: dict, key: str) -> tuple[float | None, float | None]:
        return _num(row_now, key), _num(row_before, key)

    values = {
        "nps": pair(sat_now, sat_before, "nps"),
        "csat": pair(sat_now, sat_before, "csat"),
        "ces": pair(sat_now, sat_before, "ces"),
        # No overall cell this week means no responses came in. A missing cell last week cannot be told apart
        # from a week outside the loaded frame (first week of data), so it gives no comparison, not "up from 0".
        "responses": (_num(sat_now, "responses") or 0.0, _num(sat_before, "responses")),
        "active_customers": pair(ret_now, ret_before, "active_customers"),
        "repeat_rate": pair(ret_now, ret_before, "repeat_rate"),
        "churn_rate": pair(ret_now, ret_before, "churn_rate"),
    }
    n = {
        "nps": _num(sat_now, "nps_n"),
        "csat": _num(sat_now, "csat_n"),
        "ces": _num(sat_now, "ces_n"),
        "responses": values["responses"][0],
        "active_customers": values["active_customers"][0],
        "repeat_rate": _num(ret_now, "active_customers"),
        "churn_rate": _num(ret_now, "at_risk_customers"),
    }
    tests: dict[str, tuple[str, float | None]] = {
        "ces": ("Welch t-test", _ces_welch(sat_now, sat_before)),
        "responses": ("exact Poisson test", _poisson(*values["responses"])),
        "active_customers": ("exact Poisson test", _poisson(*values["active_customers"])),
        "repeat_rate": (
            "two-proportion z-test",
            _proportions(
                _num(ret_now, "repeat_customers"),
                _num(ret_now, "active_customers"),
                _num(ret_before, "repeat_customers"),
                _num(ret_before, "active_customers"),
            ),
        ),
        "churn_rate": (
            "two-proportion z-test",
            _proportions(
                _num(ret_now, "churned_customers"),
                _num(ret_now, "at_risk_customers"),
                _num(ret_before, "churned_customers"),
                _num(ret_before, "at_risk_customers"),
            ),
        ),
    }
    mde = _minimum_detectable_changes(sat_now, sat_before, ret_now, ret_before, alpha)
    own = [k for k, (_, p) in tests.items() if p is not None]
    from analytics.stats import bh_qvalues

    q_own = dict(zip(own, bh_qvalues(np.array([tests[k][1] for k in own], dtype=float)), strict=True)) if own else {}

    rows = []
    for kpi, label, direction, unit in KPI_ORDER:
        now, before = values[kpi]
        change = now - before if now is not None and before is not None else None
        if kpi in ("nps", "csat"):
            test = "adjusted-Wald z-test" if kpi == "nps" else "two-proportion z-test"
            p, q = _num(sat_now, f"{kpi}_change_p"), _num(sat_now, f"{kpi}_change_q")
            significant = bool(sat_now.get(f"is_{kpi}_change_significant")) if q is not None else False
        else:
            test, p = tests[kpi]
            q = q_own.get(kpi)
            significant = q is not None and q < alpha
        rows.append(
            {
                "kpi": kpi,
                "label": label,
                "value": now,
                "previous": before,
                "change": change,
                "p_value": p,
                "q_value": None if q is None else float(q),
                "is_significant": bool(significant and change is not None),
                "test": test,
                "n": None if (count := n[kpi]) is None else int(count),
                "direction": direction,
                "unit": unit,
                "mde": mde.get(kpi),
            }
        )
    frame = pd.DataFrame(rows, columns=KPI_COLUMNS)
    for column in ("value", "previous", "change", "p_value", "q_value", "mde"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["n"] = frame["n"].astype("Int64")
    return frame
