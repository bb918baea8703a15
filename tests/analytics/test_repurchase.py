"""Do detractors buy again? Repurchase within 90 days by NPS group, worked by hand."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics.repurchase import (
    REPURCHASE_COLUMNS,
    compare_repurchase_by_nps_group,
    compute_repurchase_by_nps_group,
    nps_group,
)

AS_OF = dt.date(2026, 6, 30)


def responses_frame(rows: list[tuple[str, str | None, float, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["response_id", "customer_id", "nps", "submitted_at"])
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True, format="ISO8601")
    frame["business_day"] = frame["submitted_at"].dt.date
    return frame


def purchases_frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "occurred_at", "amount"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True, format="ISO8601")
    frame["business_day"] = frame["occurred_at"].dt.date
    frame["currency"] = "EUR"
    return frame


RESPONSES = responses_frame(
    [
        ("r01", "P1", 10, "2026-03-01 10:00"),
        ("r02", "P2", 9, "2026-03-01 10:00"),
        ("r03", "P3", 9, "2026-03-02 12:00"),
        ("r04", "D1", 3, "2026-03-05 12:00"),
        ("r05", "D2", 0, "2026-03-05 12:00"),
        ("r06", "D3", 6, "2026-03-10 12:00"),
        ("r07", "X1", 8, "2026-03-10 12:00"),
        ("r08", "P1", 2, "2026-05-01 12:00"),  # window ends 2026-07-30 > as_of: not eligible yet
        ("r09", None, 0, "2026-03-10 12:00"),  # anonymous card: cannot be followed
        ("r10", "P4", np.nan, "2026-03-10 12:00"),  # no NPS given
        ("r11", "D4", 5, "2026-03-20 12:00"),  # D4 answers twice; the later answer (r12) counts
        ("r12", "D4", 9, "2026-03-25 12:00"),
    ]
)
PURCHASES = purchases_frame(
    [
        ("P1", "2026-03-01 09:00", 20),  # the purchase that triggered the survey: before it, not counted
        ("P1", "2026-04-15 12:00", 20),  # bought again -> yes
        ("P2", "2026-03-01 11:00", 20),  # same day but after the response -> yes
        ("P3", "2026-03-02 08:00", 20),  # only before the response -> no
        ("D1", "2026-06-03 12:00", 20),  # exactly 90 days after the response -> yes (window is inclusive)
        ("D2", "2026-06-03 12:00:01", 20),  # one second too late -> no
        ("D3", "2026-03-20 12:00", -20),  # a refund is not a purchase -> no
        ("X1", "2026-03-20 12:00", 20),  # -> yes
        ("D4", "2026-03-22 12:00", 20),  # between D4's two answers, before the one that counts -> no
    ]
)


def test_repurchase_rates_by_group_by_hand() -> None:
    rates = compute_repurchase_by_nps_group(RESPONSES, PURCHASES, as_of=AS_OF)
    assert list(rates.columns) == REPURCHASE_COLUMNS
    # detractors D1 (yes), D2 (no), D3 (no) -> 1/3; passives X1 (yes) -> 1/1;
    # promoters P1 (yes), P2 (yes), P3 (no), D4 via r12 (no) -> 2/4; all 4/8.
    assert rates["nps_group"].tolist() == ["detractor", "passive", "promoter", "all"]
    assert rates["respondents"].tolist() == [3, 1, 4, 8]
    assert rates["repurchasers"].tolist() == [1, 1, 2, 4]
    np.testing.assert_allclose(rates["repurchase_rate"], [1 / 3, 1.0, 0.5, 0.5])
    assert (rates["ci_low"] <= rates["repurchase_rate"]).all() and (rates["repurchase_rate"] <= rates["ci_high"]).all()


def test_only_responses_whose_window_has_elapsed_count() -> None:
    # Detractor windows end: r04, r05 2026-03-05 + 90 days = 2026-06-03; r06 2026-03-10 + 90 = 2026-06-08.
    # On 2026-06-02 none has elapsed; on 2026-06-03 (inclusive) r04 and r05 have.
    for as_of, detractors in [(dt.date(2026, 6, 2), 0), (dt.date(2026, 6, 3), 2), (dt.date(2026, 6, 8), 3)]:
        rates = compute_repurchase_by_nps_group(RESPONSES, PURCHASES, as_of=as_of).set_index("nps_group")
        assert rates.loc["detractor", "respondents"] == detractors
    # A shorter window makes r08 (2026-05-01 + 30 = 2026-05-31) eligible, so P1 now counts as a detractor.
    short = compute_repurchase_by_nps_group(RESPONSES, PURCHASES, as_of=AS_OF, window_days=30).set_index("nps_group")
    assert short.loc["detractor", "respondents"] == 4


def test_a_purchase_at_the_response_timestamp_is_not_a_repurchase() -> None:
    # Strictly after the response: the purchase stamped at the very same instant is the one that triggered it.
    response = responses_frame([("r1", "Z", 10, "2026-03-01 10:00")])
    for moment, expected in [("2026-03-01 10:00:00", 0), ("2026-03-01 10:00:01", 1)]:
        rates = compute_repurchase_by_nps_group(response, purchases_frame([("Z", moment, 5.0)]), as_of=AS_OF)
        assert rates.set_index("nps_group").loc["promoter", "repurchasers"] == expected


def test_comparisons_by_hand() -> None:
    rates = compute_repurchase_by_nps_group(RESPONSES, PURCHASES, as_of=AS_OF)
    tests = compare_repurchase_by_nps_group(rates).set_index("comparison")
    # Table (bought, not): detractor (1, 2), passive (1, 0), promoter (2, 2); column totals 4, 4; N 8.
    # Expected: (1.5, 1.5), (0.5, 0.5), (2, 2).
    # chi2 = 0.25/1.5 * 2 + 0.25/0.5 * 2 + 0 = 1.333333, dof 2, p = exp(-1.333333/2) = 0.513417.
    assert tests.loc["all_groups", "statistic"] == pytest.approx(4 / 3)
    assert tests.loc["all_groups", "dof"] == 2
    assert tests.loc["all_groups", "p_value"] == pytest.approx(0.513417, abs=1e-6)
    # Detractor 1/3 vs promoter 2/4: pooled 3/7; se = sqrt(3/7 * 4/7 * (1/3 + 1/4)) = 0.377964;
    # difference -0.166667, z = -0.440959, p = 0.659243.
    assert tests.loc["detractor_vs_promoter", "difference"] == pytest.approx(-1 / 6)
    assert tests.loc["detractor_vs_promoter", "statistic"] == pytest.approx(-0.440959, abs=1e-6)
    assert tests.loc["detractor_vs_promoter", "p_value"] == pytest.approx(0.659243, abs=1e-6)
    assert not tests["is_significant"].any()


def test_comparisons_without_variation_or_groups() -> None:
    everyone_bought = pd.DataFrame(
        {"nps_group": ["detractor", "passive", "promoter"], "respondents": [3, 2, 4], "repurchasers": [3, 2, 4]}
    )
    tests = compare_repurchase_by_nps_group(everyone_bought).set_index("comparison")
    assert tests.loc["all_groups", "statistic"] == 0.0 and tests.loc["all_groups", "p_value"] == 1.0
    no_promoters = everyone_bought.assign(respondents=[3, 2, 0], repurchasers=[1, 2, 0])
    tests = compare_repurchase_by_nps_group(no_promoters).set_index("comparison")
    assert np.isnan(tests.loc["detractor_vs_promoter", "p_value"])
    assert tests.loc["all_groups", "dof"] == 1  # promoters left out: 2 groups


@pytest.mark.parametrize(
    ("score", "group"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"), (10, "promoter")],
)
def test_nps_group_boundaries(score: int, group: str) -> None:
    assert nps_group(pd.Series([score])).iloc[0] == group


def test_nps_group_keeps_missing_missing() -> None:
    assert pd.isna(nps_group(pd.Series([np.nan])).iloc[0])


def test_no_eligible_responses_gives_empty_groups() -> None:
    rates = compute_repurchase_by_nps_group(RESPONSES, PURCHASES, as_of=dt.date(2026, 1, 1))
    assert rates["respondents"].tolist() == [0, 0, 0, 0] and rates["repurchase_rate"].isna().all()
