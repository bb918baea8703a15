"""The ``loyalty-source`` concurrency limit: enforced across tasks inside runs, a no-op outside them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from loyalty.settings import Settings
from tasks.limits import SOURCE_LIMIT, ensure_source_limit, source_slot


def _sql_settings(tmp_path: Path, slots: int = 1) -> Settings:
    return Settings(source_kind="sql", source_url=f"sqlite:///{tmp_path / 'source.db'}", source_concurrency=slots)


def test_outside_a_run_the_slot_needs_no_server(tmp_path, monkeypatch):
    import prefect.concurrency.sync

    def no_server(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("source_slot called the Prefect API outside a run")

    monkeypatch.setattr(prefect.concurrency.sync, "concurrency", no_server)
    with source_slot(_sql_settings(tmp_path)):
        pass


@pytest.mark.flow
def test_reads_of_a_sql_source_never_exceed_the_limit(prefect_harness, tmp_path):
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    settings = _sql_settings(tmp_path, slots=1)
    ensure_source_limit(settings)
    with get_client(sync_client=True) as client:
        # a limit created earlier in the session keeps its slots: ensure never overwrites an operator's choice
        client.update_global_concurrency_limit(SOURCE_LIMIT, GlobalConcurrencyLimitUpdate(limit=1))
        ensure_source_limit(Settings(source_concurrency=5))
        assert client.read_global_concurrency_limit_by_name(SOURCE_LIMIT).limit == 1

    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    @task
    def read_source(number: int) -> int:
        with source_slot(settings):
            started = time.monotonic()
            time.sleep(0.4)
            with lock:
                spans.append((started, time.monotonic()))
        return number

    @flow
    def three_reads() -> list[int]:
        return [f.result() for f in [read_source.submit(n) for n in range(3)]]

    try:
        assert three_reads() == [0, 1, 2]
    finally:
        with get_client(sync_client=True) as client:
            client.update_global_concurrency_limit(SOURCE_LIMIT, GlobalConcurrencyLimitUpdate(limit=2))
    spans.sort()
    assert len(spans) == 3
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False)), spans
