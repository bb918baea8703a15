"""Operating the pipeline on a Prefect server: a local server, the deployments, serving them, deploying them.

``prefect.yaml`` is the one place the deployments are written: names, entrypoints, parameters, tags, the work
pool and the schedules. ``loyalty serve`` reads them from there and serves them from this process (the local,
one-command way); ``loyalty deploy`` hands the same file to ``prefect deploy`` for workers of the
``loyalty-process`` work pool (the production way, and the way to Docker or Kubernetes pools).

The local server is started as a plain child process with its output in a log file (``prefect server start
--background`` is unreliable here), healthy after about 10 s, and stopped when ``serve`` ends. Its database is
SQLite under ``Settings.prefect_home`` unless ``Settings.prefect_server_database_url`` names PostgreSQL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from loyalty.settings import PROJECT_ROOT, Settings

PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"
WORK_POOL = "loyalty-process"

log = logging.getLogger(__name__)


class OpsError(RuntimeError):
    """Something an operator has to fix (a server that does not start, a missing setting): one line."""


def prefect_executable() -> str:
    """The ``prefect`` command of this interpreter's environment."""
    return str(Path(sys.executable).with_name("prefect"))


# --- the deployments of prefect.yaml ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment as prefect.yaml writes it."""

    name: str
    entrypoint: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    work_pool: str | None = None
    concurrency_limit: int | None = None
    collision_strategy: str | None = None


def read_deployments(path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        DeploymentSpec(
            name=d["name"],
            entrypoint=d["entrypoint"],
            description=d.get("description") or "",
            tags=list(d.get("tags") or []),
            parameters=dict(d.get("parameters") or {}),
            schedules=list(d.get("schedules") or []),
            work_pool=(d.get("work_pool") or {}).get("name"),
            concurrency_limit=(d.get("concurrency_limit") or {}).get("limit"),
            collision_strategy=(d.get("concurrency_limit") or {}).get("collision_strategy"),
        )
        for d in config["deployments"]
    ]


def runner_schedules(spec: DeploymentSpec) -> list[Any]:
    """The deployment's schedules as Prefect schedule objects (cron or interval, with their time zone and the
    parameters their runs get)."""
    from prefect.schedules import Cron, Interval

    out = []
    for s in spec.schedules:
        active, parameters = s.get("active", True), s.get("parameters") or {}
        if "cron" in s:
            out.append(Cron(s["cron"], timezone=s.get("timezone"), active=active, parameters=parameters))
        elif "interval" in s:
            out.append(Interval(s["interval"], timezone=s.get("timezone"), active=active, parameters=parameters))
        else:
            raise OpsError(f"deployment {spec.name}: only cron and interval schedules are supported, got {s}")
    return out


def runner_deployments(specs: list[DeploymentSpec]) -> list[Any]:
    """RunnerDeployments for ``serve``, one per deployment of prefect.yaml.

    Entrypoints are resolved relative to the project root, which must be the working directory.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.flows import load_flow_from_entrypoint

    deployments = []
    for spec in specs:
        flow = load_flow_from_entrypoint(spec.entrypoint)
        limit = (
            ConcurrencyLimitConfig(
                limit=spec.concurrency_limit,
                collision_strategy=ConcurrencyLimitStrategy(spec.collision_strategy or "ENQUEUE"),
            )
            if spec.concurrency_limit
            else None
        )
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description,
                tags=spec.tags,
                parameters=spec.parameters,
                schedules=runner_schedules(spec),
                concurrency_limit=limit,
            )
        )
    return deployments


def deployment_tags(name: str) -> list[str]:
    """The tags prefect.yaml gives deployment ``name``: a run started from the CLI carries the same."""
    return next((s.tags for s in read_deployments() if s.name == name), [])


def warehouse_tag(warehouse_url: str) -> str:
    """A tag naming the warehouse a CLI run writes to, without its address (a hash; it may hold a password)."""
    import hashlib

    return "warehouse-" + hashlib.sha256(warehouse_url.encode()).hexdigest()[:10]


def cli_run_tag() -> str:
    """A tag naming the host and process of a CLI run, so a later CLI run can tell that it died (``kill -9``)."""
    import socket

    return f"cli-{socket.gethostname()}-{os.getpid()}"


def _dead_cli_run(tags: list[str]) -> bool:
    """Whether the run was started by a CLI process of this host that no longer exists."""
    import socket

    prefix = f"cli-{socket.gethostname()}-"
    for tag in tags:
        if tag.startswith(prefix) and tag[len(prefix) :].isdigit():
            try:
                os.kill(int(tag[len(prefix) :]), 0)
            except ProcessLookupError:
                return True
            except PermissionError:  # alive, someone else's
                return False
    return False


def overlapping_backfills(start: Any, end: Any, warehouse: str | None = None) -> list[str]:
    """Names of the backfill runs the API knows as running (or about to) whose range overlaps start..end.

    A run tagged with another warehouse (``warehouse_tag``) writes elsewhere and does not count; a run with no
    such tag (a deployment run) might write to the same warehouse, so it counts. A CLI run of this host whose
    process is gone (killed) is set Crashed, so the UI stops showing it Running, and does not count.
    """
    from datetime import date

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    active = [StateType.RUNNING, StateType.PENDING, StateType.CANCELLING]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["backfill"])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=active))),
        )
    found = []
    for run in runs:
        tagged = [t for t in run.tags if t.startswith("warehouse-")]
        if warehouse and tagged and warehouse not in tagged:
            continue
        if _dead_cli_run(list(run.tags)):
            from prefect.states import Crashed

            with get_client(sync_client=True) as client:
                client.set_flow_run_state(
                    run.id, Crashed(message="its loyalty backfill process ended without finishing"), force=True
                )
            continue
        try:
            other_start = date.fromisoformat(str(run.parameters["start"]))
            other_end = date.fromisoformat(str(run.parameters["end"]))
        except (KeyError, ValueError):
            continue
        if other_start <= end and start <= other_end:
            found.append(f"{run.name} ({run.state_name})")
    return found


# --- a local Prefect server ---------------------------------------------------------------------------------


def server_environment(settings: Settings) -> dict[str, str]:
    """The environment of a local server: its database, host and port, no telemetry."""
    database = settings.prefect_server_database_url or (
        f"sqlite+aiosqlite:///{settings.prefect_home / 'server' / 'prefect.db'}"
    )
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": database,
        "PREFECT_SERVER_API_HOST": settings.prefect_server_host,
        "PREFECT_SERVER_API_PORT": str(settings.prefect_server_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": f"http://{settings.prefect_server_host}:{settings.prefect_server_port}/api",
        # links in alerts (the ui_url filter) are built from this
        "PREFECT_UI_URL": f"http://{settings.prefect_server_host}:{settings.prefect_server_port}",
    }


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class LocalServer:
    """``prefect server start`` as a child process in its own session, its output in ``log_path``."""

    def __init__(self, settings: Settings, log_path: Path | None = None) -> None:
        self.settings = settings
        self.log_path = log_path or settings.prefect_home / "server.log"
        self.process: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    @property
    def ui_url(self) -> str:
        return f"http://{self.settings.prefect_server_host}:{self.settings.prefect_server_port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    def start(self, timeout: float = 90.0) -> LocalServer:
        if api_healthy(self.api_url):
            raise OpsError(f"something already answers at {self.api_url}: stop it or set LOYALTY_PREFECT_SERVER_PORT")
        env = server_environment(self.settings)
        if self.settings.prefect_server_database_url is None:
            Path(env["PREFECT_SERVER_DATABASE_CONNECTION_URL"].split(":///", 1)[1]).parent.mkdir(
                parents=True, exist_ok=True
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter's prefect
            [
                prefect_executable(),
                "server",
                "start",
                "--host",
                self.settings.prefect_server_host,
                "--port",
                str(self.settings.prefect_server_port),
            ],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us, not the server: we stop it after the runs
            cwd=PROJECT_ROOT,
        )
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise OpsError(f"the Prefect server exited with code {self.process.returncode}: {self._tail()}")
            if api_healthy(self.api_url):
                return
            time.sleep(0.5)
        self.stop()
        raise OpsError(f"the Prefect server did not answer at {self.api_url} within {timeout:.0f} s: {self._tail()}")

    def _tail(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "no log"
        return f"see {self.log_path} ({lines[-1][:200] if lines else 'empty'})"

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None


class ReportsServer:
    """``reports_dir`` served read-only (GET and HEAD only) over HTTP on localhost, in a daemon thread, so the
    report links in the Prefect UI open (a browser refuses ``file://`` links from a web page)."""

    def __init__(self, settings: Settings) -> None:
        import functools
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        class _ReadOnly(SimpleHTTPRequestHandler):
            server_version, sys_version = "loyalty-reports", ""  # no Python version in the Server header

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass  # requests are not worth a terminal line each

        settings.reports_dir.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_ReadOnly, directory=str(settings.reports_dir))
        self.httpd = ThreadingHTTPServer((settings.prefect_server_host, settings.reports_port), handler)
        self.url = f"http://{settings.prefect_server_host}:{self.httpd.server_address[1]}"

    def __enter__(self) -> ReportsServer:
        import threading

        threading.Thread(target=self.httpd.serve_forever, name="reports-http", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def prefect_api(settings: Settings, *, start_server: bool = True) -> Iterator[tuple[str, LocalServer | None]]:
    """The API to use: PREFECT_API_URL when it answers, else a local server started here and stopped after."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        if not api_healthy(configured):
            raise OpsError(f"PREFECT_API_URL {configured} does not answer")
        yield configured, None
        return
    if not start_server:
        raise OpsError("no PREFECT_API_URL is set: start a server first (loyalty serve) or set PREFECT_API_URL")
    server = LocalServer(settings).start()
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server.api_url, server
    finally:
        server.stop()


@contextlib.contextmanager
def running_server_api(settings: Settings) -> Iterator[str | None]:
    """Where a command's flow runs report: PREFECT_API_URL when set; else the server of ``loyalty serve`` when
    it answers on LOYALTY_PREFECT_SERVER_HOST/PORT (the run then shows in that UI, and no temporary server is
    started: about 15 s saved per command); else None, and Prefect starts its temporary server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    local = LocalServer(settings).api_url
    if not api_healthy(local, timeout=0.5):
        yield None
        return
    with temporary_settings(updates={PREFECT_API_URL: local}):
        yield local


def ensure_work_pool(name: str = WORK_POOL) -> bool:
    """Create the process work pool when it is missing (True if created); an existing pool is left as it is."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            pass
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_work_pool(
                WorkPoolCreate(
                    name=name, type="process", base_job_template=ProcessWorker.get_default_base_job_template()
                )
            )
    return True


# --- the commands -------------------------------------------------------------------------------------------


def runner_poll_seconds() -> int:
    """How often ``loyalty serve`` looks for runs to start: PREFECT_RUNNER_POLL_FREQUENCY if set, else 2 s (at
    least 1: the runs' names are kept as often)."""
    try:
        return max(int(os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY", "2")), 1)
    except ValueError:
        raise OpsError("PREFECT_RUNNER_POLL_FREQUENCY must be a whole number of seconds") from None


def serve(settings: Settings, echo=print) -> None:  # type: ignore[no-untyped-def]
    """Start a local server (unless PREFECT_API_URL answers), serve every deployment with its schedules.

    Blocks until Ctrl-C; then the runner stops and the server it started is stopped.
    """
    from prefect.settings import PREFECT_RUNNER_POLL_FREQUENCY, temporary_settings

    from tasks.limits import ensure_source_limit

    os.chdir(PROJECT_ROOT)  # entrypoints are relative to the project root, for us and for the runs we start
    _warn_about_time_zone(settings, echo)
    with prefect_api(settings) as (api_url, server):
        if server is not None:
            echo(f"Prefect server: {server.ui_url} (log {server.log_path})")
        ensure_source_limit(settings)
        deployments = runner_deployments(read_deployments())
        for spec in read_deployments():
            when = ", ".join(f"{s.get('cron') or s.get('interval')} {s.get('timezone', '')}" for s in spec.schedules)
            echo(f"  serving {spec.name}: {when or 'no schedule (run it from the UI or the API)'}")
        echo(f"UI: {api_url.removesuffix('/api')}  (Ctrl-C stops everything)")
        with contextlib.ExitStack() as stack:
            if not settings.reports_url:
                reports = stack.enter_context(ReportsServer(settings))
                # The runs this process starts read their settings from its environment.
                os.environ["LOYALTY_REPORTS_URL"] = reports.url
                echo(f"reports: {reports.url} (read-only, {settings.reports_dir})")
            # The runner asks for due runs every PREFECT_RUNNER_POLL_FREQUENCY seconds (10 by default): most of the
            # wait between a trigger in the UI and Running. Two seconds, unless the operator set it.
            stack.enter_context(temporary_settings(updates={PREFECT_RUNNER_POLL_FREQUENCY: runner_poll_seconds()}))
            serve_until_stopped(deployments, settings.business_zone)
    echo("stopped")


WAITING_STATE_TYPES = ("SCHEDULED", "PENDING")  # Scheduled, Late, AwaitingConcurrencySlot, Pending


@dataclass
class WaitingRuns:
    """Which waiting runs a naming pass looks at: those of the deployments a runner serves (``deployment_ids``),
    or those of a work pool's deployments (``work_pool``). Flow names are looked up once per flow."""

    zone: Any
    deployment_ids: list[Any] | None = None
    work_pool: str | None = None
    flow_names: dict[Any, str] = field(default_factory=dict)

    def filters(self) -> dict[str, Any]:
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterDeploymentId,
            FlowRunFilterState,
            FlowRunFilterStateType,
            WorkPoolFilter,
            WorkPoolFilterName,
        )
        from prefect.client.schemas.objects import StateType

        deployment = (
            FlowRunFilterDeploymentId(any_=self.deployment_ids)
            if self.deployment_ids is not None
            else FlowRunFilterDeploymentId(is_null_=False)
        )
        state = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType(t) for t in WAITING_STATE_TYPES]))
        out: dict[str, Any] = {"flow_run_filter": FlowRunFilter(deployment_id=deployment, state=state)}
        if self.work_pool is not None:
            out["work_pool_filter"] = WorkPoolFilter(name=WorkPoolFilterName(any_=[self.work_pool]))
        return out


async def name_waiting_runs(client: Any, waiting: WaitingRuns) -> int:
    """Give each waiting run the name its flow will give it when it starts; how many were renamed.

    The scheduler and the UI's run form create runs under a random name (``poised-manticore``), which the flow
    replaces only when it starts: until then the UI's list, and an alert about a run that fails before it
    starts, would name it by that. The names come from ``flows/_names.py``, the functions the flows use.
    """
    from prefect.client.schemas.filters import FlowFilter, FlowFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    from flows._names import expected_run_name

    runs: list[Any] = []
    while True:  # pages of 200, the API's largest
        page = await client.read_flow_runs(
            **waiting.filters(), sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=200, offset=len(runs)
        )
        runs.extend(page)
        if len(page) < 200:
            break
    unknown = {run.flow_id for run in runs} - waiting.flow_names.keys()
    if unknown:
        flows = await client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=list(unknown))))
        waiting.flow_names.update({f.id: f.name for f in flows})
    renamed = 0
    for run in runs:
        name = expected_run_name(
            waiting.flow_names.get(run.flow_id, ""), run.parameters, run.expected_start_time, waiting.zone
        )
        if name and name != run.name:
            await client.update_flow_run(run.id, name=name)
            renamed += 1
    return renamed


async def keep_run_names(waiting: WaitingRuns, every: float) -> None:
    """:func:`name_waiting_runs` every ``every`` seconds until cancelled. A failed pass is logged by its error's
    class (the API's message can quote parameters), once while the same error repeats, and tried again."""
    import asyncio

    from prefect.client.orchestration import get_client

    failing: str | None = None  # the error of the last pass, logged once while it repeats
    async with get_client() as client:
        while True:
            try:
                await name_waiting_runs(client, waiting)
                failing = None
            except Exception as exc:  # noqa: BLE001  # naming is cosmetic: it must never stop the runner
                if type(exc).__name__ != failing:
                    failing = type(exc).__name__
                    log.warning("naming waiting runs failed (%s); trying again every %s s", failing, every)
            await asyncio.sleep(every)


def run_until_stopped(main: Any, waiting: WaitingRuns, every: float) -> None:
    """Run the coroutine function ``main`` (a runner's or a worker's start) beside :func:`keep_run_names`,
    until Ctrl-C or SIGTERM; either way it stops the same way.

    Prefect's own SIGTERM handler (``Runner.handle_sigterm``) calls ``Runner.stop()`` from inside the running
    event loop, where that async-dispatched method only creates the coroutine ``Runner.astop`` and drops it
    ("coroutine 'Runner.astop' was never awaited"), then leaves through ``sys.exit`` before this command's own
    shutdown (the local server, the reports server) can run. Here SIGTERM cancels the main task, as Ctrl-C
    does: a runner or worker leaves its context (a runner pausing its schedules) and returns.
    """
    import asyncio

    terminated = False

    async def run() -> None:
        nonlocal terminated
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None

        def on_sigterm(*_: object) -> None:
            nonlocal terminated
            terminated = True
            loop.call_soon_threadsafe(task.cancel)

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        # In the same loop: a waiting run is named within a poll interval of being created.
        naming = asyncio.create_task(keep_run_names(waiting, every))
        try:
            await main(on_sigterm)
        except asyncio.CancelledError:
            if not terminated:
                raise
        finally:
            naming.cancel()
            signal.signal(signal.SIGTERM, previous)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def serve_until_stopped(deployments: list[Any], zone: Any) -> None:
    """Run a Prefect runner for ``deployments`` until Ctrl-C or SIGTERM (:func:`run_until_stopped`), naming
    their waiting runs (dates in ``zone``)."""
    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=True)
    ids = [runner.add_deployment(d) for d in deployments]

    async def start(on_sigterm: Any) -> None:
        runner.handle_sigterm = on_sigterm  # type: ignore[method-assign] # Runner.start installs its own
        await runner.start()

    run_until_stopped(start, WaitingRuns(zone, deployment_ids=ids), runner_poll_seconds())


def work(settings: Settings, echo=print) -> None:  # type: ignore[no-untyped-def]
    """A process worker of the ``loyalty-process`` pool, naming the pool's waiting runs as ``loyalty serve`` does.

    The server: PREFECT_API_URL, else a running ``loyalty serve``'s. Each flow runs from the project root
    (``LOYALTY_PROJECT_DIR``, set here when unset). Stops on Ctrl-C or SIGTERM.
    """
    from prefect.settings import PREFECT_WORKER_QUERY_SECONDS
    from prefect.workers.process import ProcessWorker

    os.environ.setdefault("LOYALTY_PROJECT_DIR", str(PROJECT_ROOT))
    os.chdir(PROJECT_ROOT)
    _warn_about_time_zone(settings, echo)
    # How often the worker asks for due runs (Prefect's setting, 10 s by default); names are kept at least as often.
    poll = min(max(PREFECT_WORKER_QUERY_SECONDS.value(), 1.0), 5.0)
    with running_server_api(settings) as api_url:
        if api_url is None:
            raise OpsError("no PREFECT_API_URL is set and no loyalty serve answers: set PREFECT_API_URL")
        if not api_healthy(api_url):
            raise OpsError(f"PREFECT_API_URL {api_url} does not answer")
        echo(f"worker of {WORK_POOL} at {api_url} (flows run from {os.environ['LOYALTY_PROJECT_DIR']})")

        async def start(_on_sigterm: Any) -> None:
            async with ProcessWorker(work_pool_name=WORK_POOL) as worker:
                await worker.start(printer=echo)

        run_until_stopped(start, WaitingRuns(settings.business_zone, work_pool=WORK_POOL), poll)
    echo("stopped")


def deploy(settings: Settings, echo=print) -> list[str]:  # type: ignore[no-untyped-def]
    """``prefect --no-prompt deploy --all`` of prefect.yaml's deployments, to the process work pool."""
    from prefect.settings import PREFECT_API_URL

    from tasks.limits import ensure_source_limit

    with prefect_api(settings, start_server=False) as (api_url, _server):
        if ensure_work_pool():
            echo(f"created work pool {WORK_POOL} (type process)")
        ensure_source_limit(settings)
        names = [s.name for s in read_deployments()]
        result = subprocess.run(  # noqa: S603
            [prefect_executable(), "--no-prompt", "deploy", "--all"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value() or api_url)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            lines = [ln for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
            raise OpsError(f"prefect deploy failed: {lines[-1] if lines else result.returncode}")
    return names


def _warn_about_time_zone(settings: Settings, echo) -> None:  # type: ignore[no-untyped-def]
    zones = {s.get("timezone") for spec in read_deployments() for s in spec.schedules}
    if zones - {settings.business_tz}:
        echo(
            f"warning: prefect.yaml schedules run in {', '.join(sorted(z or 'UTC' for z in zones))} but "
            f"LOYALTY_BUSINESS_TZ is {settings.business_tz}: change the schedules' timezone in prefect.yaml"
        )
