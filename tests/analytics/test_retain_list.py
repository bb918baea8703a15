"""The RETAIN list and email masking."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics.retain_list import RETAIN_COLUMNS, build_retain_list, mask_email, mask_emails

SUNDAY = dt.date(2026, 11, 22)  # end of 2026-W47 and the default as_of


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("jane@example.com", "j***@example.com"),
        ("J@x.org", "J***@x.org"),
        ("  jo@x.com ", "j***@x.com"),
        ("a@b@c.com", "a***@c.com"),  # the domain is after the last "@"
        ("@x.org", "***@x.org"),
        ("no-at-sign", "***"),  # not an email: reveal nothing
        ("jo@", "***"),
        (None, None),
        (np.nan, None),
    ],
)
def test_mask_email(email: object, masked: str | None) -> None:
    assert mask_email(email) == masked  # type: ignore[arg-type]


def test_mask_emails_series_matches_scalar_and_keeps_index() -> None:
    emails = pd.Series(["jane@example.com", None, "x"], index=[7, 8, 9])
    masked = mask_emails(emails)
    assert masked.index.tolist() == [7, 8, 9]
    assert masked.tolist() == ["j***@example.com", None, "***"]


def ago(days: int) -> dt.date:
    return SUNDAY - dt.timedelta(days=days)


def transactions() -> pd.DataFrame:
    rows = [
        # V1: every 21 days, last 64 days ago; 3 x 300 = 900 in the last year.
        ("V1", ago(106), 300.0),
        ("V1", ago(85), 300.0),
        ("V1", ago(64), 300.0),
        ("V1", SUNDAY + dt.timedelta(days=3), 300.0),  # after as_of: unknown on the Sunday
        # V2: every 10 days, last 10 days ago: on rhythm. 750.
        ("V2", ago(30), 250.0),
        ("V2", ago(20), 250.0),
        ("V2", ago(10), 250.0),
        # V3: big spender with only two purchase days: no rhythm to judge. 800.
        ("V3", ago(200), 400.0),
        ("V3", ago(100), 400.0),
        # L1: overdue (80 days vs usual 10) but spends little: 30.
        ("L1", ago(100), 10.0),
        ("L1", ago(90), 10.0),
        ("L1", ago(80), 10.0),
        # L2: one purchase 5 days ago: 50.
        ("L2", ago(5), 50.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "business_day", "amount"])
    frame["occurred_at"] = pd.to_datetime(frame["business_day"]).dt.tz_localize("UTC")
    frame["currency"] = "EUR"
    return frame


def responses() -> pd.DataFrame:
    rows = [
        ("r1", "L2", 3, dt.date(2026, 11, 18), "phone"),
        ("r2", "V2", 6, dt.date(2026, 11, 20), "email"),
        ("r3", "V2", 4, dt.date(2026, 11, 17), "online"),
        ("r4", None, 0, dt.date(2026, 11, 18), "comment_card"),  # anonymous: nobody to call
        ("r5", "V1", 2, dt.date(2026, 11, 21), "in_store"),
        ("r6", "V3", 9, dt.date(2026, 11, 19), "online"),  # promoter
        ("r7", "L1", 1, dt.date(2026, 11, 10), "phone"),  # previous week
    ]
    frame = pd.DataFrame(rows, columns=["response_id", "customer_id", "nps", "business_day", "channel"])
    frame["submitted_at"] = pd.to_datetime(frame["business_day"]).dt.tz_localize("UTC")
    return frame


CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["V1", "V2", "V3", "L1", "L2"],
        "email": ["victor@example.com", None, "vera@example.com", "lou@example.com", "lee@shop.co.uk"],
        "region": ["north", "south", "north", "east", "west"],
        "segment": ["gold", "gold", None, "bronze", "silver"],
        "created_at": pd.Timestamp("2024-01-01", tz="UTC"),
    }
)


def test_retain_list_by_hand() -> None:
    retain = build_retain_list(responses(), transactions(), CUSTOMERS, week="2026-W47")
    assert list(retain.columns) == RETAIN_COLUMNS
    # Monetary quintiles over 5 customers (score = rank): L1 30 -> 1, L2 50 -> 2, V2 750 -> 3, V3 800 -> 4,
    # V1 900 -> 5. Valuable (score >= 4): V3, V1. V3 has 2 purchase days (< 3): no rhythm.
    # V1: gaps 21, 21 -> usual 21; 64 days since > 2 x 21 -> overdue. L1 is overdue but not valuable.
    # Detractors this week with a customer_id: L2 (3), V2 (4 and 6), V1 (2). r7 is last week's.
    # Ranked by trailing-year spend: V1 900, V2 750, L2 50.
    assert retain["customer_id"].tolist() == ["V1", "V2", "L2"]
    assert retain["rank"].tolist() == [1, 2, 3]
    assert retain["value_at_risk"].tolist() == [900.0, 750.0, 50.0]
    assert retain["reason"].tolist() == [
        "Detractor (NPS 2) on 2026-11-21 via in_store; Overdue: 64 days since last purchase vs usual 21",
        "Detractor (NPS 4) on 2026-11-17 via online; Detractor (NPS 6) on 2026-11-20 via email",
        "Detractor (NPS 3) on 2026-11-18 via phone",
    ]
    assert retain["nps"].tolist() == [2, 4, 3]  # the lowest score of the week
    assert retain["is_overdue"].tolist() == [True, False, False]
    assert retain["is_detractor"].all()
    assert retain["days_since_last_purchase"].tolist() == [64, 10, 5]
    np.testing.assert_array_equal(retain["usual_gap_days"], [21.0, 10.0, np.nan])
    assert retain["email_masked"].tolist() == ["v***@example.com", None, "l***@shop.co.uk"]
    assert (retain["week"] == "2026-W47").all()


def test_overdue_factor_and_minimum_purchases_are_parameters() -> None:
    no_detractors = responses().iloc[0:0]
    # k = 4: V1 needs > 84 days; 64 is not enough -> nobody is overdue.
    assert build_retain_list(no_detractors, transactions(), CUSTOMERS, week="2026-W47", overdue_factor=4).empty
    # min_purchases = 2 lets V3 in: gap 100, 100 days since its last purchase > 2 x 100? No -> still out.
    # min_monetary_score = 1 lets L1 in: 80 days since vs usual 10 -> overdue.
    retain = build_retain_list(no_detractors, transactions(), CUSTOMERS, week="2026-W47", min_monetary_score=1)
    assert retain["customer_id"].tolist() == ["V1", "L1"]
    assert retain["reason"].tolist()[1] == "Overdue: 80 days since last purchase vs usual 10"


def test_no_full_email_ever_leaves_the_module() -> None:
    retain = build_retain_list(responses(), transactions(), CUSTOMERS, week="2026-W47", min_monetary_score=1)
    text = retain.astype("str").to_string()
    for email in CUSTOMERS["email"].dropna():
        assert email not in text
    assert "email" not in retain.columns


def test_bad_week_label_raises() -> None:
    with pytest.raises(ValueError, match="2026-W99"):
        build_retain_list(responses(), transactions(), CUSTOMERS, week="2026-W99")


def test_detractors_come_first_then_overdue_customers_by_value_and_last_weeks_list_is_marked() -> None:
    # Only L2 (NPS 3, spend 50) is a detractor this week; V1 (900, overdue) and L1 (30, overdue once every
    # customer counts as valuable) are not. Old order by spend: V1, L2, L1. New: the detractor L2 first,
    # then the overdue by value at risk: V1 (900), L1 (30).
    only_l2 = responses().loc[lambda f: f["response_id"] == "r1"]
    retain = build_retain_list(
        only_l2, transactions(), CUSTOMERS, week="2026-W47", min_monetary_score=1, previous_list={"V1", "X9"}
    )
    assert retain["customer_id"].tolist() == ["L2", "V1", "L1"]
    assert retain["rank"].tolist() == [1, 2, 3]
    assert retain["is_detractor"].tolist() == [True, False, False]
    assert retain["is_on_previous_list"].tolist() == [False, True, False]
