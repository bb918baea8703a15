"""customer_months, kept by the load: after any sequence of deliveries (late rows, re-runs, a replaced file,
a day re-delivered with fewer rows) it equals both a build from scratch and an independent pandas
computation over the transactions table. SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from loyalty.db import get_engine
from loyalty.derived import rebuild_customer_months
from tests.helpers import run_day, write_csv

TX_HEADER = ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel", "region"]
COLUMNS = [
    "customer_id",
    "business_month",
    "currency",
    "region",
    "first_day",
    "first_purchase_day",
    "last_purchase_day",
    "net_amount",
    "amount_before_purchase",
]


def _stored(url: str) -> pd.DataFrame:
    with get_engine(url).connect() as conn:
        frame = pd.read_sql(sa.text("select * from customer_months"), conn)
    return _normal(frame)


def _normal(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[COLUMNS].copy()
    for column in ("first_day", "first_purchase_day", "last_purchase_day"):
        frame[column] = frame[column].map(lambda v: None if v is None or v != v else str(v)[:10])
    for column in ("net_amount", "amount_before_purchase"):
        frame[column] = frame[column].astype(float).round(6)
    frame = frame.astype("object").where(frame.notna(), None)
    return frame.sort_values(["customer_id", "business_month", "currency", "region"], key=lambda s: s.astype(str))[
        COLUMNS
    ].reset_index(drop=True)


def _expected(url: str) -> pd.DataFrame:
    """customer_months worked out with pandas from the transactions table, independently of the SQL."""
    with get_engine(url).connect() as conn:
        tx = pd.read_sql(sa.text("select customer_id, business_day, amount, currency, region from transactions"), conn)
    tx["day"] = pd.to_datetime(tx["business_day"].astype(str).str[:10])
    tx["business_month"] = tx["day"].dt.strftime("%Y-%m")
    tx["amount"] = tx["amount"].astype(float)
    rows = []
    keys = ["customer_id", "business_month", "currency", "region"]
    for key, group in tx.groupby(keys, dropna=False):
        purchases = group.loc[group["amount"] > 0, "day"]
        first_purchase = purchases.min() if len(purchases) else None
        before = group if first_purchase is None else group.loc[group["day"] < first_purchase]
        rows.append(
            dict(
                zip(keys, key, strict=True),
                first_day=group["day"].min().date().isoformat(),
                first_purchase_day=None if first_purchase is None else first_purchase.date().isoformat(),
                last_purchase_day=None if first_purchase is None else purchases.max().date().isoformat(),
                net_amount=group["amount"].sum(),
                amount_before_purchase=before["amount"].sum(),
            )
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame[["currency", "region"]] = frame[["currency", "region"]].replace({np.nan: None})
    return _normal(frame)


def _transaction_rows(rng: random.Random, day: date, prefix: str) -> list[list[str]]:
    rows = []
    for i in range(rng.randint(1, 8)):
        # Mostly this day, sometimes a late row from up to 40 days before (another month, often).
        when = day - timedelta(days=rng.choice([0, 0, 0, 1, 15, 40]))
        hour = rng.choice(["00:30:00Z", "12:00:00Z", "23:30:00Z"])  # near midnight: the business day moves
        amount = rng.choice(["25.10", "7.35", "-7.35", "-2.00", "0"])
        rows.append(
            [
                f"{prefix}-{i}",
                rng.choice(["C1", "C2", "C3", "C4"]),
                f"{when.isoformat()}T{hour}",
                amount,
                rng.choice(["GBP", "GBP", "EUR"]),
                "online",
                rng.choice(["North", "", "South"]),
            ]
        )
    return rows


@pytest.mark.parametrize(
    ("whole_month_from", "zone"),
    [(1, "Pacific/Pago_Pago"), (10_000, "Pacific/Kiritimati")],
    ids=["whole-months-utc-11", "by-customer-utc+14"],
)
def test_customer_months_match_a_rebuild_after_any_sequence_of_loads(
    settings, landing, monkeypatch, whole_month_from, zone
):
    # Business days far from UTC days: rows near midnight UTC land on another business day (and month) than
    # their UTC date, which the index margin on occurred_at must still find.
    settings = settings.model_copy(update={"business_tz": zone})
    monkeypatch.setattr("loyalty.derived.WHOLE_MONTH_CUSTOMERS", whole_month_from)
    rng = random.Random(12)
    days = [date(2026, 1, 28) + timedelta(days=n) for n in range(0, 12, 2)]
    url = settings.warehouse_url
    for step in range(10):
        day = rng.choice(days)
        version = rng.randint(0, 3)
        # A file per (day, version): a later version of a day's file replaces the earlier one, with other rows
        # (the old rows leave the partition, and their customer months must be rebuilt without them).
        for old in (landing / "transactions").glob(f"{day.isoformat()}_*.csv"):
            old.unlink()
        rows = [] if version == 3 else _transaction_rows(rng, day, f"{day.isoformat()}-v{version}-s{step}")
        write_csv(landing / "transactions" / f"{day.isoformat()}_pos.csv", TX_HEADER, rows)
        run_day(settings, day, entities=["transactions"])
        stored = _stored(url)
        pd.testing.assert_frame_equal(stored, _expected(url))
    assert len(stored) > 5  # the sequence left real rows to compare

    with get_engine(url).begin() as conn:
        rebuild_customer_months(conn)
    pd.testing.assert_frame_equal(_stored(url), stored)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_rows_whose_business_month_is_not_their_utc_month_are_found(settings, landing, zone):
    """UTC+14 and UTC-11: a purchase late on 31 January UTC is in February there, one early on 1 February UTC
    is in January. The customer-by-customer rebuild finds a month's rows through occurred_at (UTC), so its range
    must reach past the month's UTC bounds."""
    settings = settings.model_copy(update={"business_tz": zone})
    day = date(2026, 2, 1)
    write_csv(
        landing / "transactions" / f"{day.isoformat()}_pos.csv",
        TX_HEADER,
        [
            ["T1", "C1", "2026-01-31T23:30:00Z", "5.00", "GBP", "online", "North"],
            ["T2", "C1", "2026-02-01T00:30:00Z", "7.00", "GBP", "online", "North"],
            ["T3", "C1", "2026-01-31T08:00:00Z", "-1.00", "GBP", "online", "North"],
            ["T4", "C1", "2026-02-01T11:30:00Z", "2.00", "GBP", "online", "North"],
        ],
    )
    run_day(settings, day, entities=["transactions"])  # 4 pending customer months: rebuilt customer by customer
    stored = _stored(settings.warehouse_url)
    pd.testing.assert_frame_equal(stored, _expected(settings.warehouse_url))
    # By hand. UTC+14: T3 is 31 January 22:00, T1 1 February 13:30, T2 1 February 14:30, T4 2 February 01:30
    # -> January -1.00, February 14.00. UTC-11: T3 30 January 21:00, T1 31 January 12:30, T2 31 January 13:30,
    # T4 1 February 00:30 -> January 11.00, February 2.00.
    expected = {"Pacific/Kiritimati": [-1.0, 14.0], "Pacific/Pago_Pago": [11.0, 2.0]}[zone]
    assert stored["business_month"].tolist() == ["2026-01", "2026-02"]
    assert stored["net_amount"].tolist() == expected


def test_rerunning_a_day_leaves_customer_months_as_they_were(settings, landing):
    day = date(2026, 3, 2)
    write_csv(
        landing / "transactions" / f"{day.isoformat()}_pos.csv",
        TX_HEADER,
        [
            ["T1", "C1", "2026-03-01T10:00:00Z", "-4.00", "GBP", "online", "North"],  # late: refund the day before
            ["T2", "C1", "2026-03-02T11:00:00Z", "10.00", "GBP", "online", "North"],
            ["T3", "C1", "2026-02-27T11:00:00Z", "5.00", "GBP", "online", "North"],  # late: February
            ["T4", "C2", "2026-03-02T11:00:00Z", "-1.50", "EUR", "phone", ""],  # refunds only
        ],
    )
    run_day(settings, day, entities=["transactions"])
    first = _stored(settings.warehouse_url)
    run_day(settings, day, run_id="again", entities=["transactions"])
    pd.testing.assert_frame_equal(_stored(settings.warehouse_url), first)
    # By hand: in March C1 was refunded 4.00 on the 1st and bought on the 2nd; February holds the late row.
    c1 = first.loc[first["customer_id"] == "C1"].set_index("business_month")
    assert c1.loc["2026-03", ["first_day", "first_purchase_day", "net_amount", "amount_before_purchase"]].tolist() == [
        "2026-03-01",
        "2026-03-02",
        6.0,
        -4.0,
    ]
    assert c1.loc["2026-02", ["first_purchase_day", "net_amount", "amount_before_purchase"]].tolist() == [
        "2026-02-27",
        5.0,
        0.0,
    ]
    c2 = first.loc[first["customer_id"] == "C2"].iloc[0]
    assert (c2["region"], c2["first_purchase_day"], c2["net_amount"], c2["amount_before_purchase"]) == (
        None,
        None,
        -1.5,
        -1.5,
    )


@pytest.mark.postgres
def test_two_rebuilds_of_one_customer_month_at_once_leave_one_row(tmp_path):
    """Two transactions (settles after two loads of different days) rebuild the same customer month; the
    second starts while the first is still open. On PostgreSQL both would delete the committed row and each
    insert its own; the month lock makes the second wait and rebuild from what the first committed."""
    from loyalty.derived import _lock_month, _rebuild_customers
    from loyalty.schema import drop_all, migrate, transactions
    from tests.databases import make_warehouse_url

    url = make_warehouse_url("postgres", tmp_path)
    engine = get_engine(url)
    drop_all(engine)
    migrate(engine)

    def load(conn: sa.Connection, transaction_id: str, day: date, amount: float) -> None:
        conn.execute(transactions.insert(), [_row(transaction_id, day, amount)])
        _lock_month(conn, "2026-05")
        _rebuild_customers(conn, "2026-05", ["C1"])

    with engine.begin() as conn:
        load(conn, "T0", date(2026, 5, 1), 1.0)
    first = engine.connect()
    first.begin()
    load(first, "T1", date(2026, 5, 2), 2.0)

    def second_load() -> None:
        with engine.begin() as conn:
            load(conn, "T2", date(2026, 5, 3), 4.0)

    other = threading.Thread(target=second_load)
    other.start()
    other.join(timeout=1.0)
    assert other.is_alive()  # waiting for the first load's month
    first.commit()
    first.close()
    other.join(timeout=30)
    assert not other.is_alive()
    stored = _stored(url)
    assert stored[["customer_id", "business_month", "net_amount"]].values.tolist() == [["C1", "2026-05", 7.0]]
    drop_all(engine)


@pytest.mark.postgres
def test_a_settle_waits_for_a_load_still_writing_its_month(tmp_path):
    """A load marks a customer month whose mark an earlier day already committed (ON CONFLICT DO NOTHING: it
    writes and locks nothing) and has not committed its rows yet. A settle now must not clear that mark and
    rebuild without those rows: it waits for the load's shared month lock, then sees them."""
    from loyalty.derived import mark_customer_months, settle_customer_months
    from loyalty.schema import drop_all, migrate, transactions
    from tests.databases import make_warehouse_url

    url = make_warehouse_url("postgres", tmp_path)
    engine = get_engine(url)
    drop_all(engine)
    migrate(engine)
    with engine.begin() as conn:  # day 1, loaded and marked, not settled yet
        conn.execute(transactions.insert(), [_row("T1", date(2026, 5, 1), 1.0)])
        mark_customer_months(conn, {("C1", "2026-05")})
    load = engine.connect()
    load.begin()  # day 2, still writing
    load.execute(transactions.insert(), [_row("T2", date(2026, 5, 2), 2.0)])
    mark_customer_months(load, {("C1", "2026-05")})

    settle = threading.Thread(target=settle_customer_months, args=(engine,))
    settle.start()
    settle.join(timeout=1.0)
    assert settle.is_alive()  # waiting for the load's month
    load.commit()
    load.close()
    settle.join(timeout=30)
    assert not settle.is_alive()
    assert _stored(url)[["customer_id", "business_month", "net_amount"]].values.tolist() == [["C1", "2026-05", 3.0]]
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from customer_months_pending")).scalar() == 0
    drop_all(engine)


def _row(transaction_id: str, day: date, amount: float) -> dict:
    return {
        "transaction_id": transaction_id,
        "customer_id": "C1",
        "occurred_at": datetime.combine(day, time(12)),
        "amount": amount,
        "currency": "GBP",
        "channel": "online",
        "region": "North",
        "business_day": day,
        "delivery_day": day,
        "source": "test",
        "run_id": "test",
        "record_hash": transaction_id,
    }


def test_a_load_that_stopped_before_settling_is_settled_by_the_metrics(settings, landing, monkeypatch):
    """The partition commits its marks; the settle after the chunk does not run (the process stopped). The
    metrics settle first, so they read the same rows as a build from scratch."""
    import tasks.load
    from tasks.metrics import compute_weeks

    monkeypatch.setattr(tasks.load, "settle_customer_months", lambda engine: 0)
    day = date(2026, 3, 2)
    write_csv(
        landing / "transactions" / f"{day.isoformat()}_pos.csv",
        TX_HEADER,
        [["T1", "C1", "2026-03-02T10:00:00Z", "10.00", "GBP", "online", "North"]],
    )
    run_day(settings, day, entities=["transactions"])
    url = settings.warehouse_url
    assert _stored(url).empty
    with get_engine(url).connect() as conn:
        assert conn.execute(sa.text("select count(*) from customer_months_pending")).scalar() == 1
    compute_weeks(get_engine(url), ["2026-W10"], settings)
    pd.testing.assert_frame_equal(_stored(url), _expected(url))
    with get_engine(url).connect() as conn:
        assert conn.execute(sa.text("select count(*) from customer_months_pending")).scalar() == 0
