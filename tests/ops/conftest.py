"""A real Prefect server for the operations tests, started once per session on a free port.

It is started the way ``make serve`` starts one (``cli.server.LocalServer``: a plain child process with its
output in a log file, SQLite under its own temporary home). If it cannot start, its tests skip with the reason,
except under CI=true, where that is a failure: CI runs on this machine, where a server can start.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.server import LocalServer, OpsError
from loyalty.settings import PROJECT_ROOT, Settings

IN_CI = os.environ.get("CI", "").lower() == "true"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RealServer:
    api_url: str
    home: Path
    log_path: Path

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment pointed at the server, for a subprocess (CLI, deploy, worker)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}
        env.update(
            PREFECT_API_URL=self.api_url,
            PREFECT_LOGGING_LEVEL="WARNING",
            LOYALTY_PROJECT_DIR=str(PROJECT_ROOT),
            LOYALTY_PREFECT_HOME=str(self.home / "client"),
        )
        env.update(extra)
        return env

    def run(self, args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    home = tmp_path_factory.mktemp("real-prefect-server")
    settings = Settings(prefect_home=home, prefect_server_port=free_port())
    server = LocalServer(settings, log_path=home / "server.log")
    try:
        server.start(timeout=120)
    except (OpsError, OSError) as exc:
        reason = f"cannot start a Prefect server: {exc}"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the real-server tests must run)")
        pytest.skip(reason)
    try:
        yield RealServer(api_url=server.api_url, home=home, log_path=server.log_path)
    finally:
        server.stop()


def wait_for(check: Callable[[], object], timeout: float, what: str, interval: float = 0.5) -> object:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
