"""tasks/report_data.py reads only: it says which weeks lack stored metrics and refuses to report one of them,
and the weekly flow (not this task) computes them. Tiny warehouse: one day of six answers, on each engine."""

from __future__ import annotations

from datetime import date

import pytest

from loyalty.db import get_engine
from tasks.metrics import recompute_metrics
from tasks.report_data import (
    ReportInputError,
    find_weeks_without_metrics,
    read_report_data,
    read_stored_frames,
    stored_weeks,
)
from tests.helpers import run_day, write_csv

WEEK, BEFORE = "2026-W47", "2026-W46"  # Wednesday 18 November 2026 is in 2026-W47


@pytest.fixture
def loaded(settings):
    write_csv(
        settings.landing_dir / "survey_responses" / "2026-11-18_cards.csv",
        ["response_id", "submitted_at", "channel", "nps", "csat"],
        [[f"R{i}", "2026-11-18T10:00:00Z", "phone", str(n), "4"] for i, n in enumerate([10, 9, 8, 3, 2, 9])],
    )
    write_csv(  # one purchase in each week: the second, dated the 10th, arrives late in the file of the 18th
        settings.landing_dir / "transactions" / "2026-11-18_pos.csv",
        ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel"],
        [
            ["T1", "C1", "2026-11-18T10:00:00Z", "10.00", "GBP", "online"],
            ["T0", "C1", "2026-11-10T10:00:00Z", "5", "GBP", "online"],
        ],
    )
    run_day(settings, date(2026, 11, 18))
    return settings


def test_a_week_without_stored_metrics_is_named_and_not_computed_by_the_read(loaded) -> None:
    engine = get_engine(loaded.warehouse_url)
    assert find_weeks_without_metrics.fn(loaded, [BEFORE, WEEK]) == [BEFORE, WEEK]
    with pytest.raises(ReportInputError, match=f"no stored metrics for {WEEK}"):
        read_report_data.fn(loaded, WEEK)
    assert stored_weeks(engine, [WEEK]) == set()  # the read wrote nothing


def test_after_the_metrics_task_the_week_reads_back_with_its_tiles(loaded) -> None:
    recompute_metrics.fn(loaded, [WEEK])
    assert find_weeks_without_metrics.fn(loaded, [BEFORE, WEEK]) == [BEFORE]
    data = read_report_data.fn(loaded, WEEK)
    tiles = data.frames["weekly_kpi_tiles"].set_index("kpi")
    # 6 answers: promoters 10, 9, 9; passive 8; detractors 3, 2 -> NPS 100 x (3 - 2) / 6 = 16.7
    assert round(tiles.loc["nps", "value"], 1) == 16.7 and tiles.loc["responses", "value"] == 6
    assert data.data_quality["delivery_counts"]  # the week's delivery days are counted


def test_stored_frames_hold_history_only_for_the_trend_tables(loaded) -> None:
    recompute_metrics.fn(loaded, [BEFORE, WEEK])
    frames = read_stored_frames(get_engine(loaded.warehouse_url), WEEK, ("weekly_retention", "alerts"))
    assert set(frames) == {"weekly_retention", "alerts"}
    assert set(frames["weekly_retention"]["week"]) == {BEFORE, WEEK}
    assert set(frames["alerts"]["week"]) <= {WEEK}
