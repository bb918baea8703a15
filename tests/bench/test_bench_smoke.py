"""Smoke tests of the benchmark's pieces that need no Prefect: data knobs, the floor loader, the naive peer, the
process runner, and the goal verdicts. No timing is asserted anywhere: timings belong to ``make bench``.

On PostgreSQL the floor writes into a schema of its own in the tests' database (LOYALTY_TEST_POSTGRES_URL) and drops it.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import make_url

from bench.data import (
    BENCH_ENTITIES,
    SCALES,
    Scale,
    build_bench_frames,
    describe_frames,
    source_frames,
    write_sqlite_source,
)
from bench.floor import count_rows, load_floor
from bench.measures import MAPPING_PATH
from bench.results import MeasureResult, Verdict, evaluate_goals, goals_table, machine_facts, measures_table, write_json
from bench.runner import run_forked
from bench.targets import Target, pg_conninfo, schema_url
from demo import build_demo_frames, write_demo_files

TINY = Scale("tiny", length_days=3, customers=120, purchase_rate=6.0, survey_rate=0.42, comment_rate=0.84)


@pytest.fixture(scope="module")
def tiny_frames() -> dict[str, pd.DataFrame]:
    return build_bench_frames(TINY)


@pytest.fixture(scope="module")
def tiny_landing(tiny_frames: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("bench") / "landing"
    write_demo_files(tiny_frames, landing)
    return landing


# ---------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------


def test_rates_of_one_give_the_demo_generator_unchanged() -> None:
    """The rate knobs only rescale: at rate 1 the bench data is the demo, row for row."""
    start, end = date(2026, 11, 9), date(2026, 11, 22)
    plain = Scale("plain", length_days=14, customers=300, end=end)
    assert plain.start == start
    ours = build_bench_frames(plain)
    demo = build_demo_frames(start, end, seed=plain.seed, n_customers=300)
    for entity in BENCH_ENTITIES:
        pd.testing.assert_frame_equal(ours[entity], demo[entity])


def test_rate_knobs_raise_purchases_and_lower_surveys() -> None:
    base = describe_frames(build_bench_frames(Scale("a", length_days=28, customers=400)))
    fast = describe_frames(
        build_bench_frames(Scale("b", length_days=28, customers=400, purchase_rate=6.0, survey_rate=0.42))
    )
    assert fast["transactions"] > 3 * base["transactions"]
    assert fast["survey_responses"] / fast["transactions"] < base["survey_responses"] / base["transactions"]


def test_the_generator_module_is_left_as_it_was(tiny_frames: dict[str, pd.DataFrame]) -> None:
    from demo import simulation

    assert list(simulation._SURVEY_P) == [0.28, 0.22, 0.25]
    assert list(simulation._COMMENT_P) == [0.40, 0.38, 0.85, 0.36, 0.28]


def test_cache_key_follows_the_data_not_the_repetitions() -> None:
    year = SCALES["year"]
    assert year.key() == Scale(**{**year.__dict__, "repeat": 9}).key()
    assert year.key() != Scale(**{**year.__dict__, "customers": 99_999}).key()
    assert len(year.days) == 364 and year.start.isoweekday() == 1 and year.end.isoweekday() == 7
    long = SCALES["long"]  # 18 months of whole ISO weeks: 78 weeks x 7 = 546 days
    assert len(long.days) == 546 and long.start.isoweekday() == 1 and long.end == year.end


def test_sqlite_source_has_the_shape_the_extract_reads(tiny_frames: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    tables = source_frames(tiny_frames)
    path = tmp_path / "source.db"
    write_sqlite_source(tables, path)
    conn = sqlite3.connect(path)
    try:
        for entity, df in tables.items():
            assert conn.execute(f"select count(*) from {entity}").fetchone()[0] == len(df)
        stamp = conn.execute("select occurred_at from transactions limit 1").fetchone()[0]
    finally:
        conn.close()
    assert len(stamp) == 19 and stamp[10] == " "  # UTC text YYYY-MM-DD HH:MM:SS, as the README asks
    # Only rows whose timestamp does not parse are left out of a typed source.
    assert len(tables["transactions"]) <= len(tiny_frames["transactions"]) <= len(tables["transactions"]) + 10


# ---------------------------------------------------------------------------------------------------------
# Floor and naive peer
# ---------------------------------------------------------------------------------------------------------


def test_floor_writes_exactly_the_generated_rows_on_sqlite(
    tiny_frames: dict[str, pd.DataFrame], tiny_landing: Path, tmp_path: Path
) -> None:
    target = Target("sqlite", "floor", tmp_path)
    written = load_floor(target, tiny_landing, TINY.days, MAPPING_PATH)
    expected = {entity: len(tiny_frames[entity]) for entity in BENCH_ENTITIES}
    assert written == expected
    assert count_rows(target) == expected
    # A second run starts from an empty warehouse, it does not append.
    assert load_floor(target, tiny_landing, TINY.days, MAPPING_PATH) == expected
    assert count_rows(target) == expected


def _bench_postgres_url() -> str:
    """The tests' PostgreSQL: the floor writes into a schema of its own there (bench_test_floor) and drops it."""
    from tests.databases import POSTGRES_URL, require_postgres

    require_postgres()
    return POSTGRES_URL


@pytest.mark.postgres
def test_floor_writes_exactly_the_generated_rows_on_postgres(
    tiny_frames: dict[str, pd.DataFrame], tiny_landing: Path, tmp_path: Path
) -> None:
    target = Target("postgres", "floor", tmp_path, postgres_url=_bench_postgres_url(), scale="test")
    try:
        written = load_floor(target, tiny_landing, TINY.days, MAPPING_PATH)
        assert written == {entity: len(tiny_frames[entity]) for entity in BENCH_ENTITIES}
        assert count_rows(target) == written
    finally:
        target.drop()


def test_naive_peer_loads_or_rejects_every_row(
    tiny_frames: dict[str, pd.DataFrame], tiny_landing: Path, tmp_path: Path
) -> None:
    from bench.naive import run_naive

    counts = run_naive(Target("sqlite", "naive", tmp_path), tiny_landing, TINY.days, MAPPING_PATH)
    for entity in BENCH_ENTITIES:
        assert counts[f"{entity} loaded"] + counts[f"{entity} rejected"] == len(tiny_frames[entity])
        assert counts[f"{entity} rejected"] > 0  # the planted invalid rows are caught
    conn = sqlite3.connect(tmp_path / "warehouses" / "naive.db")
    try:
        assert conn.execute("select count(*) from transactions").fetchone()[0] == counts["transactions loaded"]
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------------------
# Runner, targets, results
# ---------------------------------------------------------------------------------------------------------


def _allocate(mib: int) -> dict:
    block = bytearray(mib * 1024 * 1024)
    return {"seconds": [0.01], "size": len(block)}


def _explode() -> dict:
    raise ValueError("boom")


def test_run_forked_returns_the_result_and_the_childs_own_peak_rss(tmp_path: Path) -> None:
    small = run_forked(_allocate, (1,), tmp_path / "small.log")
    big = run_forked(_allocate, (200,), tmp_path / "big.log")
    assert small.ok and small.result["size"] == 1024 * 1024
    assert big.peak_rss_mib - small.peak_rss_mib > 150
    failed = run_forked(_explode, (), tmp_path / "failed.log")
    assert not failed.ok and "ValueError: boom" in (failed.error or "")
    assert "boom" in failed.log_path.read_text()


def test_postgres_urls_carry_the_schema_for_the_search_path_hook() -> None:
    url = schema_url("postgresql+psycopg://127.0.0.1:5432/bench", "bench_project")
    assert make_url(url).query["application_name"] == "bench:bench_project"
    assert pg_conninfo(url) == "host=127.0.0.1 port=5432 dbname=bench"


def _result(measure: str, seconds: list[float], rss: float = 500.0, engine: str = "sqlite", **kw) -> MeasureResult:
    return MeasureResult(engine=engine, measure=measure, label=measure, seconds=seconds, peak_rss_mib=rss, **kw)


def test_goal_verdicts_from_given_numbers() -> None:
    results = [
        _result("floor", [10.0, 12.0, 11.0]),  # median 11
        _result("naive", [110.0]),
        _result("project", [22.0], rss=2100.0),
        _result("nightly-full", [3.0, 30.0, 3.3]),  # median 3.3
        _result("nightly-week", [3.0, 3.0, 2.0]),  # median 3.0
        _result("report", [], status="unavailable", notes=["unavailable (report flow not present)"], rss=None),
    ]
    verdicts = {(v.engine, v.goal): v for v in evaluate_goals(results)}
    floor = verdicts[("sqlite", "project / floor")]
    assert floor.value == pytest.approx(2.0) and floor.met is True
    naive = verdicts[("sqlite", "naive / project")]
    assert naive.value == pytest.approx(5.0) and naive.met is True
    nightly = verdicts[("sqlite", "nightly on full history / on 1 week")]
    assert nightly.value == pytest.approx(1.1) and nightly.met is True
    report = verdicts[("sqlite", "weekly report")]
    assert report.met is None and "not present" in report.detail
    assert verdicts[("sqlite", "peak RSS: project")].met is False
    assert verdicts[("sqlite", "peak RSS: floor")].met is True
    assert ("sqlite", "peak RSS: report") not in verdicts


def test_goal_verdicts_when_goals_are_missed_or_not_measured() -> None:
    results = [
        _result("floor", [10.0], engine="postgres"),
        _result("project", [40.0], engine="postgres"),
        _result("naive", [], status="failed", engine="postgres"),
        _result("nightly-full", [2.5], engine="postgres"),
        _result("nightly-week", [2.0], engine="postgres"),
        _result("report", [21.0, 25.0, 19.0], engine="postgres"),
    ]
    verdicts = {v.goal: v for v in evaluate_goals(results)}
    assert verdicts["project / floor"].met is False and verdicts["project / floor"].value == pytest.approx(4.0)
    assert verdicts["naive / project"].met is None and "failed" in verdicts["naive / project"].detail
    assert verdicts["nightly on full history / on 1 week"].met is False
    assert verdicts["weekly report"].value == pytest.approx(21.0) and verdicts["weekly report"].met is False
    assert verdicts["metrics of one week"].met is None and verdicts["metrics of one week"].detail == "not run"


def test_goal_verdicts_of_the_metrics_and_the_command_line() -> None:
    results = [
        _result("metrics-week", [2.5, 1.5, 1.9]),  # median 1.9
        _result("cli-metrics", [1.2, 0.9, 1.1]),  # median 1.1
        _result("cli-status", [0.4, 0.5, 0.6]),  # median 0.5
        _result("project", [40.0], rss=1100.0),  # over 1 GiB
        _result("floor", [1.0], rss=1000.0),
    ]
    verdicts = {v.goal: v for v in evaluate_goals(results)}
    assert verdicts["metrics of one week"].value == pytest.approx(1.9) and verdicts["metrics of one week"].met
    assert verdicts["loyalty metrics --json"].value == pytest.approx(1.1)
    assert verdicts["loyalty metrics --json"].met is False
    assert verdicts["loyalty status"].met is True
    assert verdicts["peak RSS: project"].met is False and verdicts["peak RSS: floor"].met is True


def test_results_json_has_the_machine_facts_and_the_tables_print(tmp_path: Path) -> None:
    results = [_result("floor", [1.0, 2.0, 3.0]), _result("project", [4.0])]
    verdicts = evaluate_goals(results)
    payload = {
        "machine": machine_facts(),
        "measures": [r.as_dict() for r in results],
        "goals": [v.as_dict() for v in verdicts],
    }
    path = tmp_path / "results.json"
    write_json(path, payload)
    loaded = json.loads(path.read_text())
    machine = loaded["machine"]
    assert machine["cores"] >= 1 and machine["python"] and machine["sqlite"]
    assert machine["packages"]["prefect"] == "3.8.8"
    assert loaded["measures"][0]["median_seconds"] == 2.0 and loaded["measures"][0]["repetitions"] == 3
    assert {"goal", "engine", "value", "target", "met", "detail"} <= set(loaded["goals"][0])
    table = measures_table(results)
    assert "floor" in table and "2.00" in table
    assert "project / floor" in goals_table(verdicts)
    assert isinstance(verdicts[0], Verdict)


def test_an_earlier_runs_warehouse_counts_only_when_its_backfill_finished(tmp_path) -> None:
    import sqlite3
    from datetime import date

    from bench.targets import Target

    last = date(2026, 11, 21)
    target = Target("sqlite", "project", tmp_path)
    assert not target.has_runs(last)  # no file
    target.reset()
    with sqlite3.connect(target.sqlite_path) as conn:
        conn.execute("create table run_ledger (delivery_day date, entity text, status text)")
        conn.execute("insert into run_ledger values ('2026-11-20', 'transactions', 'succeeded')")
        conn.execute("insert into run_ledger values ('2026-11-21', 'transactions', 'failed')")
    assert not target.has_runs(last)  # killed or failed before its last day
    with sqlite3.connect(target.sqlite_path) as conn:
        conn.execute("insert into run_ledger values ('2026-11-21', 'customers', 'succeeded')")
    assert target.has_runs(last)
