"""Key drivers: Johnson's relative weights, by hand and by invariant."""

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analytics.drivers import (
    KEY_DRIVER_COLUMNS,
    compute_key_drivers,
    relative_weights,
    relative_weights_from_correlations,
)

DIMENSIONS = ["reliability", "responsiveness", "assurance", "empathy", "tangibles"]


def test_relative_weights_two_correlated_predictors_by_hand() -> None:
    # R_xx = [[1, .6], [.6, 1]], r_xy = (.7, .5).
    # Eigenvalues 1.6 and 0.4 with eigenvectors (1, 1)/sqrt2 and (1, -1)/sqrt2, so
    # Lambda = R_xx^(1/2) = [[a, b], [b, a]], a = (sqrt1.6 + sqrt0.4)/2 = 0.948683, b = (sqrt1.6 - sqrt0.4)/2 = 0.316228.
    # Lambda^-1 = [[a, -b], [-b, a]] / (a^2 - b^2) = [[a, -b], [-b, a]] / 0.8.
    # beta = Lambda^-1 r_xy = ((0.664078 - 0.158114)/0.8, (-0.221359 + 0.474342)/0.8) = (0.632456, 0.316228),
    # beta^2 = (0.4, 0.1); R^2 = 0.5 (check: (0.49 + 0.25 - 2*0.6*0.7*0.5)/(1 - 0.36) = 0.32/0.64).
    # raw_1 = a^2*0.4 + b^2*0.1 = 0.9*0.4 + 0.1*0.1 = 0.37; raw_2 = 0.1*0.4 + 0.9*0.1 = 0.13.
    raw, r2 = relative_weights_from_correlations([[1, 0.6], [0.6, 1]], [0.7, 0.5])
    np.testing.assert_allclose(raw, [0.37, 0.13], atol=1e-12)
    assert r2 == pytest.approx(0.5)


def orthogonal_design() -> tuple[np.ndarray, np.ndarray]:
    # 2^3 full factorial in a, b, c (+/-1). The contrasts a, b, c, ab, ac, abc are mutually orthogonal.
    # Predictors: a, b, c, ab, ac. Outcome y = 5 + 2a + b + abc (abc is noise orthogonal to all predictors).
    rows = list(itertools.product([-1, 1], repeat=3))
    x = np.array([[a, b, c, a * b, a * c] for a, b, c in rows], dtype=float)
    y = np.array([5 + 2 * a + b + a * b * c for a, b, c in rows], dtype=float)
    return x, y


def test_relative_weights_of_uncorrelated_predictors_are_squared_correlations() -> None:
    # With orthogonal predictors each weight is r_j^2. Var(y) parts: 4 (from 2a) + 1 (b) + 1 (abc) = 6,
    # so r_a^2 = 4/6, r_b^2 = 1/6, the rest 0, and R^2 = 5/6. Shifting predictors (3 + x) changes nothing.
    x, y = orthogonal_design()
    raw, r2 = relative_weights(3 + x, y)
    np.testing.assert_allclose(raw, [4 / 6, 1 / 6, 0, 0, 0], atol=1e-12)
    assert r2 == pytest.approx(5 / 6)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.ones((3, 2)), np.arange(3.0), "at least 4"),
        (np.column_stack([np.arange(6.0), np.ones(6)]), np.arange(6.0), "variance"),
        (np.column_stack([np.arange(6.0), 2 * np.arange(6.0)]), np.arange(6.0) % 2, "collinear"),
    ],
)
def test_relative_weights_refuse_degenerate_input(x: np.ndarray, y: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        relative_weights(x, y)


def drivers_responses(x: np.ndarray, y: np.ndarray, day: dt.date = dt.date(2026, 11, 18)) -> pd.DataFrame:
    frame = pd.DataFrame(3 + x, columns=DIMENSIONS)  # -1/+1 -> answers 2/4
    frame["nps"] = y
    frame["business_day"] = day
    return frame


def test_compute_key_drivers_by_hand() -> None:
    x, y = orthogonal_design()
    drivers = compute_key_drivers(drivers_responses(x, y), min_rows=8)
    assert list(drivers.columns) == KEY_DRIVER_COLUMNS
    assert drivers["driver"].tolist() == DIMENSIONS and (drivers["week"] == "2026-W47").all()
    # Importance = weight / R^2: (4/6)/(5/6) = 0.8 and (1/6)/(5/6) = 0.2; the rest 0.
    np.testing.assert_allclose(drivers["importance"], [0.8, 0.2, 0, 0, 0], atol=1e-12)
    assert drivers["r2"].iloc[0] == pytest.approx(5 / 6)
    assert drivers["importance_rank"].tolist()[:2] == [1, 2]
    # Performance: every dimension is 2 in half the rows and 4 in the other half -> mean 3, top-2-box 0.5.
    assert (drivers["mean"] == 3.0).all() and (drivers["top2_share"] == 0.5).all()
    assert drivers["is_estimable"].all() and (drivers["n"] == 8).all()


@pytest.mark.parametrize(
    ("change", "note"),
    [
        ("too_few", "too_few_rows"),
        ("flat_nps", "zero_variance:nps"),
        ("flat_empathy", "zero_variance:empathy"),
    ],
)
def test_compute_key_drivers_flags_instead_of_crashing(change: str, note: str) -> None:
    x, y = orthogonal_design()
    frame = drivers_responses(x, y)
    if change == "flat_nps":
        frame["nps"] = 8
    elif change == "flat_empathy":
        frame["empathy"] = 4
    drivers = compute_key_drivers(frame, min_rows=8 if change != "too_few" else 9)
    assert not drivers["is_estimable"].any() and (drivers["note"] == note).all()
    assert drivers["importance"].isna().all() and drivers["r2"].isna().all()
    assert (drivers["mean"].notna()).all()  # performance is still reported


def test_window_pools_previous_weeks_and_drops_incomplete_rows() -> None:
    x, y = orthogonal_design()
    # Four rows land in W46 and four in W47; one extra W47 row lacks empathy and is ignored.
    frame = drivers_responses(x, y)
    frame.loc[:3, "business_day"] = dt.date(2026, 11, 11)
    incomplete = frame.iloc[[0]].assign(empathy=np.nan, business_day=dt.date(2026, 11, 18))
    frame = pd.concat([frame, incomplete], ignore_index=True)
    drivers = compute_key_drivers(frame, window_weeks=2, min_rows=8)
    w47 = drivers[drivers["week"] == "2026-W47"]
    assert (w47["window_start_week"] == "2026-W46").all() and (w47["n"] == 8).all()
    np.testing.assert_allclose(w47["importance"], [0.8, 0.2, 0, 0, 0], atol=1e-12)
    w46 = drivers[drivers["week"] == "2026-W46"]
    assert (w46["n"] == 4).all() and (w46["note"] == "too_few_rows").all()


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, (40, 5), elements=st.integers(min_value=1, max_value=5).map(float)),
    arrays(np.float64, 40, elements=st.integers(min_value=0, max_value=10).map(float)),
)
def test_weights_are_non_negative_and_add_up_to_the_ols_r2(x: np.ndarray, y: np.ndarray) -> None:
    try:
        raw, r2 = relative_weights(x, y)
    except ValueError:
        return  # degenerate draw (constant or collinear column): refusing is the documented behaviour
    design = np.column_stack([np.ones(len(y)), x])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    ols_r2 = 1 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))
    assert np.all(raw >= -1e-12)
    assert raw.sum() == pytest.approx(r2, abs=1e-9) and r2 == pytest.approx(ols_r2, abs=1e-8)


def _random_design(rows: int, weights: list[float], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(rows, 5))  # answers 2 or 4, independent dimensions
    y = 5 + x @ np.array(weights) + rng.normal(0, 1.0, rows)  # NPS answers stay inside 0..10
    return x, np.clip(y, 0, 10)


def test_two_equally_strong_drivers_are_tied_and_a_clear_winner_is_not() -> None:
    # Equal weights on reliability and responsiveness (independent +/-1 dimensions, noise sd 1): each explains
    # 1 of the 3 units of variance, so each importance share is about 0.5 and a bootstrap cannot order them:
    # their 95% intervals overlap -> both tied at the top, neither tops every resample.
    x, y = _random_design(200, [1, 1, 0, 0, 0], seed=1)
    drivers = compute_key_drivers(drivers_responses(x, y), min_rows=30, bootstrap_samples=200).set_index("driver")
    assert drivers.loc[["reliability", "responsiveness"], "is_tied_top"].all()
    assert not drivers.loc[["assurance", "empathy", "tangibles"], "is_tied_top"].any()
    assert 0.1 < drivers.loc["reliability", "top_share"] < 0.9
    assert (drivers["importance_ci_low"] <= drivers["importance"]).all()
    assert (drivers["importance"] <= drivers["importance_ci_high"]).all()
    # Weight 2 vs 1: shares about 0.8 vs 0.2, intervals far apart -> a single winner in every resample.
    x, y = _random_design(200, [2, 1, 0, 0, 0], seed=1)
    clear = compute_key_drivers(drivers_responses(x, y), min_rows=30).set_index("driver")
    assert not clear["is_tied_top"].any() and clear.loc["reliability", "top_share"] == 1.0
    # The same week gives the same interval (the generator is seeded by the week label).
    again = compute_key_drivers(drivers_responses(x, y), min_rows=30).set_index("driver")
    pd.testing.assert_frame_equal(clear, again)
