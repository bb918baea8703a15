"""Shared fixtures: a warehouse on each engine, project settings on temp folders, one Prefect harness.

Database tests run twice, on SQLite and on the real PostgreSQL server named by LOYALTY_TEST_POSTGRES_URL
(default postgresql+psycopg://127.0.0.1:5432/test). Where PostgreSQL cannot be reached its tests skip with
the reason, except under CI=true, where an unreachable PostgreSQL fails the run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="loyalty-test-prefect-"))
# Before anything imports Prefect or GX: keep their state out of the developer's home and the project.
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(_PREFECT_HOME / "results")
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Retries still happen in tests, with delays of tens of milliseconds instead of seconds.
os.environ.setdefault("LOYALTY_RETRY_BACKOFF_SCALE", "0.01")


from loyalty.db import create_engine  # noqa: E402
from loyalty.schema import drop_all, migrate  # noqa: E402
from loyalty.settings import Settings, reset_settings  # noqa: E402

# A real SMTP server (aiosmtpd) for the send tests (start_smtp), and an HTTP listener that must stay silent.
pytest_plugins = ["tests.smtpserver", "tests.httplistener"]

from tests.databases import POSTGRES_URL, make_warehouse_url, require_postgres  # noqa: E402,F401


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated warehouse on each engine."""
    url = make_warehouse_url(request.param, tmp_path)
    engine = create_engine(url)
    drop_all(engine)
    migrate(engine)
    engine.dispose()
    yield url


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    for entity in ("customers", "transactions", "survey_responses"):
        (path / entity).mkdir(parents=True)
    return path


@pytest.fixture
def settings(warehouse_url: str, landing: Path, tmp_path: Path) -> Settings:
    return Settings(
        warehouse_url=warehouse_url,
        landing_dir=landing,
        business_tz="Europe/London",
        source_tz="Europe/London",
        prefect_home=tmp_path / "prefect",
        reports_dir=tmp_path / "reports",
    )


@pytest.fixture
def project_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The same settings, seen through get_settings() by flows and the CLI."""
    monkeypatch.setenv("LOYALTY_WAREHOUSE_URL", settings.warehouse_url)
    monkeypatch.setenv("LOYALTY_LANDING_DIR", str(settings.landing_dir))
    monkeypatch.setenv("LOYALTY_BUSINESS_TZ", settings.business_tz)
    monkeypatch.setenv("LOYALTY_SOURCE_TZ", settings.source_tz)
    monkeypatch.setenv("LOYALTY_REPORTS_DIR", str(settings.reports_dir))
    reset_settings()
    yield settings
    reset_settings()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness for the whole session: it costs 11-15 s to start."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
