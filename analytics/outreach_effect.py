"""Does reaching out keep customers? Outreach against the control group, as of a week's end.

Owns two frames:
- outreach_effect: one row per ISO week x subset (all cases, detractor cases);
- outreach_survival: one row per ISO week x subset x arm x day 0..window: the Kaplan-Meier share of customers
  who have not bought again yet.

Who is compared (:func:`effect_sample`)
- Each customer counts once, through their first case opened before ``as_of``, so the arms are independent
  samples as the tests assume.
- Randomised (control share > 0): the outreach arm is every case that was NOT held out, contacted or not
  (intention to treat: comparing only the cases actually reached would compare the easy-to-reach with
  everybody). The control arm is the held-out cases.
- Observational (control share 0, nothing held out): cases contacted before they closed against cases nobody
  contacted. Who gets reached is not random (reachable customers may be keener anyway), so a difference is
  not an effect of outreach: the result says "observational only".
- Time to next purchase: days from the case's opening to the first purchase (amount > 0) at or after it, censored at
  ``as_of`` and at ``window_days`` (a purchase on the window's last instant counts; one at exactly ``as_of``,
  the next week's first instant, is not seen yet, so a window is complete when it ended before ``as_of``).

What is computed (:func:`estimate_outreach_effect`)
- Kaplan-Meier curves per arm (statsmodels SurvfuncRight) and the log-rank test (statsmodels survdiff) over
  every case in the sample, censored as above.
- The ``window_days`` repurchase share per arm over the cases with the whole window elapsed by ``as_of``; the
  difference outreach - control with Newcomb's hybrid-score 95% CI and the score test's p (statsmodels
  confint_proportions_2indep / test_proportions_2indep).
- The minimum detectable effect: the smallest rise over the control share that a two-sided test at alpha 0.05
  would find with 80% power at these arm sizes (statsmodels NormalIndPower on Cohen's h, turned back into a
  share difference around the control share).
- verdict: ``cannot_answer_yet`` when either arm has fewer than ``min_cases_per_arm`` cases with the whole
  window elapsed; else ``effect`` (CI excludes 0, outreach higher), ``harm`` (CI excludes 0, outreach lower) or
  ``no_effect_detected``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

from analytics._frames import purchases_only, require_columns

__all__ = [
    "EFFECT_COLUMNS",
    "SUBSETS",
    "SURVIVAL_COLUMNS",
    "effect_sample",
    "estimate_outreach_effect",
    "minimum_detectable_difference",
]

SUBSETS = ("all", "detractor")
ARMS = ("outreach", "control")

EFFECT_COLUMNS = [
    "week",
    "subset",
    "is_randomised",
    "treatment_n",
    "control_n",
    "treatment_repurchasers",
    "control_repurchasers",
    "treatment_rate",
    "control_rate",
    "difference",
    "ci_low",
    "ci_high",
    "p_value",
    "survival_treatment_n",
    "survival_control_n",
    "logrank_statistic",
    "logrank_p_value",
    "mde",
    "verdict",
    "window_days",
]
SURVIVAL_COLUMNS = ["week", "subset", "arm", "day", "at_risk", "share_not_repurchased"]


def effect_sample(
    ledger: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    window_days: int = 90,
    is_randomised: bool = True,
) -> pd.DataFrame:
    """One row per customer (first case opened before ``as_of``): arm, is_detractor, duration_days, event,
    is_window_complete, repurchased (see the module docstring)."""
    require_columns(ledger, ["customer_id", "opened_at", "closed_at", "is_control", "is_detractor"], "ledger")
    require_columns(transactions, ["customer_id", "occurred_at", "amount"], "transactions")
    as_of = pd.Timestamp(as_of)
    opened = pd.to_datetime(ledger["opened_at"], utc=True)
    cases = ledger.loc[opened < as_of].assign(opened_at=opened[opened < as_of])
    cases = cases.sort_values(["opened_at", "customer_id"], kind="stable").drop_duplicates("customer_id")
    if cases.empty:
        return pd.DataFrame(
            columns=[
                "customer_id",
                "arm",
                "is_detractor",
                "duration_days",
                "event",
                "is_window_complete",
                "repurchased",
            ]
        )
    if is_randomised:
        arm = np.where(cases["is_control"].astype(bool), "control", "outreach")
    else:
        first = pd.to_datetime(cases["first_contact_at"], utc=True)
        contacted = first.notna() & (first < as_of)
        arm = np.where(contacted, "outreach", "control")

    bought = purchases_only(transactions)
    purchases = pd.DataFrame(
        {
            "customer_id": bought["customer_id"].astype("str"),
            "next_purchase_at": pd.to_datetime(bought["occurred_at"], utc=True).dt.as_unit("ns"),
        }
    ).sort_values("next_purchase_at", kind="stable")
    ordered = pd.DataFrame(
        {
            "customer_id": cases["customer_id"].astype("str").to_numpy(),
            "opened_at": cases["opened_at"].dt.as_unit("ns").to_numpy(),
            "arm": arm,
            "is_detractor": cases["is_detractor"].astype(bool).to_numpy(),
        }
    )
    ordered["opened_at"] = pd.to_datetime(ordered["opened_at"], utc=True)
    matched = pd.merge_asof(
        ordered.sort_values("opened_at", kind="stable"),
        purchases,
        left_on="opened_at",
        right_on="next_purchase_at",
        by="customer_id",
        direction="forward",
        allow_exact_matches=True,  # a purchase at the opening instant is after the list (analytics/cases.py)
    )
    window = pd.Timedelta(days=window_days)
    followed = (as_of - matched["opened_at"]).clip(upper=window)
    to_purchase = matched["next_purchase_at"] - matched["opened_at"]
    # A purchase at exactly ``as_of`` (Monday 00:00, a week's end) belongs to the next week's business day: the
    # week does not see it (analytics/cases.py, "Which week an instant belongs to"). So an event is strictly
    # before as_of, and a window is complete only when its last instant is.
    seen = matched["next_purchase_at"] < as_of
    event = matched["next_purchase_at"].notna() & seen & (to_purchase <= followed)
    duration = to_purchase.where(event, followed)
    matched["duration_days"] = duration.dt.total_seconds() / 86400
    matched["event"] = event.to_numpy()
    matched["is_window_complete"] = (matched["opened_at"] + window < as_of).to_numpy()
    matched["repurchased"] = event & matched["is_window_complete"]
    matched = matched.sort_values("customer_id", kind="stable").reset_index(drop=True)
    return matched[
        ["customer_id", "arm", "is_detractor", "duration_days", "event", "is_window_complete", "repurchased"]
    ]


def minimum_detectable_difference(
    treatment_n: int, control_n: int, control_rate: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest rise over ``control_rate`` a two-sided test finds with ``power`` at these arm sizes.

    Solved on Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p2)) by statsmodels, then turned back into a
    difference of shares at the control share. NaN where an arm is empty or the control share is unknown.
    """
    if treatment_n < 2 or control_n < 2 or not np.isfinite(control_rate):
        return float("nan")
    h = NormalIndPower().solve_power(
        effect_size=None, nobs1=treatment_n, ratio=control_n / treatment_n, alpha=alpha, power=power
    )
    angle = min(math.asin(math.sqrt(control_rate)) + float(h) / 2, math.pi / 2)
    return math.sin(angle) ** 2 - control_rate


def estimate_outreach_effect(
    sample: pd.DataFrame,
    *,
    week: str,
    window_days: int = 90,
    is_randomised: bool = True,
    min_cases_per_arm: int = 20,
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (outreach_effect rows, outreach_survival rows) of ``week`` for every subset (all, detractor)."""
    effects, curves = [], []
    for subset in SUBSETS:
        part = sample if subset == "all" else sample.loc[sample["is_detractor"].astype(bool)]
        effect, curve = _estimate(part, window_days, is_randomised, min_cases_per_arm, alpha)
        effects.append({"week": week, "subset": subset, **effect})
        curves.append(curve.assign(week=week, subset=subset))
    effect_frame = pd.DataFrame(effects)[EFFECT_COLUMNS]
    survival = (
        pd.concat(curves, ignore_index=True)[SURVIVAL_COLUMNS] if curves else pd.DataFrame(columns=SURVIVAL_COLUMNS)
    )
    return effect_frame, survival


def _estimate(
    part: pd.DataFrame, window_days: int, is_randomised: bool, min_cases_per_arm: int, alpha: float
) -> tuple[dict, pd.DataFrame]:
    complete = part.loc[part["is_window_complete"].astype(bool)]
    n = {arm: int((complete["arm"] == arm).sum()) for arm in ARMS}
    x = {arm: int(complete.loc[complete["arm"] == arm, "repurchased"].sum()) for arm in ARMS}
    rate = {arm: x[arm] / n[arm] if n[arm] else np.nan for arm in ARMS}
    difference = ci_low = ci_high = p_value = np.nan
    if n["outreach"] and n["control"]:
        difference = rate["outreach"] - rate["control"]
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            ci_low, ci_high = confint_proportions_2indep(
                x["outreach"], n["outreach"], x["control"], n["control"], method="newcomb", compare="diff", alpha=alpha
            )
            test = test_proportions_2indep(
                x["outreach"], n["outreach"], x["control"], n["control"], method="score", compare="diff"
            )
        p_value = float(test.pvalue) if np.isfinite(test.pvalue) else 1.0
    control_rate = rate["control"] if np.isfinite(rate["control"]) else np.nan
    mde = minimum_detectable_difference(n["outreach"], n["control"], control_rate, alpha=alpha)

    survival_n = {arm: int((part["arm"] == arm).sum()) for arm in ARMS}
    statistic = logrank_p = np.nan
    if all(survival_n.values()) and part["event"].astype(bool).any():
        statistic, logrank_p = survdiff(
            part["duration_days"].to_numpy(float),
            part["event"].astype(int).to_numpy(),
            (part["arm"] == "outreach").astype(int).to_numpy(),
        )
    if min(n.values()) < min_cases_per_arm:
        verdict = "cannot_answer_yet"
    elif ci_low > 0:
        verdict = "effect"
    elif ci_high < 0:
        verdict = "harm"
    else:
        verdict = "no_effect_detected"
    effect = {
        "is_randomised": is_randomised,
        "treatment_n": n["outreach"],
        "control_n": n["control"],
        "treatment_repurchasers": x["outreach"],
        "control_repurchasers": x["control"],
        "treatment_rate": rate["outreach"],
        "control_rate": rate["control"],
        "difference": float(difference),
        "ci_low": float(ci_low),
        "ci_high": float(ci_high),
        "p_value": float(p_value),
        "survival_treatment_n": survival_n["outreach"],
        "survival_control_n": survival_n["control"],
        "logrank_statistic": float(statistic),
        "logrank_p_value": float(logrank_p),
        "mde": mde,
        "verdict": verdict,
        "window_days": window_days,
    }
    return effect, _curves(part, window_days)


def _curves(part: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Kaplan-Meier share not yet repurchased on each whole day 0..window_days, per arm with cases."""
    days = np.arange(window_days + 1)
    rows = []
    for arm in ARMS:
        arm_part = part.loc[part["arm"] == arm]
        if arm_part.empty:
            continue
        durations = arm_part["duration_days"].to_numpy(float)
        events = arm_part["event"].astype(int).to_numpy()
        if events.any():
            fit = SurvfuncRight(durations, events)
            index = np.searchsorted(fit.surv_times, days, side="right") - 1
            share = np.where(index >= 0, fit.surv_prob[np.clip(index, 0, None)], 1.0)
        else:
            share = np.ones(len(days))
        at_risk = (durations[None, :] >= days[:, None]).sum(axis=1)
        rows.append(pd.DataFrame({"arm": arm, "day": days, "at_risk": at_risk, "share_not_repurchased": share}))
    return (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["arm", "day", "at_risk", "share_not_repurchased"])
    )
