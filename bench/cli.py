"""``python -m bench``: generate (or reuse) the scale's data, run every measure on every engine, print and save.

    python -m bench --scale quick|year [--engines sqlite,postgres] [--repeat N] [--out state/bench/results-<scale>.json]

Order: a Prefect server is started; the data is built (or reused); the floors run; the libraries are imported
once; then per engine the naive peer, the project's backfill, the nightly run on the full history, the metrics
of one week, the weekly report and the nightly run on one week of history. Every measure runs in its own
process; the table quotes the median of its repetitions. The machine is shared, so medians, not means.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.data import BENCH_DIR, SCALES, Scale, ensure_data
from bench.measures import MEASURES, MeasureContext, label, landing_rows, measure_floor
from bench.results import (
    MeasureResult,
    evaluate_goals,
    goals_table,
    machine_facts,
    measures_table,
    postgres_server_version,
    write_json,
)
from bench.runner import BenchServer, ForkedChild, import_libraries, prefect_environment, run_forked
from bench.targets import DEFAULT_POSTGRES_URL, ENGINES, install_search_path_hook, pg_conninfo, postgres_problem

#: Measures run by default, in this order (floor first: it runs before the heavy libraries are imported).
DEFAULT_MEASURES = (
    "floor",
    "naive",
    "project",
    "nightly-full",
    "metrics-week",
    "report",
    "cli-metrics",
    "cli-status",
    "nightly-week",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="quick")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions of the short measures (default 3)")
    parser.add_argument("--repeat-long", type=int, default=1, help="repetitions of naive and backfill measures")
    parser.add_argument(
        "--measures",
        default=",".join(DEFAULT_MEASURES),
        help=f"comma-separated, of: {', '.join(MEASURES)} (project-sql: the backfill from the SQL source)",
    )
    parser.add_argument("--out", type=Path, default=None, help="results JSON; default state/bench/results-<scale>.json")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="the bench database (only that one)")
    args = parser.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if unknown := [e for e in args.engines if e not in ENGINES]:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    args.measures = [m.strip() for m in args.measures.split(",") if m.strip()]
    if unknown := [m for m in args.measures if m not in MEASURES]:
        parser.error(f"unknown measure(s) {', '.join(unknown)}; choose from {', '.join(MEASURES)}")
    if args.repeat is not None and args.repeat < 1 or args.repeat_long < 1:
        parser.error("--repeat and --repeat-long must be at least 1")
    return args


def say(text: str) -> None:
    print(text, flush=True)


def _data_child(scale: Scale, conninfo: str | None) -> dict:
    return ensure_data(scale, postgres_conninfo=conninfo)


def run_measure(
    key: str,
    ctx: MeasureContext,
    results: list[MeasureResult],
    logs: Path,
    forked: ForkedChild | None = None,
    requested: tuple[str, ...] = (),
) -> MeasureResult:
    """Run one measure in its own process (``forked``: one forked earlier, waiting at its gate)."""
    measure = MEASURES[key]
    result = MeasureResult(engine=ctx.engine, measure=key, label=label(key, ctx.scale))
    # A needed measure not run now counts when an earlier bench run left its warehouse (re-measuring the nightly
    # run or the metrics after a change, without a new backfill): said in the notes.
    # (The nightly measures remove and reload the last day, so a finished backfill is told by the day before.)
    finished = ctx.last_day - timedelta(days=1)
    earlier = [n for n in measure.needs if requested and n not in requested and ctx.target(n).has_runs(finished)]
    unmet = [
        n for n in measure.needs
        if n not in earlier and not any(r.engine == ctx.engine and r.measure == n and r.status == "ok" for r in results)
    ]  # fmt: skip
    if earlier:
        result.notes.append(f"on the {', '.join(earlier)} warehouse of an earlier bench run")
    if unmet:
        result.status = "skipped"
        result.notes.append(f"needs {', '.join(unmet)} on {ctx.engine}, which did not run or failed")
        say(f"  [{ctx.engine}] {result.label}: skipped ({result.notes[0]})")
        return result
    say(f"  [{ctx.engine}] {result.label} ...")
    log_path = logs / f"{ctx.engine}-{key}.log"
    outcome = forked.run() if forked is not None else run_forked(measure.run, (ctx,), log_path)
    result.log = str(outcome.log_path)
    result.process_seconds = outcome.process_seconds
    result.peak_rss_mib = outcome.peak_rss_mib
    result.cpu_seconds = outcome.cpu_seconds
    if not outcome.ok:
        result.status = "failed"
        last = (outcome.error or "").strip().splitlines()
        result.notes.append(f"failed: {last[-1] if last else 'no error text'} (log {outcome.log_path})")
        say(f"  [{ctx.engine}] {result.label}: FAILED: {result.notes[-1]}")
        return result
    data = outcome.result
    result.status = data.get("status", "ok")
    result.seconds = [float(s) for s in data.get("seconds", [])]
    result.rows = data.get("rows", {})
    result.notes.extend(data.get("notes", []))
    if result.status != "ok":
        result.peak_rss_mib = None  # an unavailable measure ran nothing worth a memory figure
        say(f"  [{ctx.engine}] {result.label}: {result.status}: {'; '.join(result.notes)}")
    else:
        runs = ", ".join(f"{s:.1f}" for s in result.seconds)
        peak = outcome.peak_rss_mib
        say(
            f"  [{ctx.engine}] {result.label}: median {result.median:.1f} s ({runs}); "
            f"process CPU {outcome.cpu_seconds:.1f} s; peak RSS {peak:.0f} MiB"
        )
    return result


def _lock_bench() -> object | None:
    """One bench run at a time: runs share ``state/bench`` and the Prefect server's home. None if one is running."""
    import fcntl

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    handle = open(BENCH_DIR / ".lock", "w")  # noqa: SIM115 - held until the process ends
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lock = _lock_bench()
    if lock is None:
        say(f"another bench run holds {BENCH_DIR / '.lock'}; wait for it to finish")
        return 2
    scale = SCALES[args.scale]
    if args.repeat is not None:
        scale = replace(scale, repeat=args.repeat)
    out = args.out or BENCH_DIR / f"results-{scale.name}.json"
    logs = scale.folder / "logs"
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    notes: list[str] = [
        "2 cores shared with other work: every time quoted is the median of its repetitions",
        "each measure ran in its own process forked from the bench (the floors before it imported Prefect and GX,"
        " the others after): the seconds are the work, without Python's imports",
        "all flow runs used one Prefect server started by the bench (its start-up is listed separately)",
    ]
    engines = list(args.engines)
    if "postgres" in engines and (problem := postgres_problem(args.postgres_url)):
        engines.remove("postgres")
        notes.append(f"postgres skipped: {problem}")
        say(f"PostgreSQL skipped: {problem}")
    if not engines:
        say("no engine to measure")
        return 2
    conninfo = pg_conninfo(args.postgres_url) if "postgres" in engines else None
    facts_before = machine_facts()
    say(f"bench {scale.name}: {scale.start} .. {scale.end}, {scale.customers:,} customers; {', '.join(engines)}")

    server = BenchServer(BENCH_DIR / "prefect" / scale.name)
    results: list[MeasureResult] = []
    manifest: dict = {}
    imports_seconds = None
    try:
        api_url = server.launch()
        say(f"starting a Prefect server for this run at {api_url} (log {server.home / 'server.log'})")
        os.environ.update(prefect_environment(api_url, server.home))
        install_search_path_hook()

        say(f"data in {scale.folder} ...")
        data = run_forked(_data_child, (scale, conninfo), logs / "data.log", on_wait=server.poll)
        if not data.ok:
            say(f"data generation failed: {(data.error or '').strip().splitlines()[-1:]} (log {data.log_path})")
            return 1
        manifest = data.result
        counts = manifest["rows"]
        say(
            f"  {'reused' if manifest.get('reused') else 'built'} in {data.process_seconds:.1f} s: "
            f"{counts['customers']:,} customers, {counts['transactions']:,} transactions, "
            f"{counts['survey_responses']:,} survey responses ({counts['comment_share']:.1%} with a comment), "
            f"{manifest['files']:,} files"
        )

        def context(engine: str) -> MeasureContext:
            return MeasureContext(
                scale=scale,
                engine=engine,
                repeat=scale.repeat,
                repeat_long=args.repeat_long,
                postgres_url=args.postgres_url,
                expected_rows=landing_rows(manifest),
            )

        # The floors are forked now, from the lean process, and run once the server is up; meanwhile the
        # libraries are imported, overlapping the server's start-up.
        floors = {
            engine: ForkedChild(measure_floor, (context(engine),), logs / f"{engine}-floor.log")
            for engine in (engines if "floor" in args.measures else [])
        }
        imports_seconds = import_libraries()
        say(f"libraries imported in {imports_seconds:.1f} s (once, not in any measure)")
        say(f"  Prefect server healthy {server.wait():.1f} s after its start")
        for engine, forked in floors.items():
            results.append(run_measure("floor", context(engine), results, logs, forked))
        for engine in engines:
            for key in args.measures:
                if key != "floor":
                    results.append(run_measure(key, context(engine), results, logs, requested=tuple(args.measures)))
    finally:
        server.stop()

    verdicts = evaluate_goals(results)
    wall = time.perf_counter() - started
    payload = {
        "scale": scale.name,
        "range": {"start": scale.start.isoformat(), "end": scale.end.isoformat(), "days": len(scale.days)},
        "started_at": started_at.isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 1),
        "machine": machine_facts(postgres_server_version(conninfo) if conninfo else None),
        "load_average_at_start": facts_before["load_average"],
        "data": manifest,
        "prefect_server_start_seconds": None if server.start_seconds is None else round(server.start_seconds, 1),
        "imports_seconds": None if imports_seconds is None else round(imports_seconds, 1),
        "measures": [r.as_dict() for r in results],
        "goals": [v.as_dict() for v in verdicts],
        "notes": notes,
    }
    write_json(out, payload)
    say("")
    cores = payload["machine"]["cores"]
    say(f"Results, scale {scale.name} ({len(scale.days)} days); medians of the runs; {cores} cores, shared")
    say(measures_table(results))
    say("")
    say(goals_table(verdicts))
    say("")
    say(f"Prefect server start-up, once per bench run and in no measure: {payload['prefect_server_start_seconds']} s")
    say(f"results: {out}; logs: {logs}; whole bench {wall:.0f} s")
    return 0 if all(r.status in ("ok", "unavailable") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
