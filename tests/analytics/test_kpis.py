"""The week's KPI tiles: values, week-over-week changes and their tests, on two hand-made weeks.

Every expected p-value comes from a different route than the module's: raw samples instead of summary
statistics for CES, the binomial test for the exact conditional Poisson test, the pooled z statistic written
out for the rates, and statsmodels' own Benjamini-Hochberg for the q-values.
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analytics.kpis import KPI_COLUMNS, compute_kpi_tiles

WEEK, PREVIOUS = "2026-W47", "2026-W46"
OWN_TESTS = ["ces", "responses", "active_customers", "repeat_rate", "churn_rate"]

# Raw CES answers (1-7, higher is easier) behind the two weeks' stored mean and t-interval.
CES_NOW = [6, 7, 5, 6, 7, 4, 6, 5]  # mean 46 / 8 = 5.75
CES_BEFORE = [3, 4, 5, 2, 4, 3, 5, 4, 3, 2]  # mean 35 / 10 = 3.5


def ces_columns(answers: list[int]) -> dict:
    """What weekly_satisfaction stores for CES: mean, 95% t-interval and n, worked out from the raw answers."""
    mean = float(np.mean(answers))
    low, high = stats.t.interval(0.95, df=len(answers) - 1, loc=mean, scale=stats.sem(answers))
    return {"ces": mean, "ces_ci_low": low, "ces_ci_high": high, "ces_n": len(answers)}


def sat_row(week: str, dimension: str = "overall", segment_value: str = "all", **values: object) -> dict:
    row = {
        "week": week,
        "dimension": dimension,
        "segment_value": segment_value,
        "responses": 0,
        **dict.fromkeys(["nps", "nps_n", "csat", "csat_n", "ces", "ces_ci_low", "ces_ci_high", "ces_n"], np.nan),
        **dict.fromkeys(["nps_change_p", "nps_change_q", "csat_change_p", "csat_change_q"], np.nan),
        "is_nps_change_significant": False,
        "is_csat_change_significant": False,
    }
    return {**row, **values}


def ret_row(week: str, active: int, repeat: int, at_risk: int, churned: int) -> dict:
    return {
        "week": week,
        "active_customers": active,
        "repeat_customers": repeat,
        "repeat_rate": repeat / active if active else np.nan,
        "at_risk_customers": at_risk,
        "churned_customers": churned,
        "churn_rate": churned / at_risk if at_risk else np.nan,
    }


def two_weeks() -> tuple[pd.DataFrame, pd.DataFrame]:
    satisfaction = pd.DataFrame(
        [
            sat_row(
                PREVIOUS,
                responses=100,
                nps=30.5,
                nps_n=98,
                csat=0.78,
                csat_n=95,
                **ces_columns(CES_BEFORE),
            ),
            sat_row(
                WEEK,
                responses=120,
                nps=42.0,
                nps_n=118,
                csat=0.81,
                csat_n=110,
                **ces_columns(CES_NOW),
                # As add_week_over_week_changes stored them (BH across all of the week's cells).
                nps_change_p=0.004,
                nps_change_q=0.012,
                is_nps_change_significant=True,
                csat_change_p=0.31,
                csat_change_q=0.46,
                is_csat_change_significant=False,
            ),
            # A breakdown cell of the same week: the tiles must read the overall cell only.
            sat_row(WEEK, "channel", "phone", responses=7, nps=-10.0, nps_n=7, csat=0.2, csat_n=7),
        ]
    )
    retention = pd.DataFrame(
        [
            ret_row(PREVIOUS, active=10, repeat=3, at_risk=380, churned=8),
            ret_row(WEEK, active=30, repeat=18, at_risk=400, churned=20),
        ]
    )
    return satisfaction, retention


def tiles_by_kpi(satisfaction: pd.DataFrame, retention: pd.DataFrame, **kwargs: object) -> dict[str, dict]:
    tiles = compute_kpi_tiles(WEEK, satisfaction, retention, **kwargs)
    return {row["kpi"]: row for row in tiles.to_dict("records")}


def pooled_z_p(hits_1: int, n_1: int, hits_2: int, n_2: int) -> float:
    pooled = (hits_1 + hits_2) / (n_1 + n_2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_1 + 1 / n_2))
    z = (hits_1 / n_1 - hits_2 / n_2) / se
    return 2 * stats.norm.sf(abs(z))


def test_columns_order_and_directions() -> None:
    tiles = compute_kpi_tiles(WEEK, *two_weeks())
    assert list(tiles.columns) == KPI_COLUMNS
    assert list(tiles["kpi"]) == [
        "nps",
        "csat",
        "ces",
        "responses",
        "active_customers",
        "repeat_rate",
        "churn_rate",
    ]
    # CES asks "How easy was it...?" on 1-7: higher is better. Only churn is better when it falls.
    assert dict(zip(tiles["kpi"], tiles["direction"], strict=True)) == {
        "nps": "higher",
        "csat": "higher",
        "ces": "higher",
        "responses": "higher",
        "active_customers": "higher",
        "repeat_rate": "higher",
        "churn_rate": "lower",
    }
    assert dict(zip(tiles["kpi"], tiles["test"], strict=True)) == {
        "nps": "adjusted-Wald z-test",
        "csat": "two-proportion z-test",
        "ces": "Welch t-test",
        "responses": "exact Poisson test",
        "active_customers": "exact Poisson test",
        "repeat_rate": "two-proportion z-test",
        "churn_rate": "two-proportion z-test",
    }


def test_values_previous_change_and_n_by_hand() -> None:
    by = tiles_by_kpi(*two_weeks())
    expected = {
        # kpi: (value, previous, change, n)
        "nps": (42.0, 30.5, 11.5, 118),
        "csat": (0.81, 0.78, 0.03, 110),
        "ces": (5.75, 3.5, 2.25, 8),
        "responses": (120, 100, 20, 120),
        "active_customers": (30, 10, 20, 30),
        "repeat_rate": (0.6, 0.3, 0.3, 30),  # 18 / 30 against 3 / 10, out of this week's active customers
        "churn_rate": (0.05, 8 / 380, 0.05 - 8 / 380, 400),  # 20 / 400 against 8 / 380, out of the at-risk
    }
    for kpi, (value, previous, change, n) in expected.items():
        row = by[kpi]
        assert row["value"] == pytest.approx(value), kpi
        assert row["previous"] == pytest.approx(previous), kpi
        assert row["change"] == pytest.approx(change), kpi
        assert row["n"] == n, kpi


def test_nps_and_csat_reuse_the_stored_tests() -> None:
    by = tiles_by_kpi(*two_weeks())
    assert (by["nps"]["p_value"], by["nps"]["q_value"], by["nps"]["is_significant"]) == (0.004, 0.012, True)
    assert (by["csat"]["p_value"], by["csat"]["q_value"], by["csat"]["is_significant"]) == (0.31, 0.46, False)


def test_ces_welch_p_equals_the_t_test_on_the_raw_answers() -> None:
    by = tiles_by_kpi(*two_weeks())
    expected = stats.ttest_ind(CES_NOW, CES_BEFORE, equal_var=False).pvalue
    assert by["ces"]["p_value"] == pytest.approx(expected, rel=1e-9)


def test_exact_poisson_test_is_the_binomial_test_conditional_on_the_total() -> None:
    # Given 40 events in two equal periods, the first period's share is Binomial(40, 0.5) under equal rates.
    by = tiles_by_kpi(*two_weeks())
    expected = stats.binomtest(30, 40, 0.5).pvalue
    assert expected == pytest.approx(0.0022214337732293643)
    assert by["active_customers"]["p_value"] == pytest.approx(expected, rel=1e-12)
    assert by["responses"]["p_value"] == pytest.approx(stats.binomtest(120, 220, 0.5).pvalue, rel=1e-12)


def test_rates_use_the_pooled_two_proportion_z_test() -> None:
    by = tiles_by_kpi(*two_weeks())
    # Repeat: 18 / 30 vs 3 / 10, pooled 21 / 40. Churn: 20 / 400 vs 8 / 380, pooled 28 / 780.
    assert by["repeat_rate"]["p_value"] == pytest.approx(pooled_z_p(18, 30, 3, 10), rel=1e-12)
    assert by["churn_rate"]["p_value"] == pytest.approx(pooled_z_p(20, 400, 8, 380), rel=1e-12)


def test_bh_q_values_run_across_the_five_own_tests() -> None:
    by = tiles_by_kpi(*two_weeks())
    p_values = [by[kpi]["p_value"] for kpi in OWN_TESTS]
    expected = multipletests(p_values, method="fdr_bh")[1]
    assert [by[kpi]["q_value"] for kpi in OWN_TESTS] == pytest.approx(list(expected), rel=1e-12)
    # Churn's raw p (about 0.030) is third smallest of five: q = 0.030 * 5 / 3, still just under 0.05.
    assert by["churn_rate"]["q_value"] == pytest.approx(by["churn_rate"]["p_value"] * 5 / 3)
    assert {kpi: by[kpi]["is_significant"] for kpi in OWN_TESTS} == {
        "ces": True,
        "responses": False,
        "active_customers": True,
        "repeat_rate": False,
        "churn_rate": True,
    }


def test_alpha_sets_the_bar_for_the_own_tests() -> None:
    by = tiles_by_kpi(*two_weeks(), alpha=0.01)
    assert by["churn_rate"]["is_significant"] is False  # q ~ 0.0497
    assert by["active_customers"]["is_significant"] is True  # q ~ 0.0056


@pytest.mark.parametrize("previous_week", [None, "2026-W45"])
def test_no_previous_week_means_no_change_and_no_test(previous_week: str | None) -> None:
    # 2026-W45 is two weeks back: the comparison is with the previous ISO week, not the previous row present.
    satisfaction, retention = two_weeks()
    satisfaction = satisfaction.loc[satisfaction["week"] == WEEK].assign(
        nps_change_p=np.nan, nps_change_q=np.nan, is_nps_change_significant=False
    )
    retention = retention.loc[retention["week"] == WEEK]
    if previous_week is not None:
        satisfaction = pd.concat([satisfaction, pd.DataFrame([sat_row(previous_week, responses=500, nps=0.0)])])
        retention = pd.concat([retention, pd.DataFrame([ret_row(previous_week, 1, 0, 10, 0)])])
    tiles = compute_kpi_tiles(WEEK, satisfaction, retention)
    assert tiles["value"].notna().all()
    assert tiles["previous"].isna().all()
    assert tiles["change"].isna().all()
    assert not tiles["is_significant"].any()
    own = tiles.set_index("kpi").loc[OWN_TESTS]
    assert own["p_value"].isna().all() and own["q_value"].isna().all()


def test_zero_counts_in_both_weeks_are_not_tested() -> None:
    satisfaction = pd.DataFrame(
        [
            sat_row(PREVIOUS, responses=0, **ces_columns(CES_BEFORE)),
            sat_row(WEEK, responses=0, **ces_columns(CES_NOW)),
        ]
    )
    retention = pd.DataFrame([ret_row(PREVIOUS, 0, 0, 0, 0), ret_row(WEEK, 0, 0, 0, 0)])
    by = tiles_by_kpi(satisfaction, retention)
    for kpi in ("responses", "active_customers"):
        assert by[kpi]["change"] == 0.0
        assert math.isnan(by[kpi]["p_value"]) and math.isnan(by[kpi]["q_value"])
        assert by[kpi]["is_significant"] is False
    for kpi in ("repeat_rate", "churn_rate"):
        assert math.isnan(by[kpi]["p_value"]) and math.isnan(by[kpi]["q_value"])
        assert by[kpi]["is_significant"] is False
    # CES is the only test left in the family; BH over a family of one leaves p as it is.
    assert by["ces"]["q_value"] == pytest.approx(by["ces"]["p_value"])


@pytest.mark.parametrize(
    ("now", "before"),
    [((0, 100), (0, 120)), ((50, 50), (40, 40))],
    ids=["nobody churned", "everybody churned"],
)
def test_all_or_nothing_rates_have_no_variance_to_test(now: tuple[int, int], before: tuple[int, int]) -> None:
    satisfaction, _ = two_weeks()
    retention = pd.DataFrame(
        [
            ret_row(PREVIOUS, active=10, repeat=3, at_risk=before[1], churned=before[0]),
            ret_row(WEEK, active=30, repeat=18, at_risk=now[1], churned=now[0]),
        ]
    )
    by = tiles_by_kpi(satisfaction, retention)
    assert math.isnan(by["churn_rate"]["p_value"])
    assert by["churn_rate"]["is_significant"] is False
    assert by["churn_rate"]["change"] == pytest.approx(now[0] / now[1] - before[0] / before[1])


def test_ces_with_fewer_than_two_answers_is_not_tested() -> None:
    satisfaction, retention = two_weeks()
    satisfaction.loc[satisfaction["week"] == PREVIOUS, ["ces", "ces_ci_low", "ces_ci_high", "ces_n"]] = [
        4.0,
        np.nan,
        np.nan,
        1,
    ]
    by = tiles_by_kpi(satisfaction, retention)
    assert by["ces"]["change"] == pytest.approx(1.75)
    assert math.isnan(by["ces"]["p_value"])
    assert by["ces"]["is_significant"] is False


def test_no_responses_this_week_compares_zero_with_last_week() -> None:
    # No overall cell this week means nobody answered: 0 against last week's 100 is a real (and alarming) drop.
    satisfaction, retention = two_weeks()
    satisfaction = satisfaction.loc[satisfaction["week"] == PREVIOUS]
    by = tiles_by_kpi(satisfaction, retention)
    assert (by["responses"]["value"], by["responses"]["previous"], by["responses"]["change"]) == (0, 100, -100)
    assert by["responses"]["p_value"] == pytest.approx(stats.binomtest(0, 100, 0.5).pvalue)
    assert by["responses"]["is_significant"] is True


def test_inputs_are_not_mutated() -> None:
    satisfaction, retention = two_weeks()
    before = satisfaction.copy(), retention.copy()
    compute_kpi_tiles(WEEK, satisfaction, retention)
    pd.testing.assert_frame_equal(satisfaction, before[0])
    pd.testing.assert_frame_equal(retention, before[1])


def test_minimum_detectable_change_by_hand() -> None:
    # NPS: 140 answers in each week, 40% promoters and 20% detractors in both. Per-answer variance
    # 0.4 + 0.2 - 0.2^2 = 0.56 (sd 0.7483). Two-sided alpha 0.05, power 0.8: d = (1.95996 + 0.84162) x
    # sqrt(1/140 + 1/140) = 2.80158 x 0.119523 = 0.334851; mde = 0.334851 x 0.7483 x 100 = 25.06 points.
    # CSAT: 100 of 140 satisfied in both weeks: sd sqrt(0.7143 x 0.2857) = 0.45175; mde = 0.334851 x 0.45175 = 0.15127.
    # Churn: 20 of 400 and 8 of 380 -> pooled 28/780 = 0.035897, sd 0.18604; d = 2.80158 x sqrt(1/400 + 1/380)
    # = 0.200666; mde = 0.037332. Active customers: one Poisson count a week: d = 2.80158 x sqrt(2) = 3.96204,
    # mde = 3.96204 x sqrt(30) = 21.70.
    cells = dict(nps_n=140, promoters=56, detractors=28, csat_n=140, csat_satisfied=100)
    satisfaction = pd.DataFrame([sat_row(PREVIOUS, responses=140, **cells), sat_row(WEEK, responses=140, **cells)])
    retention = pd.DataFrame(
        [
            ret_row(PREVIOUS, active=10, repeat=3, at_risk=380, churned=8),
            ret_row(WEEK, active=30, repeat=18, at_risk=400, churned=20),
        ]
    )
    tiles = tiles_by_kpi(satisfaction, retention)
    assert tiles["nps"]["mde"] == pytest.approx(25.06, abs=0.01)
    assert tiles["csat"]["mde"] == pytest.approx(0.15127, abs=1e-4)
    assert tiles["churn_rate"]["mde"] == pytest.approx(0.037332, abs=1e-5)
    assert tiles["active_customers"]["mde"] == pytest.approx(21.70, abs=0.01)
