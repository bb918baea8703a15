"""The whole pipeline on demo data, twice: byte-identical metric tables; and no customer email in full in
the logs, the Prefect artifacts or the CLI's output."""

from __future__ import annotations

import logging
import re
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from demo import generate_demo_sources
from loyalty.db import get_engine
from loyalty.schema import METRIC_TABLES
from loyalty.settings import reset_settings

START, END = date(2026, 10, 26), date(2026, 11, 15)  # three ISO weeks, 2026-W44 .. 2026-W46


def _dump_metrics(url: str) -> dict[str, bytes]:
    """Each metric table as CSV bytes in key order: equal bytes, equal tables."""
    out = {}
    with get_engine(url).connect() as conn:
        for name, table in METRIC_TABLES.items():
            frame = pd.read_sql(sa.select(table).order_by(*table.primary_key.columns), conn)
            out[name] = frame.to_csv(index=False).encode()
    return out


def _run_demo(tmp_path, name: str, monkeypatch) -> str:
    landing = tmp_path / name / "landing"
    generate_demo_sources(landing, START, END, n_customers=150)
    url = f"sqlite:///{tmp_path / name / 'warehouse.db'}"
    monkeypatch.setenv("LOYALTY_WAREHOUSE_URL", url)
    monkeypatch.setenv("LOYALTY_LANDING_DIR", str(landing))
    reset_settings()
    from flows.backfill import backfill

    backfill(start=START, end=END)
    reset_settings()
    return url


def _run_demo_steps(tmp_path, name: str) -> str:
    """The demo's steps through each task's .fn(): the tables do not depend on the orchestrator."""
    from datetime import timedelta

    from loyalty.schema import migrate
    from loyalty.settings import Settings
    from tasks.metrics import recompute_metrics, weeks_of_days
    from tests.helpers import run_day

    landing = tmp_path / name / "landing"
    generate_demo_sources(landing, START, END, n_customers=150)
    settings = Settings(warehouse_url=f"sqlite:///{tmp_path / name / 'warehouse.db'}", landing_dir=landing)
    migrate(get_engine(settings.warehouse_url))
    touched = set()
    day = START
    while day <= END:
        for summary in run_day(settings, day, run_id=name).values():
            touched.update(summary.business_days)
        day += timedelta(days=1)
    recompute_metrics.fn(settings, weeks_of_days(sorted(touched)))
    return settings.warehouse_url


def test_the_demo_twice_gives_byte_identical_metric_tables(tmp_path):
    first = _dump_metrics(_run_demo_steps(tmp_path, "a"))
    second = _dump_metrics(_run_demo_steps(tmp_path, "b"))
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name
    assert len(first["weekly_satisfaction"].splitlines()) > 10


@pytest.mark.flow
def test_customer_emails_never_appear_in_full_in_logs_artifacts_or_cli_output(
    prefect_harness, tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    url = _run_demo(tmp_path, "pii", monkeypatch)
    with get_engine(url).connect() as conn:
        emails = [e for (e,) in conn.execute(sa.text("select email from customers where email is not null"))]
    assert len(emails) > 100

    texts = [record.getMessage() for record in caplog.records]

    from prefect.client.orchestration import get_client

    async def artifacts() -> list[str]:
        async with get_client() as client:
            found = await client.read_artifacts(limit=200)
        return [str(a.data) + str(a.description) for a in found]

    import asyncio

    texts += asyncio.run(artifacts())

    from tests.cli.test_main import _loyalty

    env = {"LOYALTY_WAREHOUSE_URL": url}
    for args in (["status", "--limit", "50"], ["metrics", "--week", "2026-W46", "--json"]):
        result = _loyalty(*args, env=env)
        assert result.returncode == 0, result.stderr
        texts += [result.stdout, result.stderr]
    with get_engine(url).connect() as conn:
        retain = [str(r) for r in conn.execute(sa.text("select * from retain_list"))]
    assert retain, "the RETAIN list is where customer contact details would leak"
    texts += retain

    blob = "\n".join(texts)
    leaked = [e for e in emails if e in blob]
    assert leaked == []
    # The masked form is what the RETAIN list carries.
    assert re.search(r"[a-z]\*\*\*@example\.com", "\n".join(retain))
