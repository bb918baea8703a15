"""The outreach effect: who is compared, KM and log-rank, the 90-day difference with its CI, the MDE, the
"cannot answer yet" rule, and simulations with and without a planted effect."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from analytics.outreach_effect import effect_sample, estimate_outreach_effect, minimum_detectable_difference

AS_OF = pd.Timestamp("2026-06-01", tz="UTC")


def _ledger() -> pd.DataFrame:
    utc = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    return pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "A", "E"],
            "opened_at": [
                utc("2026-01-05"),
                utc("2026-01-05"),
                utc("2026-01-12"),
                utc("2026-05-25"),
                utc("2026-04-06"),
                utc("2026-06-01"),
            ],
            "closed_at": [utc("2026-03-01")] * 6,
            "is_control": [False, True, False, True, False, False],
            "is_detractor": [True, True, False, False, True, True],
            "first_contact_at": [utc("2026-01-06"), pd.NaT, pd.NaT, pd.NaT, pd.NaT, pd.NaT],
        }
    )


def _transactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["A", "A", "B", "C", "D"],
            "occurred_at": pd.to_datetime(
                ["2026-01-01", "2026-01-15", "2026-05-01", "2026-02-01", "2026-05-26"], utc=True
            ),
            "amount": [10.0, 10.0, 10.0, -5.0, 10.0],
        }
    )


def test_effect_sample_takes_each_customers_first_case_and_its_time_to_next_purchase():
    # A: first case 5 Jan (the April one is ignored), buys 15 Jan: 10 days, event, window complete (5 Jan + 90 d
    # = 5 Apr <= 1 Jun). B (control): buys 1 May = 116 days, after the 90-day window: censored at 90, no event.
    # C: only a refund: censored at 90. D (control): opened 25 May, buys 26 May: 1 day, event, window not
    # complete (7 days of follow-up). E opened at as_of itself: not in the sample.
    sample = effect_sample(_ledger(), _transactions(), as_of=AS_OF, window_days=90).set_index("customer_id")
    assert list(sample.index) == ["A", "B", "C", "D"]
    assert sample["arm"].to_dict() == {"A": "outreach", "B": "control", "C": "outreach", "D": "control"}
    assert sample["duration_days"].to_dict() == {"A": 10.0, "B": 90.0, "C": 90.0, "D": 1.0}
    assert sample["event"].tolist() == [True, False, False, True]
    assert sample["is_window_complete"].tolist() == [True, True, True, False]
    assert sample["repurchased"].tolist() == [True, False, False, False]


def test_without_a_control_group_the_arms_are_contacted_against_not_contacted():
    sample = effect_sample(_ledger(), _transactions(), as_of=AS_OF, is_randomised=False).set_index("customer_id")
    assert sample["arm"].to_dict() == {"A": "outreach", "B": "control", "C": "control", "D": "control"}


def _sample(arms, durations, events, complete=None, detractor=None) -> pd.DataFrame:
    n = len(arms)
    complete = [True] * n if complete is None else complete
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "arm": arms,
            "is_detractor": [True] * n if detractor is None else detractor,
            "duration_days": np.asarray(durations, dtype=float),
            "event": events,
            "is_window_complete": complete,
            "repurchased": [e and c for e, c in zip(events, complete, strict=True)],
        }
    )


def test_kaplan_meier_and_log_rank_on_a_worked_example():
    # outreach buys at days 1 and 2, control at 3 and 4. Log-rank by hand: t=1: 4 at risk (2 outreach),
    # E = 1/2, V = 2*2*1*3/(16*3) = 1/4; t=2: 3 at risk (1 outreach), E = 1/3, V = 1*2*1*2/(9*2) = 2/9;
    # later no outreach at risk. O - E = 2 - 5/6 = 7/6, V = 17/36, chi2 = (49/36)/(17/36) = 49/17.
    sample = _sample(["outreach", "outreach", "control", "control"], [1, 2, 3, 4], [True] * 4)
    effect, curves = estimate_outreach_effect(sample, week="2026-W22", window_days=5)
    row = effect.set_index("subset").loc["all"]
    assert math.isclose(row["logrank_statistic"], 49 / 17)
    assert math.isclose(row["logrank_p_value"], stats.chi2.sf(49 / 17, 1))
    outreach = curves.loc[(curves["subset"] == "all") & (curves["arm"] == "outreach")]
    assert outreach["share_not_repurchased"].tolist() == [1.0, 0.5, 0.0, 0.0, 0.0, 0.0]
    control = curves.loc[(curves["subset"] == "all") & (curves["arm"] == "control")]
    assert control["share_not_repurchased"].tolist() == [1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    assert control["at_risk"].tolist() == [2, 2, 2, 2, 1, 0]


def test_repurchase_difference_ci_and_too_little_data():
    # outreach 3 of 4 bought again, control 0 of 2: difference 0.75; with 20 needed per arm: cannot answer yet.
    sample = _sample(
        ["outreach"] * 4 + ["control"] * 2,
        [5, 6, 7, 90, 90, 90],
        [True, True, True, False, False, False],
        detractor=[True, False, True, False, True, False],
    )
    effect, _ = estimate_outreach_effect(sample, week="2026-W22")
    row = effect.set_index("subset").loc["all"]
    assert (row["treatment_n"], row["control_n"], row["treatment_repurchasers"], row["control_repurchasers"]) == (
        4,
        2,
        3,
        0,
    )
    assert row["difference"] == 0.75 and row["ci_low"] < 0.75 < row["ci_high"]
    assert row["verdict"] == "cannot_answer_yet"
    detractors = effect.set_index("subset").loc["detractor"]
    assert (detractors["treatment_n"], detractors["control_n"], detractors["difference"]) == (2, 1, 1.0)


def test_minimum_detectable_difference_matches_the_arcsine_formula():
    # n = 100 per arm, alpha 0.05, power 0.8: h = (1.95996 + 0.84162) * sqrt(2/100) = 0.39620;
    # around a control share of 0.3: sin(asin(sqrt(0.3)) + h/2)^2 - 0.3 = 0.1923.
    h = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * math.sqrt(2 / 100)
    expected = math.sin(math.asin(math.sqrt(0.3)) + h / 2) ** 2 - 0.3
    assert abs(minimum_detectable_difference(100, 100, 0.3) - expected) < 1e-3
    assert abs(expected - 0.1923) < 1e-3
    assert math.isnan(minimum_detectable_difference(100, 0, 0.3))


def _simulate(rng: np.random.Generator, *, n_outreach: int, n_control: int, control_days: float, outreach_days: float):
    """Exponential times to next purchase (mean days per arm), censored at 90."""
    arms = ["outreach"] * n_outreach + ["control"] * n_control
    means = np.array([outreach_days] * n_outreach + [control_days] * n_control)
    times = rng.exponential(means)
    return _sample(arms, np.minimum(times, 90.0), list(times <= 90.0), detractor=list(rng.random(len(arms)) < 0.5))


def test_null_simulation_finds_no_effect_at_the_nominal_rate():
    # No effect planted: both arms buy again after 120 days on average. Over 200 simulations the CI should
    # exclude 0 (and the log-rank p fall under 0.05) about 5% of the time; 3 binomial sd above 5% is 0.096.
    rng = np.random.default_rng(20261201)
    found = logrank_found = 0
    runs = 200
    for _ in range(runs):
        effect, _ = estimate_outreach_effect(
            _simulate(rng, n_outreach=400, n_control=60, control_days=120, outreach_days=120), week="2026-W22"
        )
        row = effect.set_index("subset").loc["all"]
        found += row["verdict"] in {"effect", "harm"}
        logrank_found += row["logrank_p_value"] < 0.05
    assert found / runs <= 0.096 and logrank_found / runs <= 0.096


def test_a_planted_effect_is_found_with_its_ci():
    # Contacted customers buy again after 60 days on average, control after 200: 90-day repurchase
    # 1 - exp(-90/60) = 0.777 vs 1 - exp(-90/200) = 0.362, a difference of 0.415.
    rng = np.random.default_rng(7)
    truth = (1 - math.exp(-90 / 60)) - (1 - math.exp(-90 / 200))
    hits = covered = 0
    for _ in range(50):
        effect, _ = estimate_outreach_effect(
            _simulate(rng, n_outreach=400, n_control=60, control_days=200, outreach_days=60), week="2026-W22"
        )
        row = effect.set_index("subset").loc["all"]
        hits += row["verdict"] == "effect" and row["logrank_p_value"] < 0.05
        covered += row["ci_low"] <= truth <= row["ci_high"]
    assert hits >= 48 and covered >= 44  # 95% CIs: 47.5 of 50 expected to cover
