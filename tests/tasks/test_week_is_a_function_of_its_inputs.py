"""A week's metrics are a function of the week and the warehouse: computed alone, inside any batch of weeks,
or left by the nightly runs that loaded the data day by day, every metric table holds the same rows.

The warehouse is the demo's (its generator, 8 weeks, 300 customers), loaded the way the nightly flow does it:
one day's intake, then the metrics of the weeks that day reopened. Hypothesis then draws sets of weeks.
"""

from __future__ import annotations

import math
import shutil
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.db import get_engine
from loyalty.schema import METRIC_TABLES, migrate
from loyalty.settings import Settings
from tasks.chunk import intake_chunk
from tasks.metrics import compute_weeks, metric_rows, recompute_metrics, weeks_to_recompute

START = date(2026, 9, 28)  # a Monday: 2026-W40
END = date(2026, 11, 22)  # a Sunday: 2026-W47
WEEKS = [f"2026-W{n}" for n in range(40, 48)]


@pytest.fixture(scope="module")
def nightly_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from demo import generate_demo_sources

    folder = tmp_path_factory.mktemp("nightly-demo")
    demo = Settings(warehouse_url=f"sqlite:///{folder / 'warehouse.db'}", landing_dir=folder / "landing")
    generate_demo_sources(demo.landing_dir, START, END, n_customers=300, source_tz=demo.source_tz)
    engine = get_engine(demo.warehouse_url)
    migrate(engine)
    day = START
    while day <= END:  # what the nightly flow does each night
        outcome = intake_chunk(demo, [day], f"nightly-{day}")
        assert not outcome.failures
        weeks = weeks_to_recompute(engine, outcome.touched_days, through=day)
        if weeks:
            recompute_metrics.fn(demo, weeks)
        day += timedelta(days=1)
    return demo


def _canonical(rows: list[dict]) -> list[tuple]:
    """Rows as sorted tuples; NaN and None both mean 'no value' in a stored row."""

    def value(v: object) -> object:
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    return sorted((tuple((k, value(v)) for k, v in sorted(row.items())) for row in rows), key=repr)


def _stored(settings: Settings, week: str) -> dict[str, list[tuple]]:
    with get_engine(settings.warehouse_url).connect() as conn:
        return {
            name: _canonical([dict(r._mapping) for r in conn.execute(sa.select(t).where(t.c.week == week))])
            for name, t in METRIC_TABLES.items()
        }


def _computed(settings: Settings, weeks: list[str]) -> dict[str, dict[str, list[tuple]]]:
    """Per week, per table: the rows a computation of ``weeks`` in one batch gives that week."""
    frames = compute_weeks(get_engine(settings.warehouse_url), weeks, settings)
    return {week: {name: _canonical(rows) for name, rows in metric_rows(frames, [week]).items()} for week in weeks}


def test_the_demo_warehouse_has_rows_in_every_metric_table(nightly_warehouse):
    stored = [_stored(nightly_warehouse, w) for w in WEEKS]
    empty = {name for name in METRIC_TABLES if not any(s[name] for s in stored)}
    # The property below holds trivially for an empty table. At this size (300 customers, 8 weeks) no term is
    # frequent enough to be detailed, to raise an alert or to persist above its baseline; every other table has
    # rows.
    assert empty == {"term_verbatims", "alerts", "persisting_terms"}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.sampled_from(WEEKS), min_size=1, max_size=4, unique=True))
def test_a_week_alone_in_a_batch_and_by_the_nightly_runs_has_identical_rows(nightly_warehouse, batch):
    in_batch = _computed(nightly_warehouse, sorted(batch))
    for week in batch:
        alone = _computed(nightly_warehouse, [week])[week]
        stored = _stored(nightly_warehouse, week)
        for name in METRIC_TABLES:
            assert in_batch[week][name] == alone[name], f"{name} {week}: batch {sorted(batch)} differs from alone"
            assert stored[name] == alone[name], f"{name} {week}: the nightly runs stored other rows"


def test_a_row_at_the_very_end_of_a_week_belongs_to_the_next_week(nightly_warehouse, tmp_path):
    """2026-W47 ends, and its RETAIN list opens its cases, at Monday 2026-11-23 00:00 London (00:00 UTC in
    winter). Rows at exactly that instant have business day Monday: W47 computed alone never reads them, so they
    must not change W47 when it is computed together with W48 either, and W48 must see them. A purchase closes
    an earlier case that W47's list continues, and resolving contacts close an earlier case and one that W47's
    list just opened."""
    warehouse = tmp_path / "warehouse.db"
    shutil.copyfile(nightly_warehouse.warehouse_url.removeprefix("sqlite:///"), warehouse)
    settings = nightly_warehouse.model_copy(
        update={"warehouse_url": f"sqlite:///{warehouse}", "landing_dir": tmp_path / "landing"}
    )
    before = _computed(settings, ["2026-W47"])["2026-W47"]
    with get_engine(settings.warehouse_url).connect() as conn:
        cases = conn.execute(
            sa.text(
                "select customer_id, is_new, last_listed_week from weekly_cases"
                " where week = '2026-W47' and status in ('open', 'contacted') order by customer_id"
            )
        ).all()
        currency = conn.execute(sa.text("select min(currency) from transactions")).scalar_one()
    relisted = [c for c, is_new, last in cases if not is_new and last == "2026-W47"]
    earlier = [c for c, is_new, last in cases if not is_new and last < "2026-W47"]
    new = [c for c, is_new, _ in cases if is_new]
    assert relisted and earlier and new, "the demo has open cases continued by W47's list, older ones, new ones"
    # The purchase closes a case at the very moment W47's list continues it: W47 must still continue it.
    bought, resolved = relisted[0], [earlier[0], new[0]]
    instant = "2026-11-23T00:00:00+00:00"
    for entity, header, rows in (
        (
            "transactions",
            "transaction_id,customer_id,occurred_at,amount,currency,channel,region",
            [f"edge-t1,{bought},{instant},25.00,{currency},online,"],
        ),
        (
            "outreach",
            "outreach_id,customer_id,contacted_at,channel,team,outcome,note",
            [f"edge-o{i},{c},{instant},phone,care,resolved," for i, c in enumerate(resolved)],
        ),
    ):
        (settings.landing_dir / entity).mkdir(parents=True)
        (settings.landing_dir / entity / "2026-11-23-edge.csv").write_text("\n".join([header, *rows]) + "\n")
    outcome = intake_chunk(settings, [date(2026, 11, 23)], "edge", entities=["transactions", "outreach"])
    assert not outcome.failures
    with get_engine(settings.warehouse_url).connect() as conn:
        loaded = conn.execute(
            sa.text(
                "select (select count(*) from transactions where transaction_id = 'edge-t1')"
                " + (select count(*) from outreach where outreach_id like 'edge-o%')"
            )
        ).scalar_one()
    assert loaded == 3

    alone = _computed(settings, ["2026-W47"])["2026-W47"]
    together = _computed(settings, ["2026-W47", "2026-W48"])
    for name in METRIC_TABLES:
        assert alone[name] == before[name], f"{name}: a Monday row changed 2026-W47 computed alone"
        assert together["2026-W47"][name] == alone[name], f"{name}: 2026-W47 computed with 2026-W48 differs"
    w48 = {  # the cases open at W47's end (W48's own list may open new ones for the same customers)
        row["customer_id"]: row["status"]
        for row in map(dict, together["2026-W48"]["weekly_cases"])
        if row["customer_id"] in {bought, *resolved} and row["list_week"] <= "2026-W47"
    }
    assert w48 == {bought: "came_back", resolved[0]: "resolved", resolved[1]: "resolved"}
