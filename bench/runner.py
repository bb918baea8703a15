"""Running measures one process each, and the one Prefect server of a bench run.

Each measure runs in a child process forked from the bench process, which by then has imported the libraries
and nothing else (no engines, no Prefect client, no threads). So every measure starts from the same clean
state without paying Python's imports again (Prefect plus Great Expectations take about 8 s per process here),
and ``wait4`` gives each child's own peak resident set size. A fresh interpreter would have the same imported
libraries resident, so the peak is what a process running that step alone would need.

One ``prefect server start`` serves every flow run of a bench run (started on a free port, output to
``state/bench/prefect/server.log``, stopped at the end). Without it every flow run would start Prefect's
temporary server (about 15 s each); its start-up is recorded once, as its own line.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import BENCH_DIR


@dataclass
class ChildOutcome:
    ok: bool
    result: dict
    error: str | None
    process_seconds: float
    peak_rss_mib: float
    log_path: Path
    cpu_seconds: float = 0.0


class ForkedChild:
    """A measure forked now, held at a gate until :meth:`run` opens it.

    Forking early and running later lets the floors start from the lean bench process (before it imports
    Prefect and Great Expectations) and still run after the Prefect server is up, never beside its start-up.
    """

    def __init__(self, fn: Callable[..., dict], args: tuple, log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self.result_path = log_path.with_suffix(".result.json")
        self.result_path.unlink(missing_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        gate_read, self._gate = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns into the caller's code
            os.close(self._gate)
            self._child(fn, args, gate_read)
        os.close(gate_read)

    def _child(self, fn: Callable[..., dict], args: tuple, gate_read: int) -> None:
        code = 1
        try:
            if os.read(gate_read, 1) != b"1":  # the bench process ended before opening the gate
                code = 3
                return
            fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            # Streams already bound to fds 1 and 2 follow the dup2; replaced ones (pytest's capture) are rebound.
            sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
            try:
                payload = {"ok": True, "result": fn(*args)}
                code = 0
            except BaseException:  # the parent reports it; the traceback is in the result and the log
                traceback.print_exc()
                payload = {"ok": False, "error": traceback.format_exc()}
            self.result_path.write_text(json.dumps(payload, default=str), encoding="utf-8")
            atexit._run_exitfuncs()  # Prefect drains its log and event workers here
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)

    def run(self, on_wait: Callable[[], object] | None = None) -> ChildOutcome:
        """Open the gate and wait for the child; its result, time and own peak RSS (``wait4``).

        ``on_wait`` is called about every 0.2 s while the child runs (the bench watches its server start).
        """
        started = time.perf_counter()
        os.write(self._gate, b"1")
        os.close(self._gate)
        if on_wait is None:
            _, status, usage = os.wait4(self.pid, 0)
        else:
            while True:
                done, status, usage = os.wait4(self.pid, os.WNOHANG)
                if done:
                    break
                on_wait()
                time.sleep(0.2)
        elapsed = time.perf_counter() - started
        try:
            payload = json.loads(self.result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            code = os.waitstatus_to_exitcode(status)
            payload = {"ok": False, "error": f"the process ended with code {code} and no result; see {self.log_path}"}
        return ChildOutcome(
            ok=bool(payload.get("ok")),
            result=payload.get("result") or {},
            error=payload.get("error"),
            process_seconds=elapsed,
            peak_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
            log_path=self.log_path,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
        )


def run_forked(
    fn: Callable[..., dict], args: tuple, log_path: Path, on_wait: Callable[[], object] | None = None
) -> ChildOutcome:
    """Run ``fn(*args)`` in a forked child with its output in ``log_path``; its result, time and peak RSS."""
    return ForkedChild(fn, args, log_path).run(on_wait)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BenchServer:
    """A fresh ``prefect server start`` for one bench run (the project's LocalServer, on its own home and port).

    :meth:`launch` starts the process and returns its API URL at once; :meth:`wait` waits until it is healthy.
    In between the bench builds its data and imports its libraries (neither is measured), so the start-up
    costs little wall time. The server's database is kept between runs of a scale (a warm start takes about
    8 s here, a first one about 13 s), as a production server's would be.
    """

    def __init__(self, home: Path = BENCH_DIR / "prefect") -> None:
        self.home = home
        self.server: Any = None
        self.start_seconds: float | None = None
        self._launched_at = 0.0

    def launch(self) -> str:
        from cli.server import LocalServer
        from loyalty.settings import Settings

        class _Deferred(LocalServer):
            waiting = False

            def wait_healthy(self, timeout: float) -> None:
                if self.waiting:
                    super().wait_healthy(timeout)

        settings = Settings(
            prefect_home=self.home,
            prefect_server_host="127.0.0.1",
            prefect_server_port=free_port(),
            prefect_server_database_url=None,
        )
        self._launched_at = time.perf_counter()
        self.server = _Deferred(settings, log_path=self.home / "server.log").start()
        return self.server.api_url

    def poll(self) -> None:
        """Note when the server first answers (called while the data is built)."""
        from cli.server import api_healthy

        if self.start_seconds is None and api_healthy(self.server.api_url, timeout=0.2):
            self.start_seconds = time.perf_counter() - self._launched_at

    def wait(self, timeout: float = 180.0) -> float:
        """Block until the server answers; seconds from launch to healthy."""
        if self.start_seconds is None:
            self.server.waiting = True
            self.server.wait_healthy(timeout)
            self.start_seconds = time.perf_counter() - self._launched_at
        return self.start_seconds

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def prefect_environment(api_url: str, home: Path = BENCH_DIR / "prefect") -> dict[str, str]:
    """What Prefect and GX read at import time: set before the bench process imports them."""
    return {
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(home),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "results"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "LOYALTY_PREFECT_HOME": str(home),
    }


def import_libraries() -> float:
    """Import what the measures use, once, in the bench process (before any child is forked); seconds taken."""
    started = time.perf_counter()
    import great_expectations  # noqa: F401
    import prefect  # noqa: F401

    import bench.naive  # noqa: F401
    import flows.backfill  # noqa: F401
    import flows.nightly_etl  # noqa: F401
    import loyalty.validation  # noqa: F401
    import tasks.metrics  # noqa: F401

    return time.perf_counter() - started
