"""The metrics read transactions from a window (about a year before the first week) and the warehouse's
aggregates of the rest (analytics/history.py), and responses from the earliest week a figure reaches back
to (MetricParameters.history_weeks). They give the same frames as pandas over all history.

The warehouse holds 38 weeks of the demo's generator. Small windows (a 28- or 56-day value window, 2-week
net revenue retention, 14 churn days) put the window's start months inside the data, so the cohort cells
before it, first purchases, last purchases before it and the listed customers' older purchases all come
from the warehouse. The reference is :func:`analytics.bundle.compute_metric_frames` given every
transaction. Every frame is compared exactly, except the cohort matrix's revenue, which the database adds up
in its own order (relative difference below 1e-12).
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics.bundle import METRIC_FRAMES, MetricParameters, compute_metric_frames
from analytics.history import window_start
from analytics.weeks import parse_iso_week
from loyalty.db import get_engine
from loyalty.schema import drop_all, migrate
from loyalty.settings import Settings
from tasks.chunk import intake_chunk
from tasks.metrics import ALL_HISTORY, compute_weeks, read_case_inputs, read_warehouse_frames, recompute_metrics
from tests.databases import make_warehouse_url

START = date(2026, 3, 2)  # a Monday: 2026-W10
END = date(2026, 11, 22)  # a Sunday: 2026-W47
SMALL = MetricParameters(
    churn_days=14,
    nrr_weeks=2,
    value_window_days=28,
    repurchase_window_days=14,
    repurchase_cohort_weeks=2,
    survival_response_weeks=2,
    driver_bootstrap_samples=20,
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from demo import generate_demo_sources

    folder = tmp_path_factory.mktemp(f"window-{request.param}")
    url = make_warehouse_url(request.param, folder)
    settings = Settings(warehouse_url=url, landing_dir=folder / "landing")
    generate_demo_sources(settings.landing_dir, START, END, n_customers=250, source_tz=settings.source_tz)
    engine = get_engine(url)
    drop_all(engine)
    migrate(engine)
    day = START
    while day <= END:
        days = [day + timedelta(days=i) for i in range(28) if day + timedelta(days=i) <= END]
        assert not intake_chunk(settings, days, f"window-{day}").failures
        day += timedelta(days=28)
    # Stored RETAIN lists of earlier weeks: the cases of the weeks compared follow them.
    recompute_metrics.fn(settings, [f"2026-W{n}" for n in range(36, 44)])
    return settings


def _full_history(settings: Settings, weeks: list[str], params: MetricParameters) -> dict[str, pd.DataFrame]:
    engine = get_engine(settings.warehouse_url)
    last_day = parse_iso_week(weeks[-1])[1]
    frames = read_warehouse_frames(engine, ALL_HISTORY, last_day, settings)
    frames.update(read_case_inputs(engine, weeks[-1], last_day))
    return compute_metric_frames(
        frames["responses"],
        frames["transactions"],
        frames["customers"],
        weeks=weeks,
        params=params,
        outreach=frames["outreach"],
        earlier_retain_lists=frames["earlier_retain_lists"],
    )


def _rows(frame: pd.DataFrame) -> list[tuple]:
    def value(v: object) -> object:
        return None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v

    return sorted((tuple(value(v) for v in row) for row in frame.itertuples(index=False)), key=repr)


@pytest.mark.parametrize(
    ("weeks", "params"),
    [
        (["2026-W47"], SMALL),
        (["2026-W44", "2026-W45", "2026-W47"], SMALL),
        (["2026-W46", "2026-W47"], MetricParameters(churn_days=21, nrr_weeks=3, value_window_days=56)),
    ],
)
def test_a_window_and_the_warehouse_history_give_the_frames_of_all_history(warehouse, weeks, params):
    start = window_start(weeks, params)
    first_monday = parse_iso_week(weeks[0])[0]
    # Both windows cut the data, so the comparison means something: transactions and responses.
    assert START < start < first_monday
    assert first_monday - timedelta(weeks=params.history_weeks) > START
    windowed = compute_weeks(get_engine(warehouse.warehouse_url), weeks, warehouse, params=params)
    full = _full_history(warehouse, weeks, params)
    assert set(windowed) == set(full) == set(METRIC_FRAMES)
    for name in METRIC_FRAMES:
        ours, reference = windowed[name], full[name]
        assert list(ours.columns) == list(reference.columns), name
        if name == "cohort_retention" and len(reference):
            money = ["revenue", "revenue_retained"]
            pd.testing.assert_frame_equal(ours[money], reference[money], check_exact=False, rtol=1e-12)
            ours, reference = ours.drop(columns=money), reference.drop(columns=money)
        assert _rows(ours) == _rows(reference), f"{name} of {weeks} differs from all history"
    # The figures the window most easily gets wrong are there to compare.
    assert len(full["cohort_retention"]) and len(full["weekly_retention"]) and len(full["retain_list"])
    assert full["weekly_cases"].shape[0] > 0
    older = full["cohort_retention"]
    assert (older["cohort_month"].str.startswith("existing")).any()


def test_a_regional_edition_reads_its_own_history(warehouse):
    """A region's edition: the history (first day of data, cohort cells, first purchases) is the region's own,
    read with the region's filter in the warehouse, and equals pandas over every transaction of the region."""
    weeks, params, region = ["2026-W46", "2026-W47"], SMALL, "East"
    engine = get_engine(warehouse.warehouse_url)
    windowed = compute_weeks(engine, weeks, warehouse, region=region, params=params)
    last_day = parse_iso_week(weeks[-1])[1]
    frames = read_warehouse_frames(engine, ALL_HISTORY, last_day, warehouse, region=region)
    with engine.connect() as conn:  # the warehouse chose the region's rows (the frame has no region column)
        counts = dict(conn.execute(sa.text("select region, count(*) from transactions group by region")).all())
    rated = {*warehouse.fx_rates, warehouse.reporting_currency}
    assert set(frames["transactions"]["currency"]) <= rated and "region" not in frames["transactions"]
    assert 0 < len(frames["transactions"]) <= counts[region] < sum(counts.values())
    with engine.connect() as conn:
        ours = conn.execute(
            sa.text("select count(*) from transactions where region = :region and currency in :rated").bindparams(
                sa.bindparam("rated", expanding=True)
            ),
            {"region": region, "rated": sorted(rated)},
        ).scalar()
    assert len(frames["transactions"]) == ours
    full = compute_metric_frames(
        frames["responses"], frames["transactions"], frames["customers"], weeks=weeks, params=params
    )
    for name in METRIC_FRAMES:
        ours, reference = windowed[name], full[name]
        if name == "cohort_retention" and len(reference):
            money = ["revenue", "revenue_retained"]
            pd.testing.assert_frame_equal(ours[money], reference[money], check_exact=False, rtol=1e-12)
            ours, reference = ours.drop(columns=money), reference.drop(columns=money)
        assert _rows(ours) == _rows(reference), f"{name} of {region} differs from all its history"
    assert full["cohort_retention"]["cohort_month"].str.startswith("existing").any()
    assert len(full["weekly_retention"]) and len(full["repurchase_cohorts"])
