"""What a data engineer sees in the Prefect UI, asserted through the API the UI reads: a CLI backfill's logs,
tags and progress; a failed chunk and its short message; the backfill deployment's checked, described
parameters and its concurrency limit; the interrupted rows of a run that ended without finishing; a CLI
backfill refused while another of an overlapping range runs.

REAL SERVER: the session's ``prefect_server``; the CLI runs are subprocesses reporting to it, as
``PREFECT_API_URL=... loyalty backfill`` does. About a minute on this 2-core machine.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli.server import warehouse_tag
from loyalty.contract import ENTITIES
from loyalty.db import get_engine
from loyalty.failures import MAX_MESSAGE
from loyalty.schema import migrate, run_ledger
from tests.ops.conftest import BIN, RealServer, wait_for
from tests.ops.opsdata import days_from, write_small_landing

pytestmark = pytest.mark.real_server

DAYS = days_from(date(2026, 11, 16), 3)
RANGE = ["--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat(), "--chunk-days", "2"]
# A backfill "running" elsewhere (a run created in state Running through the API), over October.
OTHER_RANGE = (date(2026, 10, 1), date(2026, 10, 5))


@dataclass
class CliRun:
    result: object
    flow_run: object
    warehouse_url: str


def _client(server: RealServer):  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import SyncPrefectClient

    return SyncPrefectClient(server.api_url)


def _run_by_tag(server: RealServer, tag: str):  # type: ignore[no-untyped-def]
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterTags

    with _client(server) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["backfill"])),
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag])),
        )
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0]


def _cli_backfill(server: RealServer, root: Path, name: str, **env: str) -> CliRun:
    url = f"sqlite:///{root / f'{name}.db'}"
    result = server.run(
        [str(BIN / "loyalty"), "backfill", *RANGE],
        server.env(
            LOYALTY_WAREHOUSE_URL=url,
            LOYALTY_LANDING_DIR=str(root / "landing"),
            LOYALTY_REPORTS_DIR=str(root / "reports"),
            PREFECT_LOGGING_LEVEL="INFO",  # the default; the fixture's WARNING would hide what is checked here
            **env,
        ),
        timeout=600,  # a loaded 2-core machine: not a timed test
    )
    return CliRun(result, _run_by_tag(server, warehouse_tag(url)), url)


@pytest.fixture(scope="module")
def other_backfill(prefect_server: RealServer) -> Iterator[object]:
    """A backfill run the API knows as Running (a CLI run elsewhere, say) over OTHER_RANGE."""
    from prefect import flow
    from prefect.states import Running

    @flow(name="backfill")
    def backfill_stand_in(start: date, end: date) -> None: ...

    with _client(prefect_server) as client:
        run = client.create_flow_run(
            backfill_stand_in,
            name="backfill-2026-10-01-to-2026-10-05",
            parameters={"start": OTHER_RANGE[0], "end": OTHER_RANGE[1]},
            state=Running(),
        )
    yield run
    from prefect.states import Cancelled

    with _client(prefect_server) as client:
        client.set_flow_run_state(run.id, Cancelled(), force=True)


@pytest.fixture(scope="module")
def runs(prefect_server: RealServer, other_backfill, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    root = tmp_path_factory.mktemp("ui-ops")
    write_small_landing(root / "landing", DAYS)
    (root / "bad_mapping.yaml").write_text("- not a mapping\n", encoding="utf-8")
    good_url = f"sqlite:///{root / 'good.db'}"
    engine = get_engine(good_url)
    migrate(engine)
    # Two runs left rows 'running': one ended long ago unknown to the API (a kill -9), one still running.
    stale, alive = str(uuid.uuid4()), str(other_backfill.id)
    with engine.begin() as conn:
        for run_id in (stale, alive):
            conn.execute(
                run_ledger.insert().values(
                    run_id=run_id,
                    entity="customers",
                    delivery_day=date(2026, 10, 2),
                    status="running",
                    source="files",
                    started_at=datetime(2026, 11, 30, 9, tzinfo=UTC).replace(tzinfo=None),
                )
            )
    return {
        "good": _cli_backfill(prefect_server, root, "good"),
        "failing": _cli_backfill(
            prefect_server, root, "failing", LOYALTY_COLUMN_MAPPING_PATH=str(root / "bad_mapping.yaml")
        ),
        "stale": stale,
        "alive": alive,
    }


def test_a_cli_backfill_shows_its_logs_tags_and_progress_in_the_ui(prefect_server, runs):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId

    good = runs["good"]
    assert good.result.returncode == 0, good.result.stderr
    run = good.flow_run
    assert run.name == "backfill-2026-11-16-to-2026-11-18"
    assert run.state.type.value == "COMPLETED"
    assert {"loyalty", "etl", "backfill"} <= set(run.tags)  # the tags of the deployment's runs

    def logs():  # type: ignore[no-untyped-def]
        with _client(prefect_server) as client:
            return client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))

    found = wait_for(logs, 30, "the CLI run's logs in the API")
    messages = [entry.message for entry in found]
    assert any("metrics recomputed for 1 weeks" in m for m in messages), messages
    # one line of counts per chunk in the parent run's own logs
    assert "chunk 2026-11-18 .. 2026-11-18: 1 day, in 5, loaded 4, quarantined 1" in messages, messages
    # the terminal stays quiet: no INFO lines of the run on the CLI's stderr
    assert "metrics recomputed" not in good.result.stderr

    with _client(prefect_server) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
    progress = [a for a in artifacts if a.type == "progress"]
    assert [(a.key, float(a.data)) for a in progress] == [("backfill-progress-2026-11-16-to-2026-11-18", 100.0)]
    # the figure is in the description too: the run's Artifacts tab shows a card of type, key and description
    assert progress[0].description == "100% done: 3 of 3 delivery days of backfill 2026-11-16 .. 2026-11-18"
    # the validation table: per day and entity the rules rows failed, with counts and codes (no row values)
    validation = next(a for a in artifacts if a.key == "backfill-validation-2026-11-16-to-2026-11-18")
    rows = json.loads(validation.data) if isinstance(validation.data, str) else validation.data
    failing = sorted(
        (r["delivery day"], r["entity"], r["reason code"], r["rows failing"]) for r in rows if r["rows failing"]
    )
    assert failing == [
        ("2026-11-16", "transactions", "bad_format:currency", 1),
        ("2026-11-17", "transactions", "bad_format:currency", 1),
        ("2026-11-17", "transactions", "duplicate_id_same_content", 1),
        ("2026-11-18", "transactions", "bad_format:currency", 1),
    ]
    assert "EURO" not in str(validation.data) and "T1x" not in str(validation.data)


def test_a_stale_running_row_becomes_interrupted_and_a_live_one_stays(runs):
    with get_engine(runs["good"].warehouse_url).connect() as conn:
        status = dict(
            conn.execute(
                sa.select(run_ledger.c.run_id, run_ledger.c.status).where(
                    run_ledger.c.run_id.in_([runs["stale"], runs["alive"]])
                )
            ).all()
        )
    assert status == {runs["stale"]: "interrupted", runs["alive"]: "running"}


def test_failed_days_fail_their_chunk_with_a_short_message(prefect_server, runs):
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
    )

    failing = runs["failing"]
    assert failing.result.returncode == 1
    run = failing.flow_run
    assert run.state.type.value == "FAILED"
    # 3 days x every entity fail with the same error: named once, with its days and entities
    message = run.state.message
    assert len(message) <= MAX_MESSAGE, message
    failed = 3 * len(ENTITIES)  # every entity of each of the 3 days fails: the mapping file is unreadable
    assert message.startswith(f"backfill 2026-11-16..2026-11-18: {failed} failed on 3 days. ValueError: column mapping")
    assert message.count("ValueError") == 1
    assert f"[{failed}x: {', '.join(ENTITIES)}; 2026-11-16..2026-11-18]" in message
    assert (
        failing.result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: backfill 2026-11-16..2026-11-18: {failed} failed")
    )

    with _client(prefect_server) as client:
        chunks = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run.id]))
        )
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
    assert sorted((c.name, c.state.type.value) for c in chunks) == [
        ("backfill-chunk-2026-11-16-to-2026-11-17", "FAILED"),
        ("backfill-chunk-2026-11-18-to-2026-11-18", "FAILED"),
    ]
    assert all(len(c.state.message) <= MAX_MESSAGE for c in chunks)
    table = next(a for a in artifacts if a.key == "backfill-failures-2026-11-16-to-2026-11-18")
    assert str(table.data).count("ValueError") == failed  # the full list: every failed delivery


def test_a_cli_backfill_refuses_to_overlap_a_running_backfill(prefect_server, other_backfill, tmp_path):
    (tmp_path / "landing").mkdir()
    result = prefect_server.run(
        [str(BIN / "loyalty"), "backfill", "--start", "2026-10-04", "--end", "2026-10-09"],
        prefect_server.env(
            LOYALTY_WAREHOUSE_URL=f"sqlite:///{tmp_path / 'w.db'}", LOYALTY_LANDING_DIR=str(tmp_path / "landing")
        ),
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: another backfill of an overlapping range is running: backfill-2026-10-01-to-2026-10-05 (Running);"
        " wait for it to end (or cancel it in the UI), then run this one"
    )


@pytest.fixture(scope="module")
def deployment(prefect_server: RealServer):  # type: ignore[no-untyped-def]
    """The backfill deployment as ``loyalty serve`` registers it (from prefect.yaml)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from cli.server import read_deployments, runner_deployments

    deployments = runner_deployments([s for s in read_deployments() if s.name == "backfill"])
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        deployment_id = deployments[0].apply()
    with _client(prefect_server) as client:
        return client.read_deployment(deployment_id)


def test_the_run_form_describes_and_checks_the_parameters(prefect_server, deployment):
    from prefect.exceptions import PrefectHTTPStatusError

    schema = deployment.parameter_openapi_schema
    props = schema["properties"]
    assert props["start"]["format"] == "date" and props["start"]["description"]
    assert all(props[name].get("description") for name in props), props
    assert deployment.enforce_parameter_schema
    # one backfill at a time; the next waits for the slot (ENQUEUE)
    assert deployment.global_concurrency_limit.limit == 1
    assert deployment.concurrency_options.collision_strategy.value == "ENQUEUE"

    def create(parameters: dict):  # type: ignore[no-untyped-def]
        with _client(prefect_server) as client:
            return client.create_flow_run_from_deployment(deployment.id, parameters=parameters)

    for bad in (
        {"start": "2026-11-16", "end": "2026-11-18", "entities": ["transaction"]},  # not an entity
        {"start": "2026-13-01", "end": "2026-11-18"},  # not a date
        {"start": "2026-11-16", "end": "2026-11-18", "task_runner": "threads"},
    ):
        with pytest.raises(PrefectHTTPStatusError) as refused:
            create(bad)
        assert refused.value.response.status_code in (409, 422), refused.value.response.text
    run = create({"start": "2026-11-16", "end": "2026-11-18", "entities": ["transactions"]})
    with _client(prefect_server) as client:
        client.delete_flow_run(run.id)  # accepted; nobody serves it here
