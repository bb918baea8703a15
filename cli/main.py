"""The ``loyalty`` command: the one surface data engineers use by hand.

Errors are one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated

import typer

from loyalty.settings import STATE_DIR, Settings, configure_runtime, get_settings

app = typer.Typer(
    help="Customer-loyalty pipeline: nightly ETL, metrics and weekly reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _setup() -> None:
    configure_runtime()


class UserError(Exception):
    """Wrong input from the person at the keyboard: reported as one line, exit code 2."""


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:  # one line for the operator; the Prefect run log keeps the detail
        typer.echo(f"error: {error_line(exc)}", err=True)
        raise typer.Exit(1) from None


def error_line(exc: BaseException) -> str:
    """One line for the terminal: a driver error's text (SQL, parameters) never shown; controls escaped."""
    import sqlalchemy as sa

    from loyalty.db import describe_db_error
    from loyalty.textsafe import display_line

    if isinstance(exc, sa.exc.DBAPIError | sa.exc.StatementError):
        return describe_db_error(exc, get_settings().warehouse_url)
    text = str(exc).strip()
    return display_line(text.splitlines()[0]) if text else type(exc).__name__


def parse_day(value: str, option: str) -> date:
    from loyalty.arguments import parse_day_argument

    try:
        return parse_day_argument(value, option)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def parse_week(value: str, option: str = "--week") -> str:
    from loyalty.arguments import parse_week_argument

    try:
        return parse_week_argument(value, option)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _api_configured() -> bool:
    """Whether runs go to a Prefect server (PREFECT_API_URL), where other runs can be seen."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


@contextlib.contextmanager
def _flow_api() -> Iterator[str | None]:
    """Run the command's flows against a configured or running server when there is one (see
    ``cli.server.running_server_api``), saying which; else Prefect's temporary server."""
    from prefect.settings import PREFECT_API_URL

    from cli.server import running_server_api

    configured = PREFECT_API_URL.value()
    with running_server_api(get_settings()) as api:
        if api is not None and api != configured:  # found, not configured: say where the run went
            typer.echo(f"runs report to the Prefect server at {api}", err=True)
        yield api


def _check_entities(entity: list[str] | None) -> None:
    """--entity names contract entities; what the operator typed is shown escaped."""
    from loyalty.contract import ENTITIES
    from loyalty.textsafe import display_line

    if unknown := sorted(set(entity or []) - set(ENTITIES)):
        raise UserError(f"--entity must be one of {', '.join(ENTITIES)}, got {display_line(', '.join(unknown))}")


def _intake_settings() -> Settings:
    """The settings of a command that loads: its landing folder exists (file sources) and its warehouse answers."""
    settings = get_settings()
    if settings.source_kind == "files" and not settings.landing_dir.is_dir():
        raise UserError(f"landing folder {settings.landing_dir} does not exist (LOYALTY_LANDING_DIR)")
    _check_warehouse()
    return settings


def _check_warehouse() -> None:
    from loyalty.db import check_connection, get_engine

    check_connection(get_engine(get_settings().warehouse_url))


@app.command()
def nightly(
    delivery_day: Annotated[
        str | None, typer.Option("--date", help="Delivery day YYYY-MM-DD; default yesterday.")
    ] = None,
) -> None:
    """Run the nightly ETL for one delivery day."""
    with cli_errors():
        day = parse_day(delivery_day, "--date") if delivery_day else None
        _intake_settings()
        configure_runtime(quiet=True)  # the summary below says what happened; Prefect's INFO lines go to the UI
        from prefect import tags

        from cli.server import deployment_tags
        from flows.nightly_etl import nightly_etl

        with _flow_api(), tags(*deployment_tags("nightly-etl")):  # the tags its deployment runs carry
            results = nightly_etl(delivery_day=day)
        for r in results:
            typer.echo(
                f"{r['entity']:<17} {r['delivery_day']}  in {r['rows_in']:>7,}  loaded {r['rows_loaded']:>7,}  "
                f"quarantined {r['rows_quarantined']:>5,}"
            )


@app.command()
def backfill(
    start: Annotated[str, typer.Option(help="First delivery day YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last delivery day YYYY-MM-DD.")],
    entity: Annotated[list[str] | None, typer.Option(help="Only this entity (repeatable); default all.")] = None,
    skip_done: Annotated[bool, typer.Option(help="Skip the leading days a run already finished.")] = False,
    render_reports: Annotated[bool, typer.Option(help="Render the report of each complete week touched.")] = False,
    chunk_days: Annotated[int | None, typer.Option(help="Days per chunk; default LOYALTY_BACKFILL_CHUNK_DAYS.")] = None,
    task_runner: Annotated[
        str | None, typer.Option(help="serial or dask; default LOYALTY_BACKFILL_TASK_RUNNER.")
    ] = None,
) -> None:
    """Load every delivery day of a range (re-run it to finish an interrupted one), then recompute metrics."""
    with cli_errors():
        first, last = parse_day(start, "--start"), parse_day(end, "--end")
        if last < first:
            raise UserError(f"--end {last} is before --start {first}")
        _check_entities(entity)
        if task_runner not in (None, "serial", "dask"):
            raise UserError(f"--task-runner must be serial or dask, got {task_runner!r}")
        if chunk_days is not None and chunk_days < 1:
            raise UserError("--chunk-days must be at least 1")
        settings = _intake_settings()
        configure_runtime(quiet=True)
        from prefect import tags
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from cli.server import cli_run_tag, deployment_tags, overlapping_backfills, warehouse_tag
        from flows.backfill import backfill as backfill_flow
        from loyalty import progress

        warehouse = warehouse_tag(settings.warehouse_url)
        with _flow_api():
            if running := _api_configured() and overlapping_backfills(first, last, warehouse):
                raise UserError(
                    f"another backfill of an overlapping range is running: {', '.join(running)}; wait for it to end"
                    " (or cancel it in the UI), then run this one"
                )

            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns) as bar:
                task = bar.add_task(f"backfill {first} .. {last}", total=(last - first).days + 1)
                with (
                    progress.watching(lambda p: bar.update(task, completed=p.done, description=f"backfill {p.label}")),
                    tags(*deployment_tags("backfill"), warehouse, cli_run_tag()),
                ):
                    result = backfill_flow(
                        start=first,
                        end=last,
                        entities=entity or None,
                        skip_done=skip_done,
                        render_reports=render_reports,
                        chunk_days=chunk_days,
                        task_runner=task_runner,
                    )
            skipped = (
                f"{result['days_skipped']} skipped: {' .. '.join(result['skipped'])} were loaded by earlier successful"
                " runs from the same files"
                if result["days_skipped"]
                else "none skipped"
            )
            typer.echo(
                f"{result['days']} delivery days ({skipped}): in {result['rows_in']:,}, "
                f"loaded {result['rows_loaded']:,}, quarantined {result['rows_quarantined']:,}; "
                f"metrics recomputed for {len(result['weeks'])} weeks"
            )


@app.command()
def serve() -> None:
    """Start a local Prefect server and serve the deployments of prefect.yaml with their schedules (Ctrl-C stops)."""
    with cli_errors():
        from cli.server import serve as serve_deployments

        serve_deployments(get_settings(), echo=typer.echo)


@app.command()
def worker() -> None:
    """A process worker of the loyalty-process pool (make deploy's deployments), naming runs while they wait."""
    with cli_errors():
        from cli.server import work

        work(get_settings(), echo=typer.echo)


@app.command()
def deploy() -> None:
    """Deploy prefect.yaml to the server at PREFECT_API_URL, for workers of the loyalty-process pool."""
    with cli_errors():
        from cli.server import deploy as deploy_all

        names = deploy_all(get_settings(), echo=typer.echo)
        typer.echo(f"deployed: {', '.join(names)}")


@app.command()
def automations() -> None:
    """Apply the failure alerts of ops/automations.yaml to the server at PREFECT_API_URL."""
    with cli_errors():
        from cli.automations import apply_automations
        from cli.server import prefect_api

        settings = get_settings()
        with prefect_api(settings, start_server=False):
            names = apply_automations(settings)
        typer.echo(f"applied: {', '.join(names)}")


@app.command()
def status(limit: Annotated[int, typer.Option(help="How many run-ledger rows to show.")] = 15) -> None:
    """Show the last runs with their counts, and quarantined rows by reason."""
    with cli_errors():
        import sqlalchemy as sa

        from loyalty.db import get_read_engine, load_sql, redact_url
        from loyalty.textsafe import display_line as shown

        settings = get_settings()
        _check_warehouse()
        engine = get_read_engine(settings.warehouse_url)
        if not sa.inspect(engine).has_table("run_ledger"):
            raise UserError(f"warehouse {redact_url(settings.warehouse_url)} has no runs yet: run `loyalty nightly`")
        with engine.connect() as conn:
            runs = conn.execute(load_sql("status/recent_runs"), {"row_limit": limit}).all()
            reasons = conn.execute(load_sql("status/quarantine_by_reason")).all()
            rejected = conn.execute(load_sql("status/rejected_files"), {"row_limit": 10}).all()
        typer.echo(f"warehouse: {redact_url(settings.warehouse_url)}\n")
        typer.echo("Last runs")
        typer.echo(f"  {'delivery day':<12} {'entity':<17} {'status':<9} {'in':>8} {'loaded':>8} {'quarant.':>8}  run")
        for r in runs:
            typer.echo(
                f"  {r.delivery_day!s:<12} {r.entity:<17} {r.status:<9} {_n(r.rows_in):>8} {_n(r.rows_loaded):>8} "
                f"{_n(r.rows_quarantined):>8}  {shown(str(r.run_id)[:8])}"
                + (f"  {shown(r.error[:80])}" if r.error else "")
            )
        typer.echo("\nQuarantined rows by reason (all days)")
        if not reasons:
            typer.echo("  none")
        for r in reasons:
            typer.echo(f"  {r.entity:<17} {shown(r.reason):<40} {r.count_rows:>7,}")
        if rejected:
            typer.echo("\nRejected files (latest)")
            for r in rejected:  # file names are the source's: shown with their control characters escaped
                typer.echo(f"  {r.delivery_day!s:<12} {shown(r.path):<50} {shown(r.reason)}")


@app.command()
def metrics(
    week: Annotated[str, typer.Option(help="ISO week, e.g. 2026-W47.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the headline figures as JSON.")] = False,
) -> None:
    """Print one week's headline figures from the stored metric tables."""
    with cli_errors():
        import json

        parse_week(week)
        _check_warehouse()
        headline = read_headline(week)
        if as_json:
            typer.echo(json.dumps(headline, indent=2, sort_keys=False, allow_nan=False))
        else:
            for line in _headline_lines(headline):
                typer.echo(line)


@app.command("quarantine")
def quarantine_rows(
    day: Annotated[str | None, typer.Option(help="Only this delivery day YYYY-MM-DD.")] = None,
    entity: Annotated[str | None, typer.Option(help="Only this entity.")] = None,
    reason: Annotated[
        str | None,
        typer.Option(help="Only rows failing this reason code (out_of_range:nps), or this kind (out_of_range)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many rows.")] = 50,
) -> None:
    """List quarantined rows: where each came from, why, and its values masked (emails, notes) as in the report."""
    with cli_errors():
        import sqlalchemy as sa

        from loyalty.contract import ENTITIES
        from loyalty.db import get_read_engine, load_sql
        from loyalty.quality import masked_record, reason_codes
        from loyalty.textsafe import display_line

        chosen_day = parse_day(day, "--day") if day else None
        if entity is not None and entity not in ENTITIES:
            raise UserError(f"--entity must be one of {', '.join(ENTITIES)}, got {display_line(entity)[:40]!r}")
        if limit < 1:
            raise UserError("--limit must be at least 1")
        _check_warehouse()
        engine = get_read_engine(get_settings().warehouse_url)
        if not sa.inspect(engine).has_table("quarantine"):
            raise UserError("the warehouse has no runs yet: run `loyalty nightly`")
        params = {
            "is_any_day": chosen_day is None,
            "day": chosen_day or date(2000, 1, 1),
            "is_any_entity": entity is None,
            "entity": entity or "",
            "is_any_reason": reason is None,
            "reason_like": f"%{reason or ''}%",  # a LIKE wildcard in it only loosens the match checked below
        }

        def wanted(r: sa.Row) -> bool:
            return reason is None or any(c == reason or c.split(":")[0] == reason for c in reason_codes(r.reasons))

        # Streamed: a year of quarantine is counted without holding it; only the rows shown are kept.
        rows, total = [], 0
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(
                load_sql("quarantine/quarantined_rows"), params
            )
            for r in result:
                if wanted(r):
                    total += 1
                    if len(rows) < limit:
                        rows.append(r)
        scope = ", ".join(
            part
            for part in (
                f"day {chosen_day}" if chosen_day else "",
                f"entity {entity}" if entity else "",
                f"reason {display_line(reason)[:60]}" if reason else "",
            )
            if part
        )
        typer.echo(f"quarantined rows{f' ({scope})' if scope else ''}: {total:,}")
        for r in rows:
            where = f"{display_line(r.source)}:{r.source_row}" if r.source_row is not None else display_line(r.source)
            key = _safe(r.source_key, 24) if r.source_key else "-"
            typer.echo(f"  {r.delivery_day!s:<10}  {r.entity:<16}  {where}  id {key}  {display_line(r.reasons)}")
            typer.echo(f"      {masked_record(r.entity, r.raw_record)}")
        if total > limit:
            typer.echo(f"  ... {total - limit:,} more (--limit, or narrow with --day, --entity, --reason)")


@app.command()
def replay(
    day: Annotated[str, typer.Option(help="The delivery day to run again, YYYY-MM-DD.")],
    entity: Annotated[list[str] | None, typer.Option(help="Only this entity (repeatable); default all.")] = None,
) -> None:
    """Run one delivery day again (after fixing its files) and show what changed: rows loaded and quarantined,
    reasons that appeared or disappeared. Each entity's partition of the day is replaced in one transaction."""
    with cli_errors():
        chosen = parse_day(day, "--day")
        _check_entities(entity)
        settings = _intake_settings()
        configure_runtime(quiet=True)
        from prefect import tags

        from cli.server import deployment_tags
        from flows.nightly_etl import nightly_etl
        from loyalty.db import get_engine
        from loyalty.quality import day_changes, read_day_state
        from loyalty.schema import migrate

        engine = get_engine(settings.warehouse_url)
        migrate(engine)  # an older warehouse gets the tables the "before" reads; the run would do it anyway
        with engine.connect() as conn:
            before = read_day_state(conn, chosen)
        # The nightly flow itself, named as a replay: the same intake, then the metrics of the weeks it touched.
        run = nightly_etl.with_options(flow_run_name=f"replay-{chosen.isoformat()}")
        with tags(*deployment_tags("nightly-etl"), "replay"):
            state = run(delivery_day=chosen, entities=entity or None, return_state=True)
        with engine.connect() as conn:
            after = read_day_state(conn, chosen)
        _print_replay(chosen, *day_changes(before, after))
        if not state.is_completed():
            raise RuntimeError(state.message or state.name)


def _print_replay(day: date, counts: list, rules: list) -> None:  # type: ignore[type-arg]
    from loyalty.textsafe import display_line

    typer.echo(f"replay of delivery day {day}: before -> after")
    if not counts:
        typer.echo("  no rows or files for this day, before or after")
        return
    typer.echo(f"  {'entity':<17} {'rows in':>15} {'loaded':>15} {'quarantined':>15}  files")
    for c in counts:
        cells = [f"{b:,} -> {a:,}" if b != a else f"{a:,}" for b, a in zip(c.before, c.after, strict=True)]
        files = _files_text(c.files_after) + (
            f" (was {_files_text(c.files_before)})" if c.files_before != c.files_after else ""
        )
        typer.echo(f"  {c.entity:<17} {cells[0]:>15} {cells[1]:>15} {cells[2]:>15}  {files}")
    if not rules and not any(c.changed for c in counts):
        typer.echo("no change: the day's files give the rows already stored")
        return
    typer.echo("reasons (rows failing each rule):" if rules else "reasons: none appeared or disappeared")
    for r in rules:
        typer.echo(f"  {r.entity:<17} {display_line(r.code):<40} {r.before:>6,} -> {r.after:<6,} {r.verdict}")


def _files_text(files: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(files.items())) or "none"


report_app = typer.Typer(help="The weekly report: render it, or email it.", no_args_is_help=True)
app.add_typer(report_app, name="report")


def _report_week(week: str | None) -> str | None:
    return None if week is None else parse_week(week)


def _run_weekly_report(week: str | None, region: str | None, *, send: bool, recipients: list[str] | None) -> dict:
    """Run the weekly-report flow. A render (no send) with no server configured or running skips Prefect's
    temporary server, which takes longer to start than the report takes: the same steps run as plain functions
    and write the same files, without a flow run or artifacts."""
    _check_warehouse()
    configure_runtime(quiet=True)  # before Prefect is imported: it reads its logging settings then
    from flows.weekly_report import render_without_a_flow_run, weekly_report
    from tasks.report_data import ReportInputError

    try:
        if region is not None:  # before the flow starts: one line, not a failed run's traceback
            from loyalty.db import get_read_engine
            from tasks.report_data import check_region

            check_region(get_read_engine(get_settings().warehouse_url), region)
        with _flow_api() as api:
            if api is None and not send:
                typer.echo("no Prefect server: rendering without a flow run", err=True)
                return render_without_a_flow_run(week, region)
            from prefect import tags

            from cli.server import deployment_tags

            with tags(*deployment_tags("weekly-report")):  # the tags its deployment runs carry
                return weekly_report(week=week, region=region, send=send, recipients=recipients)
    except ReportInputError as exc:
        raise UserError(str(exc)) from None


def _print_report(result: dict) -> None:
    from loyalty.textsafe import display_line

    typer.echo(display_line(f"weekly report {result['week']}" + (f" ({result['region']})" if result["region"] else "")))
    typer.echo(f"  PDF   {result['pdf']}  ({result['pages']} pages, rendered in {result['seconds']:.1f} s)")
    typer.echo(f"  HTML  {result['html']}")


@report_app.command("render")
def report_render(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W47; default the last complete week.")] = None,
    region: Annotated[str | None, typer.Option(help="A regional manager's edition: only this region's data.")] = None,
) -> None:
    """Render the weekly report's PDF and HTML (not emailed)."""
    with cli_errors():
        _print_report(_run_weekly_report(_report_week(week), region, send=False, recipients=None))


@report_app.command("send")
def report_send(
    week: Annotated[str, typer.Option(help="ISO week, e.g. 2026-W47.")],
    region: Annotated[str | None, typer.Option(help="Send this region's edition.")] = None,
    to: Annotated[list[str] | None, typer.Option(help="Send to this address only (repeatable).")] = None,
    only_failed: Annotated[
        bool, typer.Option(help="Re-send only to the recipients whose last send of this edition failed.")
    ] = False,
) -> None:
    """Render the week's report again (same content) and email the PDF; the send log keeps every send."""
    with cli_errors():
        week_label = _report_week(week)
        settings = get_settings()
        if not settings.smtp_host:
            raise UserError("no SMTP host: set LOYALTY_SMTP_HOST (and LOYALTY_SMTP_PORT, _SECURITY, _USER, _PASSWORD)")
        recipients = list(to or [])
        if only_failed:
            from loyalty.db import get_engine
            from tasks.send import read_sends

            _check_warehouse()
            log = read_sends(get_engine(settings.warehouse_url), week_label, region)
            recipients = [r["recipient"] for r in log if r["status"] == "failed"]
            if not recipients:
                typer.echo(f"nobody to re-send to: every recipient of {week_label} got it")
                return
        if not recipients and not settings.report_recipients:
            raise UserError("no recipients: set LOYALTY_REPORT_RECIPIENTS or pass --to")
        result = _run_weekly_report(week_label, region, send=True, recipients=recipients or None)
        _print_report(result)
        typer.echo(f"  sent to {', '.join(result['sent'])}")


@report_app.command("sends")
def report_sends(
    week: Annotated[str, typer.Option(help="ISO week, e.g. 2026-W47.")],
    region: Annotated[str | None, typer.Option(help="A regional edition.")] = None,
) -> None:
    """Show who got the week's report: the latest send to each recipient."""
    with cli_errors():
        from loyalty.db import get_read_engine
        from tasks.send import read_sends

        week_label = _report_week(week)
        _check_warehouse()
        rows = read_sends(get_read_engine(get_settings().warehouse_url), week_label, region)
        if not rows:
            typer.echo(f"no sends of the {week_label} report yet")
        for r in rows:
            from loyalty.textsafe import display_line

            typer.echo(
                display_line(
                    f"  {r['recipient']:<40} {r['status']:<7} attempts {r['attempts']}  sends {r['sends']}  "
                    f"{r['attempted_at']:%Y-%m-%d %H:%M} UTC" + (f"  {r['error']}" if r["error"] else "")
                )
            )


cases_app = typer.Typer(
    help="RETAIN cases: list a week's cases (`loyalty cases --week W`), or export a region's call list.",
    invoke_without_command=True,
)
app.add_typer(cases_app, name="cases")
CASE_STATUSES = ("open", "contacted", "resolved", "came_back", "expired")


def _read_cases(week: str) -> pd.DataFrame:  # noqa: F821 - pandas is imported lazily
    import pandas as pd
    import sqlalchemy as sa

    from loyalty.db import get_read_engine, load_sql

    # Plain SQLAlchemy, not the metrics task's reader: that import would load Prefect for a quick listing.
    engine = get_read_engine(get_settings().warehouse_url)
    if not sa.inspect(engine).has_table("weekly_cases"):
        raise UserError("the warehouse has no cases yet: run `loyalty nightly` or `loyalty demo`")
    with engine.connect() as conn:
        result = conn.execute(load_sql("cases/weekly_cases"), {"week": week})
        cases = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for column in ("is_detractor", "is_control", "is_new", "is_from_earlier_week"):
        cases[column] = cases[column].astype(bool)
    for column in ("value_at_risk", "hours_to_first_contact"):
        cases[column] = pd.to_numeric(cases[column]).astype(float)
    return cases


def _safe(value: object, width: int) -> str:
    """Untrusted text (regions, teams) for a terminal: one line, controls and bidi escaped, cut to width."""
    from loyalty.textsafe import display_line

    if value is None or (isinstance(value, float) and value != value):
        return "-"
    text = display_line(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _sla_text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return "ok" if bool(value) else "late"


@cases_app.callback()
def cases_list(
    ctx: typer.Context,
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W47.")] = None,
    region: Annotated[str | None, typer.Option(help="Only this region's cases.")] = None,
    status: Annotated[str | None, typer.Option(help="Only cases in this status: " + ", ".join(CASE_STATUSES))] = None,
) -> None:
    """List the week's RETAIN cases (status at the week's end; emails masked; control cases not listed)."""
    if ctx.invoked_subcommand is not None:
        return
    with cli_errors():
        if week is None:
            raise UserError("--week is required, e.g. loyalty cases --week 2026-W47")
        week_label = _report_week(week)
        if status is not None and status not in CASE_STATUSES:
            raise UserError(f"--status must be one of {', '.join(CASE_STATUSES)}, got {status!r}")
        _check_warehouse()
        cases = _read_cases(week_label)
        if region is not None:
            cases = cases.loc[cases["region"] == region]
        if status is not None:
            cases = cases.loc[cases["status"] == status]
        held_out = int(cases["is_control"].sum())
        from analytics.cases import team_list

        shown = team_list(cases)
        scope = (
            f"{week_label}" + (f", region {_safe(region, 40)}" if region else "") + (f", {status}" if status else "")
        )
        typer.echo(
            f"RETAIN cases {scope}: {len(shown)} listed, {held_out} control cases held out (not to be contacted)"
        )
        if shown.empty:
            return
        typer.echo(
            f"  {'customer':<10} {'email':<24} {'region':<10} {'status':<10} {'opened':<9} {'age':>4} "
            f"{'1st contact':>11} {'SLA':<5} {'team':<16} {'value':>9}  reason"
        )
        for r in shown.itertuples(index=False):
            hours = "-" if r.hours_to_first_contact != r.hours_to_first_contact else f"{r.hours_to_first_contact:.0f} h"
            sla = _sla_text(r.is_contacted_within_sla)
            mark = "*" if r.is_from_earlier_week else " "
            typer.echo(
                f"{mark} {_safe(r.customer_id, 10):<10} {_safe(r.email_masked, 24):<24} {_safe(r.region, 10):<10} "
                f"{r.status:<10} {r.list_week:<9} {r.age_days:>3}d {hours:>11} {sla:<5} {_safe(r.team, 16):<16} "
                f"{r.value_at_risk:>9,.2f}  {_safe(r.reason, 70)}"
            )
        typer.echo("  * still open from an earlier week's list")


@cases_app.command("export")
def cases_export(
    week: Annotated[str, typer.Option(help="ISO week, e.g. 2026-W47.")],
    region: Annotated[str, typer.Option(help="The region whose call list to write.")],
    out: Annotated[
        str | None, typer.Option(help="CSV file to write; '-' for standard output. Default state/exports/...")
    ] = None,
) -> None:
    """Write a region's call list (its cases still open at the week's end, no control customers) as CSV."""
    with cli_errors():
        from pathlib import Path

        from reports.call_list import build_call_list, call_list_csv

        week_label = _report_week(week)
        _check_warehouse()
        cases = _read_cases(week_label)
        if cases.empty:
            raise UserError(f"no cases stored for {week_label}")
        regions = sorted({r for r in cases["region"].dropna()})
        if region not in regions:
            raise UserError(f"no cases in region {_safe(region, 40)!r} in {week_label}; regions: {', '.join(regions)}")
        text = call_list_csv(build_call_list(cases, week=week_label, region=region))
        if out == "-":
            sys.stdout.write(text)
            return
        slug = "".join(ch if ch.isalnum() else "-" for ch in region.lower()).strip("-") or "region"
        path = Path(out) if out else STATE_DIR / "exports" / week_label / f"call-list-{slug}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(path)
        typer.echo(f"call list {week_label} {_safe(region, 40)}: {text.count(chr(10)) - 1} cases -> {path}")


def iso_week_of(day: date) -> str:
    from analytics.week_labels import iso_week_label

    return iso_week_label(day)


_CASE_HEADLINE_TABLES = ("weekly_followup", "outreach_effect")


def read_headline(week: str) -> dict:
    """The week's headline dict from the stored metric tables, or a UserError when the week has none."""
    import sqlalchemy as sa

    from analytics.headline import summarise_cases, summarise_week
    from loyalty.db import get_read_engine
    from loyalty.stored import read_previous_published_rows, read_stored_rows

    engine = get_read_engine(get_settings().warehouse_url)
    if not sa.inspect(engine).has_table("weekly_satisfaction"):
        raise UserError("the warehouse has no metrics yet: run `loyalty nightly` or `loyalty demo`")
    names = (
        "weekly_satisfaction",
        "weekly_retention",
        "trending_terms",
        "alerts",
        "weekly_kpi_tiles",
        "response_completeness",
        "restatements",
        "repurchase_by_nps_group",
        "repurchase_tests",
        "persisting_terms",
        "cohort_retention",
        *_CASE_HEADLINE_TABLES,
    )
    frames = read_stored_rows(engine, week, names, history_weeks=1)
    satisfaction = frames.pop("weekly_satisfaction")
    if not any(row["week"] == week for row in satisfaction):
        raise UserError(f"no metrics for {week}: the week is unknown or had no survey responses")
    has_published = sa.inspect(engine).has_table("published_figures")
    case_frames = {name: frames.pop(name) for name in _CASE_HEADLINE_TABLES}
    headline = summarise_week(
        week,
        satisfaction,
        kpi_tiles=frames.pop("weekly_kpi_tiles"),
        published_previous=read_previous_published_rows(engine, week, None) if has_published else None,
        **frames,
    )
    return {**headline, **summarise_cases(week, case_frames["weekly_followup"], case_frames["outreach_effect"])}


def _fmt(value, pattern: str) -> str:  # type: ignore[no-untyped-def]
    return "n/a" if value is None else pattern.format(value)


def _headline_lines(h: dict) -> list[str]:
    lines = [
        f"responses {h.get('responses')}",
        f"NPS {_fmt(h.get('nps'), '{:.1f}')} (95% CI {_fmt(h.get('nps_ci_low'), '{:.1f}')} to "
        f"{_fmt(h.get('nps_ci_high'), '{:.1f}')}; promoters {h.get('promoters')}, passives {h.get('passives')}, "
        f"detractors {h.get('detractors')})",
        f"CSAT {_fmt(h.get('csat'), '{:.1%}')}   CES {_fmt(h.get('ces'), '{:.2f}')}",
        f"active customers {h.get('active_customers')}   repeat rate {_fmt(h.get('repeat_rate'), '{:.1%}')}   "
        f"churn rate {_fmt(h.get('churn_rate'), '{:.2%}')}",
    ]
    rising = h.get("rising_terms") or []
    if rising:
        lines.append("rising terms: " + ", ".join(f"{t['term']} ({t['count']})" for t in rising[:6]))
    for alert in (h.get("alerts") or [])[:5]:
        lines.append(f"alert [{alert.get('severity')}] {alert.get('kind')} {alert.get('subject')}")
    if h.get("cases_opened") is not None:
        lines.append(
            f"RETAIN cases opened {h['cases_opened']}, open {h['cases_open']}; contacted within SLA "
            f"{_fmt(h.get('contacted_within_sla_share'), '{:.0%}')}, median first contact "
            f"{_fmt(h.get('median_hours_to_first_contact'), '{:.0f}')} h; of cases closed, resolved "
            f"{_fmt(h.get('resolved_share'), '{:.0%}')}, came back {_fmt(h.get('came_back_share'), '{:.0%}')}"
        )
    effect = h.get("outreach_effect") or {}
    for label, part in (("all cases", effect), ("detractors", effect.get("detractors") or {})):
        if not part:
            continue
        n = part["n"]
        lines.append(
            f"outreach effect ({label}, {'randomised' if part['is_randomised'] else 'observational only'}): "
            f"{part['window_days']}-day repurchase {_fmt(part.get('difference'), '{:+.1%}')} "
            f"(95% CI {_fmt(part.get('ci_low'), '{:+.1%}')} to {_fmt(part.get('ci_high'), '{:+.1%}')}; "
            f"n {n['outreach']} vs {n['control']} control; {part['verdict'].replace('_', ' ')})"
        )
    from loyalty.textsafe import display_line

    return [display_line(line) for line in lines]  # terms and subjects come from comments and regions


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


@app.command()
def demo(
    weeks: Annotated[int, typer.Option(help="Weeks of history to generate.")] = 26,
    customers: Annotated[int, typer.Option(help="Customers to generate.")] = 3000,
    end: Annotated[str | None, typer.Option(help="Last day YYYY-MM-DD; default the last complete ISO week.")] = None,
) -> None:
    """Make demo source data, then run the nightly flow over every day on the embedded warehouse."""
    with cli_errors():
        started = time.monotonic()
        settings = get_settings()
        end_day = parse_day(end, "--end") if end else _last_sunday(date.today())
        if weeks < 1 or weeks > 104:
            raise UserError("--weeks must be between 1 and 104")
        start_day = end_day - timedelta(weeks=weeks) + timedelta(days=1)
        landing = settings.landing_dir
        warehouse_path = _demo_sqlite_path(settings.warehouse_url)
        if STATE_DIR not in landing.resolve().parents:
            raise UserError(f"the demo only writes inside {STATE_DIR}; LOYALTY_LANDING_DIR points at {landing}")
        if warehouse_path is None:
            raise UserError(
                f"the demo only writes to a SQLite warehouse inside {STATE_DIR}; unset LOYALTY_WAREHOUSE_URL"
            )
        shutil.rmtree(landing, ignore_errors=True)
        for suffix in ("", "-wal", "-shm"):
            warehouse_path.with_name(warehouse_path.name + suffix).unlink(missing_ok=True)

        from demo import generate_demo_sources

        typer.echo(f"Generating demo sources {start_day} .. {end_day} ({customers:,} customers) in {landing}")
        summary = generate_demo_sources(
            landing,
            start_day,
            end_day,
            n_customers=customers,
            source_tz=settings.source_tz,
            outreach={
                "business_tz": settings.business_tz,
                "top_n": settings.retain_top_n,
                "control_share": settings.retain_control_share,
                "expiry_weeks": settings.retain_case_expiry_weeks,
            },
        )
        typer.echo(f"  {summary.files:,} files: " + ", ".join(f"{k} {v:,} rows" for k, v in summary.rows.items()))

        configure_runtime(quiet=True)
        from flows.backfill import backfill

        days = (end_day - start_day).days + 1
        typer.echo(f"Running the nightly steps for {days} delivery days on {warehouse_path} (one backfill flow run)")
        result = backfill(start=start_day, end=end_day)
        typer.echo(f"  metrics computed for {len(result['weeks'])} ISO weeks\n")
        _print_totals()
        last_week = iso_week_of(end_day)
        typer.echo(f"\nHeadline figures, {last_week} (loyalty metrics --week {last_week} --json)")
        for line in _headline_lines(read_headline(last_week)):
            typer.echo(f"  {line}")
        from flows.weekly_report import weekly_report

        typer.echo(f"\nRendering the weekly report of {last_week}")
        report = weekly_report(week=last_week, send=False)
        typer.echo(f"  PDF   {report['pdf']}  ({report['pages']} pages, rendered in {report['seconds']:.1f} s)")
        typer.echo(f"  HTML  {report['html']}")
        typer.echo(f"\nDemo finished in {time.monotonic() - started:,.0f} s. Try: loyalty status")


def _print_totals() -> None:
    from loyalty.db import get_engine, load_sql

    engine = get_engine(get_settings().warehouse_url)
    with engine.connect() as conn:
        every_day = {"first_day": date.min, "last_day": date.max}
        totals = conn.execute(load_sql("status/entity_totals"), every_day).all()
        reasons = conn.execute(load_sql("status/quarantine_by_reason")).all()
        stored = {r.entity: r.count_rows for r in conn.execute(load_sql("status/stored_rows"))}
    typer.echo(
        f"{'entity':<17} {'rows in':>9} {'loaded':>9} {'quarant.':>9} {'in table':>9} "
        f"{'files':>6} {'dup':>4} {'rej':>4}"
    )
    for t in totals:
        typer.echo(
            f"{t.entity:<17} {t.rows_in:>9,} {t.rows_loaded:>9,} {t.rows_quarantined:>9,} {stored[t.entity]:>9,} "
            f"{t.files_loaded:>6,} {t.files_duplicate:>4,} {t.files_rejected:>4,}"
        )
    typer.echo("\nQuarantined by reason")
    for r in reasons:
        typer.echo(f"  {r.entity:<17} {r.reason:<40} {r.count_rows:>5,}")


def _last_sunday(today: date) -> date:
    """The Sunday that ends the last complete ISO week before ``today``."""
    return today - timedelta(days=today.isoweekday())


def _demo_sqlite_path(url: str):  # type: ignore[no-untyped-def]
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    from pathlib import Path

    path = Path(parsed.database).resolve()
    return path if STATE_DIR in path.parents else None


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
