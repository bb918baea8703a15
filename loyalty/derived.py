"""Derived state the load keeps current, so that the weekly metrics never read all history.

``customer_months`` (loyalty/schema.py) holds, per customer x currency x region x month of business day, the
first day, the first and last purchase days, the net amount and what the rows dated before the month's first
purchase add up to. It is all the metrics need from the months before the window they read
(``sql/metrics/customer_history.sql``, ``cohort_cells.sql``; analytics/history.py).

How it stays exact:

1. The transaction that replaces a delivery partition of transactions also marks every (customer, month) the
   partition held before or holds now as pending (:func:`mark_customer_months`, table
   ``customer_months_pending``). A crash leaves both or neither.
2. :func:`settle_customer_months` rebuilds the pending rows from the transactions table itself and clears their
   marks, month by month, each month in one transaction. The load calls it once per chunk of delivery days
   (tasks/load.py), and the metrics call it before they read (tasks/metrics.py), so a load that stopped between
   the two is settled by whoever comes next.

A month with few pending customers is rebuilt customer by customer through the customer index (a nightly run:
about 0.5 s for 7,500 customers at two years of history on SQLite); a month with many (a backfill chunk) is
rebuilt whole from its own days (about 2 s for a month of 240,000 transactions), so a chunk of 28 days pays for
its two or three months once instead of for every day. Either way the rows equal a build from scratch
(tests/loyalty/test_derived.py).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable

import sqlalchemy as sa

from loyalty.db import load_sql
from loyalty.schema import customer_months, customer_months_pending

#: Ids per statement: under SQLite's older limit of 999 bound parameters.
_IDS_PER_STATEMENT = 900
#: From this many pending customers on, a month is rebuilt whole: one pass over its days costs about what
#: 20,000 customer lookups do (measured at two years of history on SQLite: 2 s vs 0.5 s per 7,500 customers).
WHOLE_MONTH_CUSTOMERS = 20_000
#: occurred_at is UTC, business_day the business time zone's day: they differ by under a day (offsets are at
#: most 14 hours); two days of margin keep the index range safe whatever the session's time zone, and whatever
#: text SQLite compares (tasks/metrics.py reads the cases' purchases with the same margin; the cases look only
#: at what follows each opening, so the extra rows change nothing).
OCCURRED_MARGIN = dt.timedelta(days=2)


def month_of(day: dt.date) -> str:
    """The business_month of a day: 'YYYY-MM'."""
    return day.isoformat()[:7]


def partition_customer_months(conn: sa.Connection, delivery_day: dt.date) -> set[tuple[str, str]]:
    """The (customer_id, business_month) pairs of the transactions a delivery partition holds now."""
    statement = load_sql("derived/partition_customer_days").bindparams(sa.bindparam("delivery_day", type_=sa.Date()))
    rows = conn.execute(statement, {"delivery_day": delivery_day})
    return {(customer_id, month_of(_as_date(day))) for customer_id, day in rows if customer_id is not None}


def mark_customer_months(conn: sa.Connection, keys: Iterable[tuple[str, str]]) -> None:
    """Mark (customer_id, 'YYYY-MM') pairs as pending, inside ``conn``'s transaction (a partition's).

    On PostgreSQL the transaction first takes each month's lock shared (in month order), held until it commits:
    a mark that already exists is left as it is and locks nothing, so without it a settle could clear that mark
    and rebuild the month before this partition's rows are visible, and nothing would rebuild it after. A settle
    takes the month's lock exclusively, so it waits for the loads still writing that month."""
    rows = sorted({(m, c) for c, m in keys})
    if not rows:
        return
    for month in sorted({m for m, _ in rows}):
        _lock_month(conn, month, shared=True)
    # The driver's executemany of plain tuples: SQLAlchemy's executemany of dicts took 95 ms for a day's 7,500
    # marks at two years of history (a tenth of a day's load); both dialects know ON CONFLICT DO NOTHING.
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    statement = (
        f"insert into {customer_months_pending.name} (business_month, customer_id) values ({mark}, {mark}) "
        "on conflict do nothing"
    )
    driver = conn.connection.driver_connection
    assert driver is not None, "a checked-out connection always has its DBAPI connection"
    cursor = driver.cursor()
    try:
        cursor.executemany(statement, rows)
    finally:
        cursor.close()


def settle_customer_months(engine: sa.Engine) -> int:
    """Rebuild every pending customer month from the transactions and clear its mark; returns the months done.

    Each month is one transaction: its marks are deleted first, then its rows rebuilt, so a load that commits
    meanwhile either is seen by the rebuild or leaves a mark of its own for the next settle."""
    with engine.connect() as conn:
        months = [m for (m,) in conn.execute(sa.select(customer_months_pending.c.business_month).distinct())]
    for month in sorted(months):
        with engine.begin() as conn:
            _lock_month(conn, month)
            pending = customer_months_pending.c
            ids = sorted(
                c for (c,) in conn.execute(sa.select(pending.customer_id).where(pending.business_month == month))
            )
            if len(ids) >= WHOLE_MONTH_CUSTOMERS:
                conn.execute(customer_months_pending.delete().where(pending.business_month == month))
                _rebuild_month(conn, month)
                continue
            for i in range(0, len(ids), _IDS_PER_STATEMENT):
                chunk = ids[i : i + _IDS_PER_STATEMENT]
                conn.execute(
                    customer_months_pending.delete().where(
                        (pending.business_month == month) & pending.customer_id.in_(chunk)
                    )
                )
                _rebuild_customers(conn, month, chunk)
    return len(months)


def rebuild_customer_months(conn: sa.Connection) -> None:
    """Build customer_months from every transaction, month by month, inside ``conn``'s transaction (the
    migration that adds it, a repair); nothing is left pending."""
    conn.execute(customer_months_pending.delete())
    conn.execute(customer_months.delete())
    bounds = conn.execute(load_sql("derived/transaction_days")).one()
    if bounds.first_day is None:
        return
    month = month_of(_as_date(bounds.first_day))
    while month <= month_of(_as_date(bounds.last_day)):
        _rebuild_month(conn, month, delete=False)
        month = month_of(_month_bounds(month)[1])


def _rebuild_month(conn: sa.Connection, month: str, *, delete: bool = True) -> None:
    """Replace every customer_months row of ``month`` with what its transactions say."""
    if delete:
        conn.execute(customer_months.delete().where(customer_months.c.business_month == month))
    first, following = _month_bounds(month)
    statement = load_sql("derived/customer_months_of_month").bindparams(
        sa.bindparam("first_day", type_=sa.Date()), sa.bindparam("next_month_day", type_=sa.Date())
    )
    conn.execute(statement, {"business_month": month, "first_day": first, "next_month_day": following})


def _rebuild_customers(conn: sa.Connection, month: str, ids: list[str]) -> None:
    """Replace the customer_months rows of ``ids`` (at most _IDS_PER_STATEMENT) in ``month``."""
    rows = customer_months.c
    conn.execute(customer_months.delete().where((rows.business_month == month) & rows.customer_id.in_(ids)))
    first, following = _month_bounds(month)
    statement = load_sql("derived/customer_months_of_customers").bindparams(
        sa.bindparam("customer_ids", expanding=True),
        sa.bindparam("first_day", type_=sa.Date()),
        sa.bindparam("next_month_day", type_=sa.Date()),
        sa.bindparam("occurred_from", type_=sa.DateTime(timezone=True)),
        sa.bindparam("occurred_until", type_=sa.DateTime(timezone=True)),
    )
    conn.execute(
        statement,
        {
            "customer_ids": ids,
            "business_month": month,
            "first_day": first,
            "next_month_day": following,
            "occurred_from": dt.datetime.combine(first, dt.time()) - OCCURRED_MARGIN,
            "occurred_until": dt.datetime.combine(following, dt.time()) + OCCURRED_MARGIN,
        },
    )


def _lock_month(conn: sa.Connection, month: str, *, shared: bool = False) -> None:
    """Hold one month's lock until this transaction ends: exclusive for a settle, shared for a load marking it.
    Two settles at once (a nightly run beside a replay) would, on PostgreSQL, both delete the committed row and
    each insert its own, leaving two; see mark_customer_months for the loads. SQLite's BEGIN IMMEDIATE already
    holds the database write lock."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"customer_months:{month}".encode())
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        conn.execute(sa.text(f"select {function}(:key)"), {"key": key})


def _month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """The first day of ``month`` ('YYYY-MM') and of the month after it."""
    first = dt.date.fromisoformat(f"{month}-01")
    return first, (first + dt.timedelta(days=31)).replace(day=1)


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
