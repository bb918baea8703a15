"""Satisfaction linked to retention: do detractors stop buying?

Owns two frames:
- repurchase_by_nps_group: one row per NPS group (detractor, passive, promoter, all).
- repurchase_tests: one row per comparison (all_groups chi-square, detractor_vs_promoter z-test).

Definitions
- A respondent is a customer with a customer_id who gave an NPS score. Each customer counts once, through
  their most recent eligible response (latest submitted_at, ties by highest response_id), so the groups
  are independent samples as the tests assume.
- Eligible: the response's window has fully elapsed by as_of, i.e. business_day + window_days <= as_of.
- Repurchased: at least one purchase (amount > 0) with occurred_at strictly after submitted_at and at most
  window_days after it. Comparing timestamps rather than days matters: surveys are often sent right after
  a purchase, and that same-day triggering purchase must not count as buying again.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

from analytics._frames import NPS_GROUPS, nps_group, purchases_only, require_columns, scores
from analytics.stats import two_proportion_test, wilson_interval
from analytics.weeks import day_number, day_numbers_of

__all__ = [
    "NPS_GROUPS",
    "REPURCHASE_COLUMNS",
    "REPURCHASE_TEST_COLUMNS",
    "compare_repurchase_by_nps_group",
    "compute_repurchase_by_nps_group",
    "nps_group",
]

REPURCHASE_COLUMNS = [
    "nps_group",
    "respondents",
    "repurchasers",
    "repurchase_rate",
    "ci_low",
    "ci_high",
    "window_days",
    "as_of",
]
REPURCHASE_TEST_COLUMNS = ["comparison", "statistic", "dof", "p_value", "difference", "is_significant"]


def compute_repurchase_by_nps_group(
    responses: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    as_of: dt.date,
    window_days: int = 90,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Return repurchase_by_nps_group: one row per NPS group in the order detractor, passive, promoter,
    then "all", each with respondents, repurchasers, repurchase_rate and its Wilson interval.

    See the module docstring for who counts and what a repurchase is. Groups without respondents keep
    their row with zero counts and NaN rates.
    """
    require_columns(responses, ["response_id", "customer_id", "submitted_at", "business_day", "nps"], "responses")
    require_columns(transactions, ["customer_id", "occurred_at", "amount"], "transactions")
    respondents = _latest_eligible_responses(responses, as_of=as_of, window_days=window_days)
    respondents = respondents.assign(repurchased=_repurchased(respondents, transactions, window_days=window_days))

    counts = respondents.groupby("nps_group")["repurchased"].agg(respondents="size", repurchasers="sum")
    counts = counts.reindex(list(NPS_GROUPS), fill_value=0)
    counts.loc["all"] = counts.sum()
    counts = counts.astype(np.int64).rename_axis("nps_group").reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        counts["repurchase_rate"] = counts["repurchasers"] / counts["respondents"].replace(0, np.nan)
    counts["ci_low"], counts["ci_high"] = wilson_interval(counts["repurchasers"], counts["respondents"], alpha=alpha)
    counts["window_days"] = window_days
    counts["as_of"] = as_of
    return counts[REPURCHASE_COLUMNS]


def compare_repurchase_by_nps_group(repurchase_by_nps_group: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Return repurchase_tests: one row per comparison.

    - all_groups: chi-square test of independence on the groups x (repurchased, not) table; groups without
      respondents are left out; dof = groups - 1. When every respondent made the same choice (all bought
      or none did) the table has no variation: statistic 0, p 1.
    - detractor_vs_promoter: pooled two-proportion z-test; difference = detractor rate - promoter rate
      (negative means detractors buy again less often); statistic is the z of detractors vs promoters.
    is_significant means p_value < alpha. NaN when a group needed by the test has no respondents.
    """
    require_columns(repurchase_by_nps_group, ["nps_group", "respondents", "repurchasers"], "repurchase_by_nps_group")
    groups = repurchase_by_nps_group.set_index("nps_group").reindex(list(NPS_GROUPS))
    groups = groups.loc[groups["respondents"].fillna(0) > 0]
    chi2, dof, chi2_p = np.nan, np.nan, np.nan
    if len(groups) >= 2:
        table = np.column_stack(
            [
                groups["repurchasers"].to_numpy(float),
                (groups["respondents"] - groups["repurchasers"]).to_numpy(float),
            ]
        )
        dof = float(len(groups) - 1)
        if (table.sum(axis=0) == 0).any():
            chi2, chi2_p = 0.0, 1.0
        else:
            chi2, chi2_p, _, _ = chi2_contingency(table, correction=False)

    z, z_p, difference = np.nan, np.nan, np.nan
    if {"detractor", "promoter"} <= set(groups.index):
        detractors, promoters = groups.loc["detractor"], groups.loc["promoter"]
        z_values, p_values = two_proportion_test(
            promoters["repurchasers"],
            promoters["respondents"],
            detractors["repurchasers"],
            detractors["respondents"],
        )
        z, z_p = float(z_values), float(p_values)
        difference = (
            detractors["repurchasers"] / detractors["respondents"]
            - promoters["repurchasers"] / promoters["respondents"]
        )
    tests = pd.DataFrame(
        {
            "comparison": ["all_groups", "detractor_vs_promoter"],
            "statistic": [float(chi2), z],
            "dof": [dof, np.nan],
            "p_value": [float(chi2_p), z_p],
            "difference": [np.nan, float(difference)],
        }
    )
    tests["is_significant"] = (tests["p_value"] < alpha).to_numpy()
    return tests[REPURCHASE_TEST_COLUMNS]


def _latest_eligible_responses(responses: pd.DataFrame, *, as_of: dt.date, window_days: int) -> pd.DataFrame:
    nps = scores(responses, "nps", 0, 10)
    eligible = (
        responses["customer_id"].notna()
        & nps.notna()
        & (day_numbers_of(responses["business_day"]) + window_days <= day_number(as_of))
    )
    picked = pd.DataFrame(
        {
            "response_id": responses.loc[eligible, "response_id"].astype("str"),
            "customer_id": responses.loc[eligible, "customer_id"].astype("str"),
            "submitted_at": pd.to_datetime(responses.loc[eligible, "submitted_at"], utc=True).dt.as_unit("ns"),
            "nps_group": nps_group(nps[eligible]),
        }
    )
    picked = picked.sort_values(["customer_id", "submitted_at", "response_id"], kind="stable")
    return picked.drop_duplicates("customer_id", keep="last").reset_index(drop=True)


def _repurchased(respondents: pd.DataFrame, transactions: pd.DataFrame, *, window_days: int) -> np.ndarray:
    if respondents.empty:
        return np.zeros(0, dtype=bool)
    purchases = purchases_only(transactions)
    purchases = pd.DataFrame(
        {
            "customer_id": purchases["customer_id"].astype("str"),
            "next_purchase_at": pd.to_datetime(purchases["occurred_at"], utc=True).dt.as_unit("ns"),
        }
    )
    purchases = purchases.loc[purchases["customer_id"].isin(respondents["customer_id"])]
    purchases = purchases.sort_values("next_purchase_at", kind="stable")
    # merge_asof finds each respondent's first purchase strictly after the response in one sorted pass.
    ordered = respondents.reset_index().sort_values("submitted_at", kind="stable")
    matched = pd.merge_asof(
        ordered,
        purchases,
        left_on="submitted_at",
        right_on="next_purchase_at",
        by="customer_id",
        direction="forward",
        allow_exact_matches=False,
    )
    window_end = matched["submitted_at"] + pd.Timedelta(days=window_days)
    bought_again = (matched["next_purchase_at"].notna() & (matched["next_purchase_at"] <= window_end)).to_numpy()
    result = np.zeros(len(respondents), dtype=bool)
    result[matched["index"].to_numpy()] = bought_again
    return result
