"""A chunk of delivery days is written in one transaction (loyalty/warehouse.py:write_partitions): the tables it
leaves are the ones replacing its days one after another leaves, ids repeating across the chunk's days included;
and a chunk whose write fails is written day by day, so only the failing day is lost."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from loyalty.db import create_engine
from loyalty.schema import drop_all, migrate
from tasks import load
from tasks.chunk import intake_chunk
from tests.helpers import run_day, table_snapshot, write_csv
from tests.hostile import CANARY

TX_HEADER = ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel", "region"]
DAY0 = date(2026, 11, 16)
DAYS = [DAY0 + timedelta(days=n) for n in range(1, 5)]  # the chunk: 17th .. 20th


def _tx(tid: str, day: date, amount: str) -> list[str]:
    return [tid, "C1", f"{day.isoformat()}T10:00:00Z", amount, "GBP", "online", "North"]


def _write_days(landing) -> None:
    d0, d1, d2, d3, d4 = DAY0, *DAYS
    files = {
        d0: [_tx("T8", d0, "8")],  # loaded before the chunk, by its own run
        d1: [_tx("T1", d1, "1"), _tx("T2", d1, "2"), _tx("T3", d1, "3")],
        # T1 again, identical; T2 again, changed; T4 and T5 new.
        d2: [_tx("T1", d1, "1"), _tx("T2", d1, "2.5"), _tx("T4", d2, "4"), _tx("T5", d2, "5")],
        # T4 changed (the 18th of the same chunk loaded it), T5 identical, T6 invalid, T8 identical (a day
        # before the chunk loaded it).
        d3: [_tx("T4", d2, "40"), _tx("T5", d2, "5"), _tx("T6", d3, "not a number"), _tx("T8", d0, "8")],
        d4: [_tx("T3", d1, "3"), _tx("T7", d4, "7"), _tx("T8", d0, "80")],
    }
    for day, rows in files.items():
        write_csv(landing / "transactions" / f"{day.isoformat()}_pos.csv", TX_HEADER, rows)


def _quarantine_in_order(url: str) -> pd.DataFrame:
    with create_engine(url).connect() as conn:
        frame = pd.read_sql(
            sa.text("select delivery_day, source_key, reason from quarantine order by quarantine_id"), conn
        )
    frame["delivery_day"] = pd.to_datetime(frame["delivery_day"]).dt.date
    return frame


def _tables(url: str) -> dict[str, pd.DataFrame]:
    tables = {t: table_snapshot(url, t) for t in ("transactions", "quarantine", "file_ledger", "customer_months")}
    ledger = table_snapshot(url, "run_ledger")
    tables["run_ledger"] = ledger.drop(columns=["run_id"], errors="ignore")
    tables["quarantine order"] = _quarantine_in_order(url)
    return tables


def _fresh(url: str) -> None:
    engine = create_engine(url)
    drop_all(engine)
    migrate(engine)
    engine.dispose()


class _Spy:
    """Wraps tasks.load.write_partitions: which days each call wrote, and whether it returned."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[tuple[list[date], bool]] = []
        real = load.write_partitions

        def spied(engine, checked, *args, **kwargs):
            days = [item.delivery.delivery_day for item in checked]
            try:
                out = real(engine, checked, *args, **kwargs)
            except Exception:
                self.calls.append((days, False))
                raise
            self.calls.append((days, True))
            return out

        monkeypatch.setattr(load, "write_partitions", spied)


def _chunk_and_days_one_by_one(settings, prepare, days, monkeypatch) -> tuple[dict, dict, object]:
    """The tables after ``prepare()`` then ``days`` replaced one by one, and after ``prepare()`` then ``days``
    as one chunk (whose write must succeed in one call: a fallback to single days would hide a broken chunk)."""
    _fresh(settings.warehouse_url)
    prepare()
    for day in days:
        run_day(settings, day, entities=["transactions"])
    one_by_one = _tables(settings.warehouse_url)

    _fresh(settings.warehouse_url)
    prepare()
    spy = _Spy(monkeypatch)
    outcome = intake_chunk(settings, days, "test-run", ["transactions"])  # run_day's run id: same ledger rows
    assert not outcome.failures
    assert spy.calls == [(days, True)]
    return one_by_one, _tables(settings.warehouse_url), outcome


def test_a_chunk_leaves_what_its_days_one_by_one_leave(settings, landing, monkeypatch):
    _write_days(landing)
    one_by_one, chunk, outcome = _chunk_and_days_one_by_one(
        settings, lambda: run_day(settings, DAY0, entities=["transactions"]), DAYS, monkeypatch
    )
    for name in chunk:
        pd.testing.assert_frame_equal(chunk[name], one_by_one[name], obj=name)

    # Worked out by hand from the files above.
    kept = chunk["transactions"]
    assert dict(zip(kept["transaction_id"], pd.to_datetime(kept["delivery_day"]).dt.date, strict=True)) == {
        "T8": DAY0,
        "T1": DAYS[0],
        "T2": DAYS[0],
        "T3": DAYS[0],
        "T4": DAYS[1],
        "T5": DAYS[1],
        "T7": DAYS[3],
    }
    quarantined = chunk["quarantine order"]
    assert list(quarantined.itertuples(index=False, name=None)) == [
        (DAYS[1], "T1", "duplicate_id_same_content"),
        (DAYS[1], "T2", "duplicate_id_conflict"),
        (DAYS[2], "T6", "not_a_number:amount"),
        (DAYS[2], "T5", "duplicate_id_same_content"),
        (DAYS[2], "T8", "duplicate_id_same_content"),
        (DAYS[2], "T4", "duplicate_id_conflict"),
        (DAYS[3], "T3", "duplicate_id_same_content"),
        (DAYS[3], "T8", "duplicate_id_conflict"),
    ]
    summaries = {s.delivery_day: (s.rows_in, s.rows_loaded, s.rows_quarantined) for s in outcome.summaries}
    assert summaries == {DAYS[0]: (3, 3, 0), DAYS[1]: (4, 2, 2), DAYS[2]: (4, 0, 4), DAYS[3]: (3, 1, 2)}

    # Re-running the chunk changes nothing (the run ledger keeps each run's rows: it is history).
    assert not intake_chunk(settings, DAYS, "chunk-run-2", ["transactions"]).failures
    again = _tables(settings.warehouse_url)
    for name in set(chunk) - {"run_ledger"}:
        pd.testing.assert_frame_equal(again[name], chunk[name], obj=name)


def test_a_rerun_meets_the_old_rows_of_its_later_days_as_one_by_one(settings, landing, monkeypatch):
    # The 19th loaded T9; then the 17th's file is corrected and holds T9 too. Replaced one by one, the 17th
    # still finds the 19th's old T9 (a duplicate: quarantined on the 17th); the 19th then loads it again.
    _write_days(landing)
    # T9 is dated the 17th: a late row in the 19th's delivery.
    write_csv(landing / "transactions" / f"{DAYS[2].isoformat()}_late.csv", TX_HEADER, [_tx("T9", DAYS[0], "9")])

    def prepare() -> None:
        (landing / "transactions" / f"{DAYS[0].isoformat()}_fix.csv").unlink(missing_ok=True)
        for day in [DAY0, *DAYS]:
            run_day(settings, day, entities=["transactions"])
        fixed = [_tx("T9", DAYS[0], "9"), _tx("T10", DAYS[0], "10")]  # not the 19th's file: it is read
        write_csv(landing / "transactions" / f"{DAYS[0].isoformat()}_fix.csv", TX_HEADER, fixed)

    one_by_one, chunk, _ = _chunk_and_days_one_by_one(settings, prepare, DAYS, monkeypatch)
    for name in chunk:
        pd.testing.assert_frame_equal(chunk[name], one_by_one[name], obj=name)
    quarantined = chunk["quarantine order"]
    assert (DAYS[0], "T9", "duplicate_id_same_content") in set(quarantined.itertuples(index=False, name=None))
    kept = chunk["transactions"]
    assert kept.loc[kept["transaction_id"] == "T9", "delivery_day"].map(pd.Timestamp).tolist() == [
        pd.Timestamp(DAYS[2])
    ]


def test_a_backfill_over_days_a_nightly_run_loaded_leaves_what_one_by_one_leaves(settings, landing, monkeypatch):
    # The 18th and the 20th were loaded first (nightly runs); then a backfill takes the 16th .. 20th.
    _write_days(landing)

    def prepare() -> None:
        for day in (DAYS[1], DAYS[3]):
            run_day(settings, day, entities=["transactions"])

    one_by_one, chunk, _ = _chunk_and_days_one_by_one(settings, prepare, [DAY0, *DAYS], monkeypatch)
    for name in chunk:
        pd.testing.assert_frame_equal(chunk[name], one_by_one[name], obj=name)
    # Worked out by hand: the 18th's T4/T5 and the 20th's T7 stay where they were; the 17th meets the 18th's
    # old rows (T1 and T2 are not there: the 18th's own T1/T2 were duplicates of nothing and loaded).
    kept = chunk["transactions"]
    where = dict(zip(kept["transaction_id"], pd.to_datetime(kept["delivery_day"]).dt.date, strict=True))
    assert where["T7"] == DAYS[3] and where["T4"] == DAYS[1]


def test_a_chunk_whose_write_fails_is_written_day_by_day_and_only_the_failing_day_is_lost(
    settings, landing, monkeypatch
):
    _write_days(landing)
    real = load.write_partitions
    calls: list[list[date]] = []

    def refusing_the_19th(engine, checked, *args, **kwargs):
        days = [item.delivery.delivery_day for item in checked]
        calls.append(days)
        if DAYS[2] in days:
            raise ValueError("the warehouse refused the 19th")
        return real(engine, checked, *args, **kwargs)

    monkeypatch.setattr(load, "write_partitions", refusing_the_19th)
    outcome = intake_chunk(settings, DAYS, "chunk-run", ["transactions"])
    assert calls == [DAYS, *([day] for day in DAYS)]  # the chunk once, then each day
    assert set(outcome.failures) == {(DAYS[2], "transactions")}
    assert sorted(s.delivery_day for s in outcome.summaries) == [DAYS[0], DAYS[1], DAYS[3]]
    with create_engine(settings.warehouse_url).connect() as conn:
        statuses = dict(
            conn.execute(sa.text("select delivery_day, status from run_ledger where entity = 'transactions'")).all()
        )
        loaded_days = {row[0] for row in conn.execute(sa.text("select distinct delivery_day from transactions"))}
    statuses = {pd.Timestamp(day).date(): status for day, status in statuses.items()}
    assert statuses == {DAYS[0]: "succeeded", DAYS[1]: "succeeded", DAYS[2]: "failed", DAYS[3]: "succeeded"}
    assert {pd.Timestamp(day).date() for day in loaded_days} == {DAYS[0], DAYS[1], DAYS[3]}


def test_a_failed_chunk_write_logs_no_row_value(settings, landing, monkeypatch, caplog):
    # The driver's text of a refused write quotes the row; the chunk's warning says only what failed.
    canary = CANARY
    _write_days(landing)
    real = load.write_partitions

    def refusing_chunks(engine, checked, *args, **kwargs):
        if len(checked) > 1:
            orig = Exception(f"duplicate key value violates unique constraint DETAIL: Key (id)=({canary})")
            raise sa.exc.IntegrityError("INSERT INTO transactions ...", {"transaction_id": canary}, orig)
        return real(engine, checked, *args, **kwargs)

    monkeypatch.setattr(load, "write_partitions", refusing_chunks)
    with caplog.at_level("INFO"):
        outcome = intake_chunk(settings, DAYS, "chunk-run", ["transactions"])
    assert not outcome.failures  # written day by day instead
    assert "the chunk's write failed" in caplog.text and canary not in caplog.text


def test_a_failure_reported_later_leaves_a_committed_days_end_as_it_was(settings, landing):
    _write_days(landing)
    assert not intake_chunk(settings, DAYS[:2], "run-1", ["transactions"]).failures
    engine = create_engine(settings.warehouse_url)
    # What intake_chunk does for every day of an entity whose load step raised after some days committed.
    for day in DAYS[:2]:
        load.record_run_end(engine, "run-1", "transactions", day, error="the warehouse went away")
    with engine.connect() as conn:
        ends = conn.execute(
            sa.text(
                "select status, rows_in, rows_loaded, error from run_ledger "
                "where run_id = 'run-1' and entity = 'transactions' order by delivery_day"
            )
        ).all()
    assert [tuple(row) for row in ends] == [("succeeded", 3, 3, None), ("succeeded", 4, 2, None)]
