"""Satisfaction linked to retention: do detractors stop buying, and how soon do customers buy again?

Owns four frames, all for one reported ISO week W (as of its Sunday):
- repurchase_survival: one row per NPS group (detractor, passive, promoter, all) x day 0..window_days of the
  Kaplan-Meier curve "share not yet bought again" after answering.
- repurchase_by_nps_group: one row per NPS group: the curve's summary (respondents, repurchases seen,
  censored, median days, share bought again by 30/60/90 days with a 95% interval) and the response weeks
  it covers.
- repurchase_tests: one row per log-rank comparison (all_groups, detractor_vs_promoter).
- repurchase_cohorts: one row per response-week cohort x NPS group: share who bought again within
  window_days, for the latest `cohort_weeks` response weeks whose window has fully elapsed by W's Sunday.

Definitions
- A respondent is a customer with a customer_id who gave an NPS score. Each customer counts once per curve
  (or cohort), through their most recent response in its response weeks (latest submitted_at, ties by
  highest response_id), so the groups are independent samples as the tests assume.
- Time to next purchase: from submitted_at to the first purchase (amount > 0) strictly after it, in days.
  Comparing timestamps rather than days matters: surveys are often sent right after a purchase, and that
  triggering purchase must not count as buying again.
- Right-censoring: a respondent who has not bought again by the end of W's Sunday (Monday 00:00 in the business
  time zone, where the week's rows end) is censored there;
  follow-up also stops at window_days. Kaplan-Meier (statsmodels SurvfuncRight) uses every respondent for
  as long as they were followed, so recent answers count without waiting 90 days; the log-rank test
  (statsmodels survdiff) compares the whole curves.
- The curve covers responses from the `response_weeks` ISO weeks ending with W (first_response_week ..
  last_response_week say which). Replaces the earlier "repurchase within 90 days" table, which could only
  use responses at least 90 days old and summed months of respondents under the reported week's label.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from analytics._frames import NPS_GROUPS, nps_group, nps_scores, once_per_batch, purchases_only, require_columns
from analytics.stats import wilson_interval
from analytics.weeks import (
    MISSING_DAY,
    day_number,
    day_numbers_of,
    iso_week_labels,
    parse_iso_week,
    previous_iso_weeks,
    shift_iso_week,
)

__all__ = [
    "NPS_GROUPS",
    "REPURCHASE_COHORT_COLUMNS",
    "REPURCHASE_COLUMNS",
    "REPURCHASE_SURVIVAL_COLUMNS",
    "REPURCHASE_TEST_COLUMNS",
    "compute_repurchase_cohorts",
    "compute_time_to_repurchase",
    "nps_group",
]

_CURVE_GROUPS = (*NPS_GROUPS, "all")
REPURCHASE_SURVIVAL_COLUMNS = ["nps_group", "day", "at_risk", "survival", "ci_low", "ci_high"]
REPURCHASE_COLUMNS = [
    "nps_group",
    "first_response_week",
    "last_response_week",
    "respondents",
    "repurchasers",
    "censored",
    "median_days",
    "repurchased_30d",
    "repurchased_60d",
    "repurchased_90d",
    "repurchased_90d_ci_low",
    "repurchased_90d_ci_high",
    "window_days",
    "as_of",
]
REPURCHASE_TEST_COLUMNS = [
    "comparison",
    "test",
    "statistic",
    "dof",
    "p_value",
    "is_significant",
    "first_response_week",
    "last_response_week",
]
REPURCHASE_COHORT_COLUMNS = [
    "response_week",
    "nps_group",
    "respondents",
    "repurchasers",
    "repurchase_rate",
    "ci_low",
    "ci_high",
    "window_days",
]


def _scored(responses: pd.DataFrame) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Each response's NPS, ISO week, and whether it is an identified customer's scored answer."""
    nps = nps_scores(responses)
    return nps, iso_week_labels(responses["business_day"]), (responses["customer_id"].notna() & nps.notna()).to_numpy()


def _respondents(responses: pd.DataFrame, weeks: list[str], *, per_week: bool = False) -> pd.DataFrame:
    """The latest NPS response of each identified customer within ``weeks`` (``per_week``: within each of
    them, one row per customer and week, in the same order within a week)."""
    require_columns(responses, ["response_id", "customer_id", "submitted_at", "business_day", "nps"], "responses")
    # The same for every week of a batch: derived once.
    nps, week, identified = once_per_batch("respondent columns", responses, lambda: _scored(responses))
    eligible = identified & week.isin(weeks).to_numpy()
    picked = pd.DataFrame(
        {
            "response_id": responses.loc[eligible, "response_id"].astype("str"),
            "customer_id": responses.loc[eligible, "customer_id"].astype("str"),
            "submitted_at": pd.to_datetime(responses.loc[eligible, "submitted_at"], utc=True).dt.as_unit("ns"),
            "response_week": week[eligible],
            "nps_group": nps_group(nps[eligible]),
        }
    )
    picked = picked.sort_values(["customer_id", "submitted_at", "response_id"], kind="stable")
    key = ["customer_id", "response_week"] if per_week else "customer_id"
    return picked.drop_duplicates(key, keep="last").reset_index(drop=True)


def compute_time_to_repurchase(
    responses: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    week: str,
    response_weeks: int = 13,
    window_days: int = 90,
    alpha: float = 0.05,
    business_tz: str,
) -> dict[str, pd.DataFrame]:
    """Kaplan-Meier time to next purchase by NPS group for responses of the `response_weeks` weeks ending
    with `week`, followed up to the end of `week`'s Sunday. Returns {"repurchase_survival",
    "repurchase_by_nps_group", "repurchase_tests"} (see the module docstring).

    Transactions after the Sunday are ignored. Groups without respondents keep their summary row with zero
    counts and NaN shares and have no curve. The log-rank tests are NaN when a group they need is empty.
    """
    require_columns(transactions, ["customer_id", "occurred_at", "business_day", "amount"], "transactions")
    sunday = parse_iso_week(week)[1]
    weeks = [*previous_iso_weeks(week, response_weeks - 1), week]
    respondents = _respondents(responses, weeks)
    # The business day's end, not UTC's: a purchase on Sunday 21:00 in New York is a Sunday row (01:00 UTC on
    # Monday) and counts in W; one at Monday 00:00 business time is a Monday row and does not.
    follow_up_end = pd.Timestamp(dt.datetime.combine(sunday + dt.timedelta(days=1), dt.time()), tz=business_tz)
    next_at = _next_purchase_at(respondents, transactions, through=sunday)
    elapsed = (next_at - respondents["submitted_at"]).dt.total_seconds().to_numpy() / 86400
    followed = np.clip((follow_up_end - respondents["submitted_at"]).dt.total_seconds().to_numpy() / 86400, 0, None)
    seen = (next_at < follow_up_end).to_numpy()  # a row at the end instant is the next week's
    bought = np.isfinite(elapsed) & seen & (elapsed <= np.minimum(followed, window_days))
    time = np.where(bought, elapsed, np.minimum(followed, window_days))
    status = bought.astype(int)
    groups = respondents["nps_group"].to_numpy(dtype=object)
    first, last = weeks[0], weeks[-1]

    curves, summary = [], []
    for group in _CURVE_GROUPS:
        mask = np.ones(len(groups), dtype=bool) if group == "all" else groups == group
        curve, row = _kaplan_meier(time[mask], status[mask], window_days=window_days, alpha=alpha)
        if curve is not None:
            curves.append(curve.assign(nps_group=group))
        summary.append(
            {
                "nps_group": group,
                "first_response_week": first,
                "last_response_week": last,
                "respondents": int(mask.sum()),
                "repurchasers": int(status[mask].sum()),
                "censored": int(mask.sum() - status[mask].sum()),
                **row,
                "window_days": window_days,
                "as_of": sunday,
            }
        )
    curve_frame = (
        pd.concat(curves, ignore_index=True)[REPURCHASE_SURVIVAL_COLUMNS]
        if curves
        else pd.DataFrame({c: pd.Series(dtype="object") for c in REPURCHASE_SURVIVAL_COLUMNS})
    )
    summary_frame = pd.DataFrame(summary)
    for column in ("respondents", "repurchasers", "censored"):
        summary_frame[column] = summary_frame[column].astype(np.int64)
    tests = _log_rank_tests(time, status, groups, alpha=alpha).assign(
        first_response_week=first, last_response_week=last
    )
    return {
        "repurchase_survival": curve_frame,
        "repurchase_by_nps_group": summary_frame[REPURCHASE_COLUMNS],
        "repurchase_tests": tests[REPURCHASE_TEST_COLUMNS],
    }


def _kaplan_meier(
    time: np.ndarray, status: np.ndarray, *, window_days: int, alpha: float
) -> tuple[pd.DataFrame | None, dict]:
    empty = {
        "median_days": np.nan,
        "repurchased_30d": np.nan,
        "repurchased_60d": np.nan,
        "repurchased_90d": np.nan,
        "repurchased_90d_ci_low": np.nan,
        "repurchased_90d_ci_high": np.nan,
    }
    if len(time) == 0:
        return None, empty
    days = np.arange(window_days + 1)
    at_risk = np.array([(time >= day).sum() for day in days], dtype=np.int64)
    if status.sum() == 0:  # nobody bought again yet: S = 1 throughout, no variance to estimate
        ones = np.ones(len(days))
        curve = pd.DataFrame({"day": days, "at_risk": at_risk, "survival": ones, "ci_low": ones, "ci_high": ones})
        return curve, {**empty, "repurchased_30d": 0.0, "repurchased_60d": 0.0, "repurchased_90d": 0.0}
    fit = SurvfuncRight(time, status)
    # Step function: S(d) is the estimate at the last event time <= d.
    position = np.searchsorted(fit.surv_times, days, side="right") - 1
    survival = np.where(position >= 0, fit.surv_prob[np.clip(position, 0, None)], 1.0)
    se = np.where(position >= 0, fit.surv_prob_se[np.clip(position, 0, None)], 0.0)
    # Pointwise log(-log) interval (statsmodels gives the Greenwood standard error, not the interval): it stays
    # inside [0, 1], unlike S +/- z*se.
    z = float(scipy_stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_log_se = se / (survival * np.abs(np.log(survival)))
        low = survival ** np.exp(z * log_log_se)
        high = survival ** np.exp(-z * log_log_se)
    defined = (survival > 0) & (survival < 1) & np.isfinite(log_log_se)
    low = np.where(defined, low, survival)
    high = np.where(defined, high, survival)
    curve = pd.DataFrame({"day": days, "at_risk": at_risk, "survival": survival, "ci_low": low, "ci_high": high})
    median = fit.quantile(0.5)
    last = min(window_days, len(days) - 1)
    row = {
        "median_days": float(median) if np.isfinite(median) else np.nan,
        "repurchased_30d": 1 - survival[min(30, last)],
        "repurchased_60d": 1 - survival[min(60, last)],
        "repurchased_90d": 1 - survival[last],
        "repurchased_90d_ci_low": 1 - high[last],
        "repurchased_90d_ci_high": 1 - low[last],
    }
    return curve, row


def _log_rank_tests(time: np.ndarray, status: np.ndarray, groups: np.ndarray, *, alpha: float) -> pd.DataFrame:
    rows = []
    for comparison, members in (("all_groups", NPS_GROUPS), ("detractor_vs_promoter", ("detractor", "promoter"))):
        mask = np.isin(groups, members)
        present = sorted(set(groups[mask]))
        statistic, p_value, dof = np.nan, np.nan, np.nan
        if len(present) == len(members) and status[mask].sum() > 0:
            try:
                statistic, p_value = survdiff(time[mask], status[mask], groups[mask])
                dof = float(len(present) - 1)
            except np.linalg.LinAlgError:
                # A singular variance matrix (e.g. every purchase at times when only one group was still
                # followed): the test is undefined here, so it is reported as missing, never as a p-value.
                statistic, p_value = np.nan, np.nan
        rows.append(
            {
                "comparison": comparison,
                "test": "log-rank",
                "statistic": float(statistic),
                "dof": dof,
                "p_value": float(p_value),
                "is_significant": bool(p_value < alpha),
            }
        )
    return pd.DataFrame(rows)


def compute_repurchase_cohorts(
    responses: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    week: str,
    cohort_weeks: int = 13,
    window_days: int = 90,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Return repurchase_cohorts: for each of the latest `cohort_weeks` response weeks whose window has fully
    elapsed by `week`'s Sunday (its own Sunday + window_days <= that Sunday), one row per NPS group and "all":
    respondents (each customer once per cohort, latest response of that week), repurchasers (a purchase
    strictly after the response and at most window_days after it), the rate and its Wilson interval.
    Rows sorted by response_week, then detractor, passive, promoter, all.
    """
    sunday = parse_iso_week(week)[1]
    last = week
    while parse_iso_week(last)[1] + dt.timedelta(days=window_days) > sunday:
        last = shift_iso_week(last, -1)
    cohort_labels = [*previous_iso_weeks(last, cohort_weeks - 1), last]
    # Every cohort's respondents and purchases at once: each response's next purchase is its own.
    everyone = _respondents(responses, cohort_labels, per_week=True)
    everyone = everyone.assign(
        repurchased=_repurchased(everyone, transactions, window_days=window_days, through=sunday)
    )
    # One grouping for every cohort (one per cohort cost 80 ms of each week), then every cell, zeros included.
    grouped = everyone.groupby(["response_week", "nps_group"])["repurchased"]
    counts = pd.DataFrame({"respondents": grouped.size(), "repurchasers": grouped.sum()})
    cells = pd.MultiIndex.from_product([cohort_labels, list(NPS_GROUPS)], names=["response_week", "nps_group"])
    counts = counts.reindex(cells, fill_value=0).astype(np.int64)
    totals = counts.groupby(level="response_week", sort=False).sum()
    totals.index = pd.MultiIndex.from_product([totals.index, ["all"]], names=["response_week", "nps_group"])
    order = pd.MultiIndex.from_product([cohort_labels, [*NPS_GROUPS, "all"]], names=["response_week", "nps_group"])
    cohorts = pd.concat([counts, totals]).reindex(order).astype(np.int64).reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        cohorts["repurchase_rate"] = cohorts["repurchasers"] / cohorts["respondents"].replace(0, np.nan)
    cohorts["ci_low"], cohorts["ci_high"] = wilson_interval(
        cohorts["repurchasers"], cohorts["respondents"], alpha=alpha
    )
    cohorts["window_days"] = window_days
    return cohorts[REPURCHASE_COHORT_COLUMNS]


def _next_purchase_at(respondents: pd.DataFrame, transactions: pd.DataFrame, *, through: dt.date) -> pd.Series:
    """Each respondent's first purchase strictly after their response among the purchases of business days up
    to ``through`` (NaT when none), same order."""
    if respondents.empty:
        return pd.Series(pd.NaT, index=respondents.index, dtype="datetime64[ns, UTC]")
    purchases, buyers = once_per_batch(
        "purchases_in_time_order", transactions, lambda: _purchases_in_time_order(transactions)
    )
    respondent = buyers.get_indexer(respondents["customer_id"])  # -1: never bought
    # A stable sort then a filter keeps the same rows in the same order as the filter then the sort.
    keep = (purchases["day"].to_numpy() <= day_number(through)) & purchases["customer"].isin(
        respondent[respondent >= 0]
    )
    purchases = purchases.loc[keep, ["customer", "next_purchase_at"]]
    ordered = respondents.reset_index().assign(_customer=respondent).sort_values("submitted_at", kind="stable")
    matched = pd.merge_asof(
        ordered,
        purchases,
        left_on="submitted_at",
        right_on="next_purchase_at",
        left_by="_customer",
        right_by="customer",
        direction="forward",
        allow_exact_matches=False,
    )
    return matched.set_index("index")["next_purchase_at"].reindex(respondents.index)


def _purchases_in_time_order(transactions: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """Purchases as (customer code, business day number, time), in time order, and the customer ids the codes
    index: int codes, not 4M strings, because a batch of weeks keeps this while it runs."""
    purchases = purchases_only(transactions, ["customer_id", "business_day", "occurred_at"])
    codes, buyers = pd.factorize(purchases["customer_id"].astype("str"))
    frame = pd.DataFrame(
        {
            "customer": codes.astype(np.int64),
            "day": day_numbers_of(purchases["business_day"]),
            "next_purchase_at": pd.to_datetime(purchases["occurred_at"], utc=True).dt.as_unit("ns").array,
        }
    )
    frame = frame.loc[frame["day"] != MISSING_DAY]  # a purchase without a business day is on no day up to through
    return frame.sort_values("next_purchase_at", kind="stable"), pd.Index(buyers, dtype="object")


def _repurchased(
    respondents: pd.DataFrame, transactions: pd.DataFrame, *, window_days: int, through: dt.date
) -> np.ndarray:
    """True where the respondent bought again strictly after answering and at most window_days after."""
    if respondents.empty:
        return np.zeros(0, dtype=bool)
    next_at = _next_purchase_at(respondents, transactions, through=through)
    window_end = respondents["submitted_at"] + pd.Timedelta(days=window_days)
    return (next_at.notna() & (next_at <= window_end)).to_numpy()
