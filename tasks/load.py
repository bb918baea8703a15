"""Load: write one validated delivery into the warehouse, and keep the run ledger."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.states import Failed

from loyalty.db import check_connection, get_engine, masked_driver_errors
from loyalty.delivery import CheckedDelivery, LoadSummary
from loyalty.derived import settle_customer_months
from loyalty.schema import migrate, run_ledger
from loyalty.settings import Settings
from loyalty.timeutil import utc_now_naive
from loyalty.warehouse import write_partitions
from tasks.retry import retrying_task

log = logging.getLogger(__name__)


@retrying_task(
    name="prepare-warehouse",
    retries=3,
    delay=5,
    timeout_seconds=300,
    cache_policy=NO_CACHE,
)
def prepare_warehouse(settings: Settings) -> list[int]:
    """Check the warehouse answers, then bring its schema up to date."""
    engine = get_engine(settings.warehouse_url)
    check_connection(engine)
    return migrate(engine)


def _load_task_name() -> str:
    from prefect import runtime

    from tasks.extract import days_label

    checked = runtime.task_run.parameters["checked"]
    if not checked:
        return "load"
    return f"load-{checked[0].delivery.entity}-{days_label([c.delivery.delivery_day for c in checked])}"


@dataclass
class LoadedDays:
    """What loading a chunk of one entity did: a summary per loaded day, an error per failed day."""

    summaries: list[LoadSummary] = field(default_factory=list)
    failures: dict[date, str] = field(default_factory=dict)


def error_text(exc: BaseException) -> str:
    """One line naming the error, without row values (a database error's text carries them: its statement and
    parameters are cut off, see ENVIRONMENT.md)."""
    text = str(exc).split("\n[SQL:")[0].split("\n[parameters:")[0]
    return f"{type(exc).__name__}: {text}".splitlines()[0][:500]


def load_checked(checked: list[CheckedDelivery], settings: Settings, run_id: str) -> LoadedDays:
    """Load one entity's validated deliveries; each day replaces its partition and records its run-ledger end
    in the same transaction.

    The whole chunk is written in one transaction (loyalty/warehouse.py:write_partitions): one statement per
    table, not one per day. When that write fails, nothing of it is kept and the days are written again one
    per transaction, in order, so that a day that fails is recorded as failed and the other days still load.
    A transient error (the warehouse away) is raised, so the task's retries run the chunk again (days already
    loaded are replaced by identical rows). After the days of transactions, the customer months they marked
    are rebuilt once (loyalty/derived.py)."""
    from tasks.retry import TRANSIENT

    engine = get_engine(settings.warehouse_url)
    out = LoadedDays()
    by_day = {item.delivery.delivery_day: item.delivery for item in checked}

    def finish(conn: sa.Connection, summaries: list[LoadSummary]) -> None:
        ends = []
        for summary in summaries:
            delivery = by_day[summary.delivery_day]
            ends.append(
                _run_end_values(
                    run_id,
                    delivery.entity,
                    delivery.delivery_day,
                    summary,
                    files=[f.path for f in delivery.files],
                    window=(delivery.window_start, delivery.window_end),
                )
            )
        _update_run_ends(conn, ends)

    written = False
    if len(checked) > 1:
        entity, span = checked[0].delivery.entity, _days_span([item.delivery.delivery_day for item in checked])
        try:
            with masked_driver_errors(entity, span):
                out.summaries.extend(write_partitions(engine, checked, run_id, settings.business_tz, finish))
            written = True
        except TRANSIENT:
            raise
        except Exception as exc:  # masked above: no row value in the text
            log.warning(
                "%s %s: the chunk's write failed (%s); writing its days one by one", entity, span, error_text(exc)
            )
    for item in [] if written else checked:
        delivery = item.delivery
        try:
            with masked_driver_errors(delivery.entity, delivery.delivery_day):
                summary = write_partitions(engine, [item], run_id, settings.business_tz, finish)[0]
        except TRANSIENT:
            raise
        except Exception as exc:  # masked above: a driver's text (COPY, executemany) never gets here
            message = error_text(exc)
            record_run_end(engine, run_id, delivery.entity, delivery.delivery_day, error=message)
            out.failures[delivery.delivery_day] = message
            continue
        out.summaries.append(summary)
    if checked and checked[0].delivery.entity == "transactions":
        # Once per chunk: a backfill chunk rebuilds its months once, not once per day (loyalty/derived.py).
        try:
            settle_customer_months(engine)
        except Exception as exc:  # the days are committed with their marks: the next settle (the metrics') does it
            log.error("transactions: customer months left pending: %s", error_text(exc))
    return out


def _days_span(days: list[date]) -> str:
    return f"{min(days).isoformat()}..{max(days).isoformat()}"


@retrying_task(
    name="load",
    task_run_name=_load_task_name,
    retries=3,
    delay=12,
    timeout_seconds=3600,
    cache_policy=NO_CACHE,
)
def load_days(checked: list[CheckedDelivery], settings: Settings, run_id: str) -> LoadedDays | State:
    """Replace each delivery day's partition of one entity, in day order (see :func:`load_checked`).

    When a day failed, the task run ends Failed (so the UI shows it red, not only its chunk) and still carries
    what it did as its data: read it with :func:`loaded_days`. The other days are loaded.
    """
    loaded = load_checked(checked, settings, run_id)
    if loaded.failures:
        failed = ", ".join(day.isoformat() for day in sorted(loaded.failures))
        return Failed(message=f"nothing written for {failed}; the other days are loaded", data=loaded)
    return loaded


def loaded_days(result: LoadedDays | State) -> LoadedDays:
    """What :func:`load_days` did, from its return value or its final state; an error it raised is raised."""
    if isinstance(result, LoadedDays):
        return result
    value = result.result(raise_on_failure=False)
    if isinstance(value, BaseException):
        raise value
    if not isinstance(value, LoadedDays):
        raise RuntimeError(result.message or result.name or "the load returned no outcome")
    return value


def record_runs_start(engine: sa.Engine, run_id: str, entities: list[str], days: list[date], source: str) -> None:
    """Mark every (entity, day) of a chunk as running for ``run_id``, in one transaction."""
    started = utc_now_naive()
    with engine.begin() as conn:
        for entity in entities:
            conn.execute(
                run_ledger.delete().where(
                    (run_ledger.c.run_id == run_id)
                    & (run_ledger.c.entity == entity)
                    & (run_ledger.c.delivery_day.in_(days))
                )
            )
        conn.execute(
            run_ledger.insert(),
            [
                {
                    "run_id": run_id,
                    "entity": entity,
                    "delivery_day": day,
                    "status": "running",
                    "source": source,
                    "started_at": started,
                }
                for entity in entities
                for day in days
            ],
        )


def record_run_start(engine: sa.Engine, run_id: str, entity: str, day: date, source: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            run_ledger.delete().where(
                (run_ledger.c.run_id == run_id) & (run_ledger.c.entity == entity) & (run_ledger.c.delivery_day == day)
            )
        )
        conn.execute(
            run_ledger.insert().values(
                run_id=run_id,
                entity=entity,
                delivery_day=day,
                status="running",
                source=source,
                started_at=utc_now_naive(),
            )
        )


def record_run_end(
    engine: sa.Engine,
    run_id: str,
    entity: str,
    day: date,
    summary: LoadSummary | None = None,
    *,
    files: list[str] | None = None,
    window: tuple | None = None,
    error: str | None = None,
) -> None:
    with engine.begin() as conn:
        _run_end(conn, run_id, entity, day, summary, files=files, window=window, error=error)


def _run_end(
    conn: sa.Connection,
    run_id: str,
    entity: str,
    day: date,
    summary: LoadSummary | None = None,
    *,
    files: list[str] | None = None,
    window: tuple | None = None,
    error: str | None = None,
) -> None:
    values = _run_end_values(run_id, entity, day, summary, files=files, window=window, error=error)
    # A failure ends only a day still running: a day whose partition committed keeps its end (succeeded, its
    # counts), even when a later step of its chunk fails and the whole chunk is reported.
    _update_run_ends(conn, [values], only_running=error is not None)


#: The run-ledger columns a day's end sets (every one, so that the days of a chunk make one executemany).
_RUN_END_COLUMNS = (
    "finished_at",
    "status",
    "error",
    "rows_in",
    "rows_loaded",
    "rows_quarantined",
    "files_seen",
    "files_loaded",
    "files_duplicate",
    "files_rejected",
    "files",
    "window_start",
    "window_end",
)


def _run_end_values(
    run_id: str,
    entity: str,
    day: date,
    summary: LoadSummary | None = None,
    *,
    files: list[str] | None = None,
    window: tuple | None = None,
    error: str | None = None,
) -> dict:
    """The run ledger's end of one (run, entity, day): the key (``k_`` names) and every _RUN_END_COLUMNS value;
    a value the day does not know is None, as the row's own start left it."""
    values: dict = dict.fromkeys(_RUN_END_COLUMNS)
    values.update(
        k_run_id=run_id,
        k_entity=entity,
        k_delivery_day=day,
        finished_at=utc_now_naive(),
        status="failed" if error else "succeeded",
        error=error,
    )
    if summary is not None:
        values.update(
            rows_in=summary.rows_in,
            rows_loaded=summary.rows_loaded,
            rows_quarantined=summary.rows_quarantined,
            files_seen=summary.files_seen,
            files_loaded=summary.files_loaded,
            files_duplicate=summary.files_duplicate,
            files_rejected=summary.files_rejected,
        )
    if files is not None:
        values["files"] = json.dumps(files)
    if window is not None and window[0] is not None:
        values.update(window_start=window[0], window_end=window[1])
    return values


def _update_run_ends(conn: sa.Connection, ends: list[dict], *, only_running: bool = False) -> None:
    """Set the run ledger's end of each (run, entity, day) in ``ends`` (_run_end_values), in one executemany;
    ``only_running``: only where the day's status is still running."""
    if not ends:
        return
    c = run_ledger.c
    where = (
        (c.run_id == sa.bindparam("k_run_id"))
        & (c.entity == sa.bindparam("k_entity"))
        & (c.delivery_day == sa.bindparam("k_delivery_day"))
    )
    if only_running:
        where = where & (c.status == "running")
    statement = run_ledger.update().where(where).values({name: sa.bindparam(name) for name in _RUN_END_COLUMNS})
    conn.execute(statement, ends)
