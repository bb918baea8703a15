"""tasks/report_data.py reads only: it says which weeks lack stored metrics and refuses to report one of them,
and the weekly flow (not this task) computes them. Tiny warehouse: one day of six answers, on each engine
(tests/helpers.py:load_six_answers)."""

from __future__ import annotations

import pytest

from loyalty.db import get_engine
from tasks.metrics import recompute_metrics
from tasks.report_data import (
    ReportInputError,
    find_weeks_without_metrics,
    read_report_data,
    stored_weeks,
)
from tests.helpers import load_six_answers

WEEK, BEFORE = "2026-W47", "2026-W46"  # Wednesday 18 November 2026 is in 2026-W47


@pytest.fixture
def loaded(settings):
    load_six_answers(settings)
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
