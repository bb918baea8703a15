"""Cohorts, weekly retention and RFM, on ledgers small enough to follow by hand."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.retention import (
    COHORT_RETENTION_COLUMNS,
    RFM_COLUMNS,
    WEEKLY_RETENTION_COLUMNS,
    compute_cohort_retention,
    compute_rfm_segments,
    compute_weekly_retention,
)

MONDAY = dt.date(2026, 1, 5)  # Monday of 2026-W02


def ledger(rows: list[tuple[str | None, dt.date, float]], currency: str = "EUR") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "business_day", "amount"])
    frame.insert(0, "transaction_id", [f"t{i}" for i in range(len(frame))])
    frame["occurred_at"] = pd.to_datetime(frame["business_day"]).dt.tz_localize("UTC") + pd.Timedelta(hours=12)
    frame["currency"] = currency
    frame["channel"] = "online"
    frame["region"] = "north"
    return frame


def day(offset: int) -> dt.date:
    return MONDAY + dt.timedelta(days=offset)


COHORT_LEDGER = [
    ("A", dt.date(2026, 1, 5), 100.0),
    ("A", dt.date(2026, 2, 10), 50.0),
    ("A", dt.date(2026, 2, 12), -20.0),  # refund: revenue, not activity
    ("A", dt.date(2026, 3, 3), 30.0),
    ("B", dt.date(2026, 1, 20), 200.0),
    ("B", dt.date(2026, 3, 15), -50.0),  # B's March refund does not make B active in March
    ("C", dt.date(2026, 2, 1), 80.0),
    ("C", dt.date(2026, 2, 20), 20.0),
    ("D", dt.date(2026, 1, 10), -10.0),  # never purchased: no cohort
    (None, dt.date(2026, 1, 7), 999.0),  # anonymous: cannot be attributed
]


def test_cohort_matrix_by_hand() -> None:
    cohorts = compute_cohort_retention(ledger(COHORT_LEDGER), as_of=dt.date(2026, 3, 31))
    assert list(cohorts.columns) == COHORT_RETENTION_COLUMNS
    expected = pd.DataFrame(
        [
            # Jan cohort = A, B. Month 0: both active, revenue 100 + 200 = 300.
            # as_of 31 March is the month's last day: no month is partial; nobody is an existing customer.
            ("2026-01", 0, 2, 2, 1.0, 300.0, 1.0, False, False),
            # Month 1 (Feb): only A active; revenue 50 - 20 = 30 -> 30/300 = 0.1.
            ("2026-01", 1, 2, 1, 0.5, 30.0, 0.1, False, False),
            # Month 2 (Mar): A buys 30, B refunds 50 -> revenue -20, retained -20/300; only A active.
            ("2026-01", 2, 2, 1, 0.5, -20.0, -20 / 300, False, False),
            # Feb cohort = C: month 0 revenue 80 + 20 = 100; March is an empty but present cell.
            ("2026-02", 0, 1, 1, 1.0, 100.0, 1.0, False, False),
            ("2026-02", 1, 1, 0, 0.0, 0.0, 0.0, False, False),
        ],
        columns=COHORT_RETENTION_COLUMNS,
    )
    pd.testing.assert_frame_equal(cohorts, expected, check_dtype=False)


def test_customers_existing_before_the_data_form_their_own_row_and_the_running_month_is_partial() -> None:
    # The data starts 2026-01-05 (A's first transaction). A was created in 2025 and B on 2026-01-20: A is an
    # existing customer (its first purchase in the data is not its first ever), B and C are new.
    customers = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "created_at": pd.to_datetime(["2025-06-01", "2026-01-20", "2026-02-01", "2025-01-01"], utc=True),
        }
    )
    cohorts = compute_cohort_retention(ledger(COHORT_LEDGER), as_of=dt.date(2026, 3, 15), customers=customers)
    rows = cohorts.set_index(["cohort_month", "months_since"])
    # Existing row: A only (D never purchased), counted from January: active Jan, Feb, Mar.
    existing = rows.loc["existing before 2026-01-05"]
    assert existing["cohort_size"].tolist() == [1, 1, 1] and existing["active_customers"].tolist() == [1, 1, 1]
    assert existing["is_existing_customers"].all()
    # January's new-customer cohort is B alone: 200 in January, nothing bought after (a March refund).
    assert rows.loc[("2026-01", 0), "cohort_size"] == 1 and rows.loc[("2026-01", 0), "revenue"] == 200.0
    assert rows.loc[("2026-01", 2), "revenue"] == -50.0
    # as_of 15 March: every March cell is partial, earlier months are not.
    partial = cohorts.loc[cohorts["is_partial_month"]]
    assert sorted(zip(partial["cohort_month"], partial["months_since"], strict=True)) == [
        ("2026-01", 2),
        ("2026-02", 1),
        ("existing before 2026-01-05", 2),
    ]
    assert cohorts["cohort_month"].iloc[0] == "existing before 2026-01-05"  # listed first


def test_cohort_matrix_ignores_transactions_after_as_of() -> None:
    cohorts = compute_cohort_retention(ledger(COHORT_LEDGER), as_of=dt.date(2026, 1, 31))
    # Only January is known: the Jan cohort (A, B) with 300 of revenue.
    assert cohorts[["cohort_month", "months_since", "active_customers", "revenue"]].values.tolist() == [
        ["2026-01", 0, 2, 300.0]
    ]


# Days are offsets from Monday 2026-01-05 (2026-W02). Weeks: W02 0-6, W03 7-13, W04 14-20, W05 21-27, W06 28-34.
WEEKLY_LEDGER = [
    ("A", day(0), 10.0),
    ("A", day(3), 10.0),
    ("A", day(20), 10.0),
    ("A", day(22), -4.0),  # refund in W05
    ("B", day(1), 20.0),
    ("C", day(8), 5.0),
    ("C", day(9), 5.0),
    ("C", day(30), 5.0),
    (None, day(2), 999.0),
]


def test_weekly_activity_repeat_and_churn_by_hand() -> None:
    weekly = compute_weekly_retention(ledger(WEEKLY_LEDGER), as_of=day(34), churn_days=14, nrr_weeks=1)
    assert list(weekly.columns) == WEEKLY_RETENTION_COLUMNS
    assert weekly["week"].tolist() == ["2026-W02", "2026-W03", "2026-W04", "2026-W05", "2026-W06"]
    assert not weekly["is_partial_week"].any()  # day 34 is the Sunday closing W06
    # Active: W02 A, B | W03 C | W04 A | W05 nobody (a refund is not a purchase) | W06 C.
    assert weekly["active_customers"].tolist() == [2, 1, 1, 0, 1]
    # New = first purchase that week: A, B in W02, C in W03. Repeat = the rest.
    assert weekly["new_customers"].tolist() == [2, 1, 0, 0, 0]
    np.testing.assert_array_equal(weekly["repeat_rate"], [0.0, 0.0, 1.0, np.nan, 1.0])
    # Churn after 14 days without a purchase. Spells and churn days:
    #   A: 0, 3 | gap 17 > 14 | 20  -> churn days 3+14 = 17 (W04) and 20+14 = 34 (W06, = as_of, observed)
    #   B: 1                        -> churn day 15 (W04)
    #   C: 8, 9 | gap 21 > 14 | 30  -> churn day 23 (W05); 30+14 = 44 is after as_of
    # At risk at week start = alive at the end of the previous Sunday:
    #   W02: nobody yet; W03 (day 6): A, B; W04 (day 13): A, B, C; W05 (day 20): A (new spell), C;
    #   W06 (day 27): A only (C churned on 23 and returns on 30).
    assert weekly["at_risk_customers"].tolist() == [0, 2, 3, 2, 1]
    assert weekly["churned_customers"].tolist() == [0, 0, 2, 1, 1]
    np.testing.assert_array_equal(weekly["churn_rate"], [np.nan, 0.0, 2 / 3, 0.5, 1.0])
    # Net revenue, anonymous 999 excluded: W02 10+10+20, W03 5+5, W04 10, W05 -4, W06 5.
    assert weekly["revenue"].tolist() == [40.0, 10.0, 10.0, -4.0, 5.0]


def test_net_revenue_retention_by_hand() -> None:
    one = compute_weekly_retention(ledger(WEEKLY_LEDGER), as_of=day(34), churn_days=14, nrr_weeks=1)
    # nrr_weeks=1: base = last week's buyers; NRR = their revenue this week / last week.
    #   W03: base A, B (40 in W02) -> 0 in W03 -> 0.   W04: base C (10) -> 0.
    #   W05: base A (10 in W04) -> -4 (refund) -> -0.4. W06: nobody bought in W05 -> undefined.
    np.testing.assert_array_equal(one["net_revenue_retention"], [np.nan, 0.0, 0.0, -0.4, np.nan])
    assert one["nrr_base_customers"].tolist()[1:] == [2, 1, 1, 0] and pd.isna(one["nrr_base_customers"][0])
    two = compute_weekly_retention(ledger(WEEKLY_LEDGER), as_of=day(34), churn_days=14, nrr_weeks=2)
    # nrr_weeks=2, first defined in W05: prior W02-W03 buyers A, B, C spent 40 + 10 = 50;
    # in W04-W05 they spent 10 - 4 = 6 -> 0.12. W06: prior W03-W04 buyers C, A spent 10 + 10 = 20;
    # in W05-W06: A -4, C +5 = 1 -> 0.05.
    np.testing.assert_allclose(two["net_revenue_retention"], [np.nan, np.nan, np.nan, 0.12, 0.05])
    assert two["nrr_base_revenue"].tolist()[3:] == [50.0, 20.0]
    # Beside NRR, for the same periods, everyone's revenue split by returning and new customers.
    # W05: current W04-W05 revenue = 10 - 4 (A) = 6, all from customers who first bought before W04
    # (A, B, C): returning 6, new 0; the prior period W02-W03 had 50.
    # With a new customer E buying 30 on day 31 (W06): W06's current W05-W06 = A -4 + C 5 + E 30 = 31;
    # returning 1, new 30; prior W03-W04 = 10 + 10 = 20. NRR stays 0.05, which would read as a 95% fall,
    # while total revenue rose from 20 to 31.
    two = compute_weekly_retention(
        ledger([*WEEKLY_LEDGER, ("E", day(31), 30.0)]), as_of=day(34), churn_days=14, nrr_weeks=2
    )
    assert two["net_revenue_retention"].tolist()[4] == pytest.approx(0.05)
    assert two["period_revenue"].tolist()[3:] == [6.0, 31.0]
    assert two["prior_period_revenue"].tolist()[3:] == [50.0, 20.0]
    assert two["period_revenue_returning"].tolist()[3:] == [6.0, 1.0]
    assert two["period_revenue_new"].tolist()[3:] == [0.0, 30.0]


@pytest.mark.parametrize(
    ("second_purchase", "churned"),
    [
        # Gap of exactly churn_days (14): the purchase lands on the would-be churn day and resets the clock,
        # so the only churn is 14 + 14 = day 28 (W06).
        (14, [0, 0, 0, 0, 1]),
        # Gap of 15: churned on day 14 (W04), back on day 15, churned again on 15 + 14 = 29 (W06).
        (15, [0, 0, 1, 0, 1]),
    ],
)
def test_churn_needs_more_than_churn_days_without_a_purchase(second_purchase: int, churned: list[int]) -> None:
    frame = ledger([("E", day(0), 10.0), ("E", day(second_purchase), 10.0)])
    weekly = compute_weekly_retention(frame, as_of=day(34), churn_days=14)
    assert weekly["churned_customers"].tolist() == churned


def test_partial_last_week_is_flagged_and_future_churn_is_not_counted() -> None:
    weekly = compute_weekly_retention(ledger(WEEKLY_LEDGER), as_of=day(31), churn_days=14)
    assert weekly["is_partial_week"].tolist() == [False, False, False, False, True]
    assert weekly["churned_customers"].iloc[-1] == 0  # A's churn day 34 lies after as_of (31)


@pytest.mark.parametrize("churn_days", [0, 6])
def test_churn_window_shorter_than_a_week_is_refused(churn_days: int) -> None:
    with pytest.raises(ValueError, match="churn_days"):
        compute_weekly_retention(ledger(WEEKLY_LEDGER), churn_days=churn_days)


def test_several_currencies_are_refused() -> None:
    mixed = pd.concat([ledger(WEEKLY_LEDGER[:2]), ledger(WEEKLY_LEDGER[2:4], currency="GBP")])
    with pytest.raises(ValueError, match="EUR, GBP"):
        compute_cohort_retention(mixed)


AS_OF = dt.date(2026, 3, 31)


def purchases_for(customer: str, count: int, last_recency: int, total: float) -> list[tuple[str, dt.date, float]]:
    # `count` purchases, the last one `last_recency` days before AS_OF, spread 2 days apart.
    return [(customer, AS_OF - dt.timedelta(days=last_recency + 2 * i), total / count) for i in range(count)]


def test_rfm_scores_and_segments_by_hand() -> None:
    rows = (
        purchases_for("c1", 1, 1, 500)
        + purchases_for("c2", 2, 10, 100)
        + purchases_for("c3", 3, 20, 300)
        + purchases_for("c4", 4, 30, 200)
        + purchases_for("c5", 5, 40, 400)
    )
    rfm = compute_rfm_segments(ledger(rows), as_of=AS_OF, lookback_days=None)
    assert list(rfm.columns) == RFM_COLUMNS
    # n = 5 customers in 5 bins: score = ceil(rank * 5/5) = rank.
    # R ranks on -recency: c5 (40 days) 1, c4 2, c3 3, c2 4, c1 (1 day) 5.
    # F ranks on count: c1 1 ... c5 5. M ranks on spend: c2 100 -> 1, c4 200 -> 2, c3 300 -> 3, c5 400 -> 4,
    # c1 500 -> 5.
    assert rfm["customer_id"].tolist() == ["c1", "c2", "c3", "c4", "c5"]
    assert rfm["recency_days"].tolist() == [1, 10, 20, 30, 40]
    assert rfm["r_score"].tolist() == [5, 4, 3, 2, 1]
    assert rfm["f_score"].tolist() == [1, 2, 3, 4, 5]
    assert rfm["m_score"].tolist() == [5, 1, 3, 2, 4]
    assert rfm["rfm_score"].tolist() == ["515", "421", "333", "242", "154"]
    # Rules in order: c1 R5 F1 -> new; c2 R4 F2 -> promising; c3 R3 F3 -> needs_attention;
    # c4 R2 F4 and c5 R1 F5 -> at_risk (R <= 2 and F >= 3 comes before loyal).
    assert rfm["rfm_segment"].tolist() == ["new", "promising", "needs_attention", "at_risk", "at_risk"]


def test_rfm_ties_are_split_by_customer_id() -> None:
    # Ten customers with one purchase each: every frequency ties at 1. Ordered by customer_id,
    # rank(method="first") gives 1..10 and score = ceil(rank * 5 / 10) -> 1,1,2,2,3,3,4,4,5,5.
    rows = [(f"c{i:02d}", AS_OF, 10.0) for i in range(10, 0, -1)]  # reverse order on purpose
    rfm = compute_rfm_segments(ledger(rows), as_of=AS_OF)
    assert rfm["customer_id"].tolist() == [f"c{i:02d}" for i in range(1, 11)]
    assert rfm["f_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_rfm_lookback_window_and_refunds() -> None:
    rows = [
        ("a", AS_OF - dt.timedelta(days=400), 1000.0),  # outside the 365-day window
        ("a", AS_OF - dt.timedelta(days=5), 50.0),
        ("a", AS_OF - dt.timedelta(days=4), -20.0),  # refund lowers monetary, not frequency
        ("b", AS_OF + dt.timedelta(days=1), 70.0),  # after as_of: unknown yet
        ("b", AS_OF - dt.timedelta(days=9), 70.0),
    ]
    rfm = compute_rfm_segments(ledger(rows), as_of=AS_OF).set_index("customer_id")
    assert rfm.loc["a", "frequency"] == 1 and rfm.loc["a", "monetary"] == 30.0
    assert rfm.loc["b", "frequency"] == 1 and rfm.loc["b", "monetary"] == 70.0
    assert rfm.loc["a", "recency_days"] == 5


def test_inputs_are_not_mutated() -> None:
    frame = ledger(WEEKLY_LEDGER)
    snapshot = frame.copy()
    compute_weekly_retention(frame, churn_days=14)
    compute_cohort_retention(frame)
    compute_rfm_segments(frame, as_of=day(34))
    pd.testing.assert_frame_equal(frame, snapshot)


transactions_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.integers(min_value=0, max_value=200),
        st.one_of(st.floats(min_value=1, max_value=100), st.floats(min_value=-50, max_value=-1)),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(transactions_strategy)
def test_shares_and_rates_stay_in_range(rows: list[tuple[str, int, float]]) -> None:
    frame = ledger([(customer, day(offset), amount) for customer, offset, amount in rows])
    cohorts = compute_cohort_retention(frame)
    if len(cohorts):
        assert cohorts["customer_share"].between(0, 1).all()
        assert (cohorts.loc[cohorts["months_since"] == 0, "customer_share"] == 1).all()
        assert (cohorts["active_customers"] <= cohorts["cohort_size"]).all()
    weekly = compute_weekly_retention(frame, churn_days=30)
    assert weekly["repeat_rate"].dropna().between(0, 1).all()
    assert weekly["churn_rate"].dropna().between(0, 1).all()
    assert (weekly["churned_customers"] <= weekly["at_risk_customers"]).all()
    assert (weekly["at_risk_customers"] >= 0).all()
