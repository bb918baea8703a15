"""The measures: each one is a function run in a process of its own (see :mod:`bench.runner`).

A measure returns plain data: ``seconds`` (one entry per timed repetition; setup is never timed), what it
did (``rows``), and notes. Library imports happen before the timer starts (the bench process has imported
them before it forks the measure), so the seconds are the work, not Python's start-up.

The project measures call the real flows in-process, pointed by ``LOYALTY_*`` settings at the measure's own
warehouse and by ``PREFECT_API_URL`` at the one Prefect server the bench run started.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.data import BENCH_DIR, Scale
from bench.targets import Target
from loyalty.settings import PROJECT_ROOT

MAPPING_PATH = PROJECT_ROOT / "config" / "column_mapping.yaml"
NIGHTLY_WEEK_HISTORY_DAYS = 7


@dataclass(frozen=True)
class MeasureContext:
    """What a measure needs to know: the data, the engine, how often to repeat."""

    scale: Scale
    engine: str
    repeat: int = 3
    repeat_long: int = 1
    postgres_url: str = ""
    expected_rows: dict[str, int] = field(default_factory=dict)

    def target(self, measure: str) -> Target:
        kwargs = {"postgres_url": self.postgres_url} if self.postgres_url else {}
        return Target(self.engine, measure, self.scale.folder, scale=self.scale.name, **kwargs)

    @property
    def last_day(self) -> date:
        return self.scale.end

    @property
    def last_week(self) -> str:
        iso = self.last_day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"

    def source_url(self) -> str:
        if self.engine == "sqlite":
            return f"sqlite:///{self.scale.source_sqlite}"
        from bench.targets import schema_url

        return schema_url(self.postgres_url, self.scale.pg_source_schema)


def _timed(fn, *args, **kwargs) -> tuple[float, Any]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - started, out


def use_project_settings(ctx: MeasureContext, target: Target, *, source_kind: str = "files") -> Any:
    """Point the project's one settings object at ``target`` (environment, then a fresh settings object)."""
    from loyalty.settings import configure_runtime, get_settings, reset_settings

    env = {
        "LOYALTY_WAREHOUSE_URL": target.url,
        "LOYALTY_SOURCE_KIND": source_kind,
        "LOYALTY_LANDING_DIR": str(ctx.scale.landing),
        "LOYALTY_REPORTS_DIR": str(ctx.scale.folder / "reports" / ctx.engine),
        "LOYALTY_PREFECT_HOME": os.environ.get("PREFECT_HOME", str(BENCH_DIR / "prefect")),
        # The defaults, written out so a developer's .env cannot change what is measured.
        "LOYALTY_BACKFILL_TASK_RUNNER": "serial",
        "LOYALTY_BACKFILL_CHUNK_DAYS": "28",
    }
    os.environ.update(env)
    if source_kind == "sql":
        os.environ["LOYALTY_SOURCE_URL"] = ctx.source_url()
    else:
        os.environ.pop("LOYALTY_SOURCE_URL", None)
    reset_settings()
    settings = get_settings()
    configure_runtime(settings, quiet=True)
    return settings


def forget_delivery_day(url: str, day: date) -> None:
    """Remove everything delivery day ``day`` wrote (rows, quarantine, file and run ledgers): untimed setup, so
    each repetition of a nightly run is a first run of that day on top of the same history."""
    from loyalty.db import get_engine
    from loyalty.derived import mark_customer_months, partition_customer_months, settle_customer_months
    from loyalty.schema import ENTITY_TABLES, file_ledger, quarantine, run_ledger

    engine = get_engine(url)
    with engine.begin() as conn:
        removed = partition_customer_months(conn, day)  # their customer months change with them
        for table in (*ENTITY_TABLES.values(), quarantine, file_ledger, run_ledger):
            conn.execute(table.delete().where(table.c.delivery_day == day))
        mark_customer_months(conn, removed)
    settle_customer_months(engine)


# --------------------------------------------------------------------------------------------------------
# The measures
# --------------------------------------------------------------------------------------------------------


def measure_floor(ctx: MeasureContext) -> dict:
    from bench.floor import load_floor

    target = ctx.target("floor")
    seconds, rows = [], {}
    for _ in range(ctx.repeat):
        elapsed, rows = _timed(load_floor, target, ctx.scale.landing, ctx.scale.days, MAPPING_PATH)
        seconds.append(elapsed)
    notes = []
    if ctx.expected_rows and any(rows.get(k) != v for k, v in ctx.expected_rows.items()):
        notes.append(f"rows written {rows} differ from rows generated {ctx.expected_rows}")
    return {"seconds": seconds, "rows": rows, "notes": notes}


def measure_naive(ctx: MeasureContext) -> dict:
    from bench.naive import run_naive

    seconds, rows = [], {}
    for _ in range(ctx.repeat_long):
        elapsed, rows = _timed(run_naive, ctx.target("naive"), ctx.scale.landing, ctx.scale.days, MAPPING_PATH)
        seconds.append(elapsed)
    return {"seconds": seconds, "rows": rows}


def _backfill(ctx: MeasureContext, measure: str, source_kind: str) -> dict:
    from flows.backfill import backfill

    target = ctx.target(measure)
    seconds, result = [], {}
    for _ in range(ctx.repeat_long):
        target.reset()
        use_project_settings(ctx, target, source_kind=source_kind)
        elapsed, result = _timed(backfill, start=ctx.scale.start, end=ctx.scale.end)
        seconds.append(elapsed)
    rows = {k: result.get(k) for k in ("days", "rows_in", "rows_loaded", "rows_quarantined")}
    rows["weeks_recomputed"] = len(result.get("weeks", []))
    return {"seconds": seconds, "rows": rows}


def measure_project(ctx: MeasureContext) -> dict:
    return _backfill(ctx, "project", "files")


def measure_project_sql(ctx: MeasureContext) -> dict:
    out = _backfill(ctx, "project-sql", "sql")
    out["notes"] = [
        "SQL source: windows by timestamp, so rows dated before the range (the CRM's initial load) are never read"
    ]
    return out


def _nightly_runs(ctx: MeasureContext, target: Target) -> list[float]:
    from flows.nightly_etl import nightly_etl

    seconds = []
    for _ in range(ctx.repeat):
        forget_delivery_day(target.url, ctx.last_day)
        elapsed, _ = _timed(nightly_etl, delivery_day=ctx.last_day)
        seconds.append(elapsed)
    return seconds


def measure_nightly_full(ctx: MeasureContext) -> dict:
    """The last day's nightly run on the project measure's warehouse (every earlier day loaded)."""
    target = ctx.target("project")
    use_project_settings(ctx, target)
    history = (ctx.last_day - ctx.scale.start).days
    return {"seconds": _nightly_runs(ctx, target), "rows": {"history_days": history}}


def measure_nightly_week(ctx: MeasureContext) -> dict:
    """The last day's nightly run on a warehouse holding only the 7 delivery days before it (loaded untimed)."""
    from flows.backfill import backfill

    target = ctx.target("nightly-week")
    target.reset()
    use_project_settings(ctx, target)
    first = max(ctx.scale.start, ctx.last_day - timedelta(days=NIGHTLY_WEEK_HISTORY_DAYS))
    setup, _ = _timed(backfill, start=first, end=ctx.last_day - timedelta(days=1))
    return {
        "seconds": _nightly_runs(ctx, target),
        "rows": {"history_days": (ctx.last_day - first).days},
        "notes": [f"history: backfill {first} .. {ctx.last_day - timedelta(days=1)}, untimed ({setup:.1f} s)"],
    }


def measure_metrics_week(ctx: MeasureContext) -> dict:
    """``recompute_metrics`` of the last week on the project measure's warehouse (the whole history)."""
    from tasks.metrics import recompute_metrics

    settings = use_project_settings(ctx, ctx.target("project"))
    seconds, written = [], {}
    for _ in range(ctx.repeat):
        elapsed, written = _timed(recompute_metrics.fn, settings, [ctx.last_week])
        seconds.append(elapsed)
    return {"seconds": seconds, "rows": {"week": ctx.last_week, "rows_written": sum(written.values())}}


def report_flow_available() -> bool:
    return importlib.util.find_spec("flows.weekly_report") is not None


def measure_report(ctx: MeasureContext) -> dict:
    """The weekly report flow (metrics, PDF and HTML, not sent) of the last week, at the whole history."""
    if not report_flow_available():
        return {"status": "unavailable", "notes": ["unavailable (report flow not present: flows/weekly_report.py)"]}
    from flows.weekly_report import weekly_report

    parameters = inspect.signature(weekly_report.fn).parameters
    if "week" not in parameters or "send" not in parameters:
        return {"status": "unavailable", "notes": [f"weekly_report has parameters {list(parameters)}, not week/send"]}
    use_project_settings(ctx, ctx.target("project"))
    seconds = []
    for _ in range(ctx.repeat):
        elapsed, _ = _timed(weekly_report, week=ctx.last_week, send=False)
        seconds.append(elapsed)
    outputs = sorted(str(p.relative_to(ctx.scale.folder)) for p in (ctx.scale.folder / "reports").rglob("*.*"))
    return {"seconds": seconds, "rows": {"week": ctx.last_week, "files": len(outputs)}}


def _cli_runs(ctx: MeasureContext, *args: str) -> dict:
    """``loyalty <args>`` in a new process each time, on the project measure's warehouse: what a user waits
    for at the prompt, the interpreter's start and the imports included."""
    import resource
    import subprocess
    import sys

    if ctx.engine != "sqlite":
        why = "PostgreSQL: the bench picks its schema with a hook in its own process, which `loyalty` lacks"
        return {"status": "unavailable", "notes": [why]}
    target = ctx.target("project")
    env = {**os.environ, "LOYALTY_WAREHOUSE_URL": target.url, "LOYALTY_LANDING_DIR": str(ctx.scale.landing)}
    command = [str(Path(sys.executable).with_name("loyalty")), *args]
    seconds = []
    for _ in range(ctx.repeat):
        started = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        seconds.append(time.perf_counter() - started)
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "rows": {"command": " ".join(args)}, "notes": [f"command peak RSS {child_mib:.0f} MiB"]}


def measure_cli_metrics(ctx: MeasureContext) -> dict:
    return _cli_runs(ctx, "metrics", "--week", ctx.last_week, "--json")


def measure_cli_status(ctx: MeasureContext) -> dict:
    return _cli_runs(ctx, "status")


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    run: Any
    #: Measures whose warehouse this one reads (it is skipped when they failed).
    needs: tuple[str, ...] = ()
    long: bool = False


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure("floor", "floor: read + executemany/COPY", measure_floor),
        Measure("naive", "naive: read_csv -> GX -> to_sql per day", measure_naive, long=True),
        Measure("project", "project: backfill flow, files", measure_project, long=True),
        Measure("project-sql", "project: backfill flow, SQL source", measure_project_sql, long=True),
        Measure("nightly-full", "nightly: 1 day on full history", measure_nightly_full, needs=("project",)),
        Measure("metrics-week", "metrics, one week (full history)", measure_metrics_week, needs=("project",)),
        Measure("report", "weekly report: metrics + PDF + HTML", measure_report, needs=("project",)),
        Measure("nightly-week", "nightly: 1 day on 1 week", measure_nightly_week),
        Measure("cli-metrics", "loyalty metrics --json (new process)", measure_cli_metrics, needs=("project",)),
        Measure("cli-status", "loyalty status (new process)", measure_cli_status, needs=("project",)),
    )
}


def label(measure: str, scale: Scale) -> str:
    text = MEASURES[measure].label
    if measure == "nightly-full":
        history = (scale.end - scale.start).days
        text += f" ({history} days)"
    return text


def landing_rows(manifest: dict) -> dict[str, int]:
    rows = manifest.get("rows", {})
    return {k: int(rows[k]) for k in ("customers", "transactions", "survey_responses") if k in rows}


__all__ = ["MEASURES", "MeasureContext", "label", "landing_rows"]
