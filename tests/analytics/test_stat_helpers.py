"""Interval and test helpers, checked against hand calculations and invariants."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chi2_contingency
from statsmodels.stats.proportion import proportions_ztest

from analytics.stats import (
    adjusted_wald_nps_interval,
    bh_qvalues,
    log_likelihood_test,
    mean_t_interval,
    nps_difference_test,
    two_proportion_test,
    wilson_interval,
)

Z = 1.959963984540054  # standard normal 97.5% quantile


@pytest.mark.parametrize(
    ("promoters", "detractors", "n", "estimate", "low", "high"),
    [
        # P=5, D=2, n=10: estimate (5-2)/10 = 0.3.
        # n'=13, p'P=5.75/13=0.442308, p'D=2.75/13=0.211538, centre=0.230769,
        # var=(0.653846 - 0.230769^2)/13 = 0.600592/13 = 0.046199, sd=0.214940,
        # half width = 1.959964 * 0.214940 = 0.421275 -> [-0.190506, 0.652045].
        (5, 2, 10, 0.3, -0.190506, 0.652045),
        # P=1, D=0, n=1: estimate 1.0. n'=4, p'P=0.4375, p'D=0.1875, centre=0.25,
        # var=(0.625 - 0.0625)/4 = 0.140625, sd=0.375, half=0.734986 -> [-0.484986, 0.984986],
        # which excludes the raw 1.0, so the upper bound is widened to 1.0.
        (1, 0, 1, 1.0, -0.484986, 1.0),
        # Mirror image: all detractors -> lower bound widened to -1.0.
        (0, 1, 1, -1.0, -1.0, 0.484986),
    ],
)
def test_adjusted_wald_nps_interval_by_hand(
    promoters: int, detractors: int, n: int, estimate: float, low: float, high: float
) -> None:
    got_estimate, got_low, got_high = adjusted_wald_nps_interval([promoters], [detractors], [n])
    assert got_estimate[0] == pytest.approx(estimate)
    assert got_low[0] == pytest.approx(low, abs=1e-6)
    assert got_high[0] == pytest.approx(high, abs=1e-6)


def test_adjusted_wald_nps_interval_is_nan_for_empty_cells() -> None:
    estimate, low, high = adjusted_wald_nps_interval([0], [0], [0])
    assert np.isnan(estimate[0]) and np.isnan(low[0]) and np.isnan(high[0])


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # 8/10: p=0.8, z^2=3.841459; denominator 1 + 3.841459/10 = 1.384146;
        # centre (0.8 + 3.841459/20)/1.384146 = 0.716739;
        # half = 1.959964*sqrt(0.8*0.2/10 + 3.841459/400)/1.384146 = 1.959964*0.160012/1.384146 = 0.226578.
        (8, 10, 0.490161, 0.943317),
        # 0/5: centre (0 + 3.841459/10)/(1 + 3.841459/5) = 0.384146/1.768292 = 0.217241 = half width.
        (0, 5, 0.0, 0.434482),
    ],
)
def test_wilson_interval_by_hand(successes: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval([successes], [n])
    assert got_low[0] == pytest.approx(low, abs=1e-5)
    assert got_high[0] == pytest.approx(high, abs=1e-5)


def test_two_proportion_test_by_hand_and_against_statsmodels() -> None:
    # 1/10 vs 4/10: pooled p = 5/20 = 0.25; se = sqrt(0.25*0.75*(1/10 + 1/10)) = sqrt(0.0375) = 0.193649;
    # z = (0.4 - 0.1)/0.193649 = 1.549193; two-sided p = 0.121335.
    z, p = two_proportion_test([1], [10], [4], [10])
    assert z[0] == pytest.approx(1.549193, abs=1e-6)
    assert p[0] == pytest.approx(0.121335, abs=1e-6)
    reference_z, reference_p = proportions_ztest([4, 1], [10, 10])
    assert z[0] == pytest.approx(reference_z) and p[0] == pytest.approx(reference_p)


@pytest.mark.parametrize(("successes", "expected_p"), [(0, 1.0), (10, 1.0)])
def test_two_proportion_test_without_variation_reports_no_difference(successes: int, expected_p: float) -> None:
    # Both samples all-0 (or all-1): pooled variance 0, difference 0 -> no evidence, p = 1.
    z, p = two_proportion_test([successes], [10], [successes], [10])
    assert p[0] == expected_p and z[0] == 0.0


def test_log_likelihood_test_by_hand() -> None:
    # 10/20 vs 0/20. Expected hits 5 and 5, misses 15 and 15.
    # G2 = 2 * [10 ln(10/5) + 0 + 10 ln(10/15) + 20 ln(20/15)]
    #    = 2 * [6.931472 - 4.054651 + 5.753641] = 17.260924; p = P(chi2_1 > 17.26) = 3.2582e-05.
    g2, p = log_likelihood_test([10], [20], [0], [20])
    assert g2[0] == pytest.approx(17.260924, abs=1e-5)
    assert p[0] == pytest.approx(3.2582e-05, rel=1e-3)
    # The same statistic scipy computes for a single table.
    reference = chi2_contingency([[10, 10], [0, 20]], correction=False, lambda_="log-likelihood")
    assert g2[0] == pytest.approx(reference.statistic)


def test_log_likelihood_test_with_identical_shares_is_zero() -> None:
    g2, p = log_likelihood_test([0, 20, 3], [20, 20, 30], [0, 40, 1], [40, 40, 10])
    # 0/20 vs 0/40, 20/20 vs 40/40, 3/30 vs 1/10: identical shares -> G2 = 0, p = 1.
    np.testing.assert_allclose(g2, 0.0, atol=1e-12)
    np.testing.assert_allclose(p, 1.0)


def test_nps_difference_test_by_hand() -> None:
    # a: 5 promoters, 5 detractors of 10 -> n'=13, p'P=p'D=5.75/13=0.442308, NPS'=0,
    #    var = 0.884615/13 = 0.068047.
    # b: 10 promoters of 10 -> p'P=10.75/13=0.826923, p'D=0.75/13=0.057692, NPS'=0.769231,
    #    var = (0.884615 - 0.591716)/13 = 0.022531.
    # z = 0.769231 / sqrt(0.068047 + 0.022531) = 0.769231/0.300962 = 2.555909; p = 0.010591.
    z, p = nps_difference_test([5], [5], [10], [10], [0], [10])
    assert z[0] == pytest.approx(2.555909, abs=1e-5)
    assert p[0] == pytest.approx(0.010591, abs=1e-6)
    # Swapping the samples flips the sign and keeps p.
    z_swapped, p_swapped = nps_difference_test([10], [0], [10], [5], [5], [10])
    assert z_swapped[0] == pytest.approx(-z[0]) and p_swapped[0] == pytest.approx(p[0])


def test_mean_t_interval_by_hand() -> None:
    # Values 2, 4, 6: mean 4, sd 2, n 3; t(0.975, df=2) = 4.302653;
    # half width = 4.302653 * 2 / sqrt(3) = 4.968275 -> [-0.968275, 8.968275].
    low, high = mean_t_interval([4.0, 4.0, 3.0], [2.0, 0.0, np.nan], [3, 3, 1])
    assert low[0] == pytest.approx(-0.968275, abs=1e-6) and high[0] == pytest.approx(8.968275, abs=1e-6)
    assert low[1] == high[1] == 4.0  # no spread: the interval collapses on the mean
    assert np.isnan(low[2]) and np.isnan(high[2])  # one value: no interval


def test_bh_qvalues_by_hand_with_missing_values() -> None:
    # p sorted: 0.01 (rank 1), 0.03 (2), 0.04 (3), 0.2 (4); m = 4.
    # raw p*m/rank: 0.04, 0.06, 0.053333, 0.2; running minimum from the top: 0.04, 0.053333, 0.053333, 0.2.
    q = bh_qvalues([0.01, 0.04, np.nan, 0.03, 0.2])
    np.testing.assert_allclose(q[[0, 1, 3, 4]], [0.04, 0.0533333, 0.0533333, 0.2], atol=1e-6)
    assert np.isnan(q[2])


counts = st.integers(min_value=0, max_value=500)


@given(counts, counts, counts)
def test_nps_interval_contains_estimate_within_bounds(promoters: int, detractors: int, passives: int) -> None:
    n = promoters + detractors + passives
    estimate, low, high = adjusted_wald_nps_interval([promoters], [detractors], [n])
    if n == 0:
        assert np.isnan(estimate[0])
        return
    assert -1 <= low[0] <= estimate[0] <= high[0] <= 1
    assert -100 <= 100 * estimate[0] <= 100


@given(st.integers(min_value=1, max_value=10_000), st.floats(min_value=0, max_value=1))
def test_wilson_interval_contains_the_share(n: int, fraction: float) -> None:
    successes = round(fraction * n)
    low, high = wilson_interval([successes], [n])
    assert 0 <= low[0] <= successes / n <= high[0] <= 1


@given(
    st.lists(st.floats(min_value=1, max_value=7), min_size=1, max_size=50),
)
def test_t_interval_contains_the_mean(values: list[float]) -> None:
    array = np.asarray(values)
    sd = array.std(ddof=1) if len(array) > 1 else np.nan
    low, high = mean_t_interval([array.mean()], [sd], [len(array)])
    if len(array) < 2:
        assert np.isnan(low[0])
    else:
        assert low[0] <= array.mean() + 1e-12 and array.mean() - 1e-12 <= high[0]


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=40))
def test_bh_qvalues_are_at_least_p_and_at_most_one(p_values: list[float]) -> None:
    q = bh_qvalues(p_values)
    assert np.all(q >= np.asarray(p_values) - 1e-12) and np.all(q <= 1)


@given(counts, st.integers(min_value=1, max_value=500), counts, st.integers(min_value=1, max_value=500))
def test_proportion_tests_give_valid_p_values(xa: int, extra_a: int, xb: int, extra_b: int) -> None:
    na, nb = xa + extra_a, xb + extra_b
    _, p_z = two_proportion_test([xa], [na], [xb], [nb])
    g2, p_g = log_likelihood_test([xa], [na], [xb], [nb])
    assert 0 <= p_z[0] <= 1 and 0 <= p_g[0] <= 1 and g2[0] >= 0
