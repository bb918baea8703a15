"""Derived state the load keeps current, so that the weekly metrics never read all history.

``customer_months`` (loyalty/schema.py) holds, per customer x currency x region x month of business day, the
first day, the first and last purchase days, the net amount and what the rows dated before the month's first
purchase add up to. It is all the metrics need from the months before the window they read
(``sql/metrics/customer_history.sql``, ``cohort_cells.sql``; analytics/history.py).

It stays exact by construction: whenever a delivery partition of transactions is replaced, the same database
transaction deletes and rebuilds the rows of every (customer, month) the partition held before or holds now
(:func:`refresh_customer_months`), from the transactions table itself. A re-run, a late row or a replaced day
therefore leaves the same rows as a build from scratch (:func:`rebuild_customer_months`; tested in
tests/loyalty/test_derived.py), and a crash leaves both or neither.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa

from loyalty.db import load_sql
from loyalty.schema import customer_months

#: Ids per statement: under SQLite's older limit of 999 bound parameters.
_IDS_PER_STATEMENT = 900
#: occurred_at is UTC, business_day the business time zone's day: they differ by under a day (offsets are at
#: most 14 hours); two days of margin keep the index range safe whatever the session's time zone.
_OCCURRED_MARGIN = dt.timedelta(days=2)


def month_of(day: dt.date) -> str:
    """The business_month of a day: 'YYYY-MM'."""
    return day.isoformat()[:7]


def partition_customer_months(conn: sa.Connection, delivery_day: dt.date) -> set[tuple[str, str]]:
    """The (customer_id, business_month) pairs of the transactions a delivery partition holds now."""
    statement = load_sql("derived/partition_customer_days").bindparams(sa.bindparam("delivery_day", type_=sa.Date()))
    rows = conn.execute(statement, {"delivery_day": delivery_day})
    return {(customer_id, month_of(_as_date(day))) for customer_id, day in rows if customer_id is not None}


def refresh_customer_months(conn: sa.Connection, keys: Iterable[tuple[str, str]]) -> None:
    """Rebuild the customer_months rows of ``keys`` ((customer_id, 'YYYY-MM') pairs) from the transactions,
    inside ``conn``'s transaction: delete them, then insert what the transactions now say (nothing when the
    customer has no transaction left in that month)."""
    by_month: dict[str, set[str]] = defaultdict(set)
    for customer_id, month in keys:
        by_month[month].add(customer_id)
    statement = load_sql("derived/customer_months_of_customers").bindparams(
        sa.bindparam("customer_ids", expanding=True),
        sa.bindparam("first_day", type_=sa.Date()),
        sa.bindparam("next_month_day", type_=sa.Date()),
        sa.bindparam("occurred_from", type_=sa.DateTime(timezone=True)),
        sa.bindparam("occurred_until", type_=sa.DateTime(timezone=True)),
    )
    _lock_months(conn, sorted(by_month))
    for month, ids in sorted(by_month.items()):
        first = dt.date.fromisoformat(f"{month}-01")
        following = (first + dt.timedelta(days=31)).replace(day=1)
        bounds = {
            "first_day": first,
            "next_month_day": following,
            "occurred_from": dt.datetime.combine(first, dt.time()) - _OCCURRED_MARGIN,
            "occurred_until": dt.datetime.combine(following, dt.time()) + _OCCURRED_MARGIN,
        }
        ordered = sorted(ids)
        for i in range(0, len(ordered), _IDS_PER_STATEMENT):
            chunk = ordered[i : i + _IDS_PER_STATEMENT]
            conn.execute(
                customer_months.delete().where(
                    (customer_months.c.business_month == month) & customer_months.c.customer_id.in_(chunk)
                )
            )
            conn.execute(statement, {"customer_ids": chunk, **bounds})


def _lock_months(conn: sa.Connection, months: list[str]) -> None:
    """Serialise the rebuilds of one month's rows until this transaction ends. Two loads of different days
    (a nightly run beside a replay) may touch the same customer month: on PostgreSQL, without this, both would
    delete the committed row and each insert its own, leaving two. Taken in month order, so two loads never wait
    on each other in a cycle. SQLite's BEGIN IMMEDIATE already holds the database write lock."""
    if conn.dialect.name == "postgresql":
        for month in months:
            key = zlib.crc32(f"customer_months:{month}".encode())
            conn.execute(sa.text("select pg_advisory_xact_lock(:key)"), {"key": key})


def rebuild_customer_months(conn: sa.Connection) -> None:
    """Build customer_months from every transaction, inside ``conn``'s transaction (a migration, a repair)."""
    conn.execute(customer_months.delete())
    conn.execute(load_sql("derived/customer_months_all"))


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
