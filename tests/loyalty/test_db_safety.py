"""Issue 14: driver errors carry no row values (finding 2), URLs never show a password (finding 7), and on
SQLite reads run beside a load while a real lock wait says "busy" (finding 8)."""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from loyalty.db import (
    DatabaseBusy,
    DatabaseUnavailable,
    WarehouseWriteError,
    check_connection,
    create_engine,
    describe_db_error,
    masked_driver_errors,
    reading,
    redact_url,
)
from loyalty.schema import quarantine
from tests.hostile import CANARY

# --- finding 2: no row value in any driver error -----------------------------------------------------------------


def _bad_insert(conn: sa.Connection, comment: str) -> None:
    conn.execute(
        quarantine.insert(),
        [
            {
                "run_id": "r",
                "entity": "survey_responses",
                "delivery_day": date(2026, 11, 30),
                "source": "f.csv",
                "reason": "x",
                "reasons": "x",
                "detail": comment,
                "raw_record": comment,
                "quarantined_at": None,  # NOT NULL: the statement fails with row values bound
            }
        ],
    )


def test_engine_errors_leave_parameters_out_and_the_wrapper_names_only_entity_day_and_class(warehouse_url):
    engine = create_engine(warehouse_url)
    with pytest.raises(sa.exc.DBAPIError) as raw, engine.begin() as conn:
        _bad_insert(conn, f"mail {CANARY}")
    # hide_parameters=True on every engine leaves the bound values out of SQLAlchemy's text; PostgreSQL's own
    # message may still quote the failing row ("Failing row contains ..."), hence the wrapper below.
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(raw.value)
    with (
        pytest.raises(WarehouseWriteError) as wrapped,
        masked_driver_errors("survey_responses", date(2026, 11, 30)),
        engine.begin() as conn,
    ):
        _bad_insert(conn, f"mail {CANARY}")
    assert str(wrapped.value) == (
        f"survey_responses 2026-11-30: the warehouse refused the write ({type(raw.value.orig).__name__})"
    )
    assert wrapped.value.__cause__ is None and wrapped.value.__suppress_context__
    engine.dispose()


@pytest.mark.postgres
def test_a_nul_byte_on_postgresql_is_masked_too():
    from tests.databases import POSTGRES_URL, require_postgres

    require_postgres()
    engine = create_engine(POSTGRES_URL)
    with (
        pytest.raises(WarehouseWriteError) as wrapped,
        masked_driver_errors("customers", "2026-11-30"),
        engine.connect() as conn,
    ):
        conn.execute(sa.text("select cast(:v as text)"), {"v": f"No\x00rth {CANARY}"})
    assert CANARY not in str(wrapped.value) and "customers 2026-11-30" in str(wrapped.value)
    engine.dispose()


def test_encoding_errors_are_masked():
    with pytest.raises(WarehouseWriteError) as wrapped, masked_driver_errors("customers", "2026-11-30"):
        f"{CANARY}\ud800".encode()
    assert CANARY not in str(wrapped.value) and "UnicodeEncodeError" in str(wrapped.value)


def test_the_drivers_own_errors_are_masked_and_sorted_like_wrapped_ones(tmp_path):
    """The fast write path (COPY, a cursor's executemany) raises the driver's errors, which SQLAlchemy never
    wraps: a refused row, a lock wait and a lost connection each come out as the wrapped ones do."""
    import sqlite3

    import psycopg

    day = date(2026, 11, 30)
    with pytest.raises(WarehouseWriteError) as refused, masked_driver_errors("customers", day):
        raise sqlite3.IntegrityError(f"CHECK constraint failed: {CANARY}")
    assert str(refused.value) == "customers 2026-11-30: the warehouse refused the write (IntegrityError)"
    with pytest.raises(WarehouseWriteError) as refused_pg, masked_driver_errors("customers", day):
        raise psycopg.errors.CheckViolation(f"Failing row contains ({CANARY})")
    assert CANARY not in str(refused_pg.value) and "(CheckViolation)" in str(refused_pg.value)
    with pytest.raises(DatabaseBusy) as busy, masked_driver_errors("customers", day):
        raise sqlite3.OperationalError("database is locked")
    assert "busy" in str(busy.value)
    with pytest.raises(DatabaseUnavailable) as lost, masked_driver_errors("customers", day):
        raise psycopg.OperationalError(f"server closed the connection unexpectedly {CANARY}")
    assert CANARY not in str(lost.value) and "connection failed (OperationalError)" in str(lost.value)
    with pytest.raises(DatabaseUnavailable) as closed, masked_driver_errors("customers", day):
        raise psycopg.InterfaceError("the connection is closed")
    # SQLite: the result code decides. A statement it refuses is that day's refused write (no retry of the
    # whole entity); a file that is not a database is the connection's fault.
    memory = sqlite3.connect(":memory:")
    memory.execute("create table t (a)")
    with pytest.raises(WarehouseWriteError) as no_column, masked_driver_errors("customers", day):
        memory.executemany("insert into t (b) values (?)", [(CANARY,)])
    assert "(OperationalError)" in str(no_column.value)
    not_a_database = tmp_path / "not-a-database.db"
    not_a_database.write_bytes(b"x" * 4096)
    with pytest.raises(DatabaseUnavailable) as broken_file, masked_driver_errors("customers", day):
        sqlite3.connect(not_a_database).execute("select count(*) from sqlite_master")
    for raised in (refused, refused_pg, busy, lost, closed, no_column, broken_file):
        assert CANARY not in str(raised.value)
        assert raised.value.__cause__ is None and raised.value.__suppress_context__


# --- finding 7: passwords --------------------------------------------------------------------------------------


SECRET = "Hunter2"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://loyalty:{SECRET}@@127.0.0.1:5432/db",
        f"postgresql+psycopg://loyalty:se:cret@{SECRET}@127.0.0.1:5432/db",
        f"postgresql+psycopg://loyalty:x@{SECRET}:1@127.0.0.1:5432/db",
        f"postgresql+psycopg://loyalty:{SECRET}@127.0.0.1:notaport/db",
    ],
)
def test_a_password_with_unencoded_at_or_colon_is_never_printed(url):
    assert SECRET not in redact_url(url)
    with pytest.raises((ValueError, DatabaseUnavailable)) as failure:
        check_connection(create_engine(url))
    assert SECRET not in str(failure.value)


password_chars = st.text(alphabet=st.sampled_from("ab@:/?#%!Z9 "), min_size=1, max_size=12)


@given(password=password_chars, user=st.sampled_from(["u", "loyalty", "a.b"]))
def test_redact_url_masks_any_password(password, user):
    url = f"postgresql+psycopg://{user}:{SECRET}{password}@db.internal:5432/loyalty"
    shown = redact_url(url)
    assert SECRET not in shown
    assert shown.startswith(f"postgresql+psycopg://{user}:***@")


def test_the_cli_never_prints_the_password(monkeypatch, tmp_path):
    from cli.main import app
    from loyalty.settings import reset_settings

    monkeypatch.setenv("LOYALTY_WAREHOUSE_URL", f"postgresql+psycopg://loyalty:{SECRET}@@127.0.0.1:1/db")
    reset_settings()
    try:
        result = CliRunner().invoke(app, ["status"])
    finally:
        reset_settings()
    assert result.exit_code != 0 and SECRET not in result.output


# --- finding 8: SQLite reads beside a load -----------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path):
    from loyalty.schema import migrate

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    engine = create_engine(url)
    migrate(engine)
    engine.dispose()
    return url


def _hold_write_lock(url: str):
    """A second process's load, in miniature: a write transaction left open."""
    writer = create_engine(url)
    conn = writer.connect()
    conn.begin()
    conn.exec_driver_sql(
        "insert into schema_migrations (version, description, applied_at) values (9999, 'x', '2026-01-01')"
    )
    return writer, conn


def test_reads_do_not_wait_for_a_writer(sqlite_url, monkeypatch):
    from cli.main import app, read_headline
    from loyalty.settings import reset_settings

    writer, held = _hold_write_lock(sqlite_url)
    monkeypatch.setenv("LOYALTY_WAREHOUSE_URL", sqlite_url)
    reset_settings()
    try:
        # Each of these waited up to 60 s for the writer and then said "cannot reach database" before.
        check_connection(create_engine(sqlite_url))
        with reading(create_engine(sqlite_url)).connect() as conn:
            assert conn.exec_driver_sql("select count(*) from schema_migrations where version = 9999").scalar() == 0
        status = CliRunner().invoke(app, ["status"])
        assert status.exit_code == 0, status.output
        assert "Last runs" in status.output
        from cli.main import UserError

        with pytest.raises(UserError, match="no metrics for 2026-W47"):
            read_headline("2026-W47")
    finally:
        held.rollback()
        held.close()
        writer.dispose()
        reset_settings()


def test_a_real_lock_timeout_says_busy_not_unreachable(sqlite_url):
    writer, held = _hold_write_lock(sqlite_url)
    impatient = sa.create_engine(sqlite_url, connect_args={"timeout": 0.05}, hide_parameters=True)
    try:
        with (
            pytest.raises(DatabaseBusy, match="busy: another run is writing"),
            masked_driver_errors("customers", "2026-11-30"),
            impatient.begin() as conn,
        ):
            conn.exec_driver_sql("delete from schema_migrations where version = 9999")
        done = threading.Event()
        try:
            with impatient.begin() as conn:
                conn.exec_driver_sql("delete from schema_migrations where version = 9999")
        except sa.exc.OperationalError as exc:
            assert describe_db_error(exc).startswith("busy: another run is writing")
            done.set()
        assert done.is_set()
    finally:
        held.rollback()
        held.close()
        writer.dispose()
        impatient.dispose()


def test_the_load_task_turns_a_driver_error_into_a_message_without_row_values(settings, monkeypatch):
    import pandas as pd

    from loyalty.delivery import CheckedDelivery, Delivery
    from tasks import load

    def failing_write(*args, **kwargs):
        orig = Exception(f"null value violates not-null constraint DETAIL: Failing row contains ({CANARY})")
        raise sa.exc.IntegrityError("INSERT INTO customers ...", {"email": CANARY}, orig)

    monkeypatch.setattr(load, "write_partitions", failing_write)
    delivery = Delivery("customers", date(2026, 11, 30), "files", pd.DataFrame())
    # The day is recorded as failed (the chunk's later days still load) with the masked message.
    state = load.load_days.fn([CheckedDelivery(delivery, pd.DataFrame(), pd.DataFrame())], settings, "run")
    assert state.is_failed() and CANARY not in str(state.message)  # the task run shows red, without the row
    loaded = load.loaded_days(state)
    message = loaded.failures[date(2026, 11, 30)]
    assert message == (
        f"{WarehouseWriteError.__name__}: customers 2026-11-30: the warehouse refused the write (Exception)"
    )
    assert CANARY not in message


@pytest.mark.parametrize("driver", ["sqlite3", "psycopg"])
def test_a_raw_driver_error_of_the_fast_write_path_is_masked_in_the_load_failure(settings, monkeypatch, driver):
    # COPY and the cursor's executemany use the driver's connection: its errors arrive unwrapped by SQLAlchemy,
    # and PostgreSQL's CHECK message quotes the whole row.
    import sqlite3

    import pandas as pd
    import psycopg

    from loyalty.delivery import CheckedDelivery, Delivery
    from tasks import load

    def failing_write(*args, **kwargs):
        text = f'new row for relation "customers" violates check constraint DETAIL: Failing row contains ({CANARY})'
        raise sqlite3.IntegrityError(text) if driver == "sqlite3" else psycopg.errors.CheckViolation(text)

    monkeypatch.setattr(load, "write_partitions", failing_write)
    delivery = Delivery("customers", date(2026, 11, 30), "files", pd.DataFrame())
    state = load.load_days.fn([CheckedDelivery(delivery, pd.DataFrame(), pd.DataFrame())], settings, "run")
    message = load.loaded_days(state).failures[date(2026, 11, 30)]
    error_class = "IntegrityError" if driver == "sqlite3" else "CheckViolation"
    assert message == (
        f"{WarehouseWriteError.__name__}: customers 2026-11-30: the warehouse refused the write ({error_class})"
    )
    assert CANARY not in message and CANARY not in str(state.message)
