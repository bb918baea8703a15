"""loyalty/stored.py: the stored metric rows read back with their types, without the analytics libraries."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from loyalty.db import get_engine
from loyalty.schema import METRIC_TABLES
from loyalty.stored import read_stored_frames, read_stored_rows
from tasks.metrics import recompute_metrics
from tests.helpers import load_six_answers

ROOT = Path(__file__).resolve().parents[2]
WEEK, BEFORE = "2026-W47", "2026-W46"


def test_stored_frames_hold_history_only_for_the_trend_tables(settings) -> None:
    load_six_answers(settings)
    recompute_metrics.fn(settings, [BEFORE, WEEK])
    frames = read_stored_frames(get_engine(settings.warehouse_url), WEEK, ("weekly_retention", "alerts"))
    assert set(frames) == {"weekly_retention", "alerts"}
    assert set(frames["weekly_retention"]["week"]) == {BEFORE, WEEK}
    assert set(frames["alerts"]["week"]) <= {WEEK}


def test_reflected_reads_equal_reads_through_the_typed_tables(settings) -> None:
    # Booleans and dates must come back as such on SQLite too (there they are stored as integers and text).
    load_six_answers(settings)
    recompute_metrics.fn(settings, [BEFORE, WEEK])
    engine = get_engine(settings.warehouse_url)
    reflected = read_stored_frames(engine, WEEK, tuple(METRIC_TABLES), history_weeks=0)
    with engine.connect() as conn:
        for name, table in METRIC_TABLES.items():
            typed = pd.read_sql(sa.select(table).where(table.c.week == WEEK), conn)
            pd.testing.assert_frame_equal(reflected[name], typed, obj=name)
    tiles = reflected["weekly_kpi_tiles"].set_index("kpi")
    assert round(tiles.loc["nps", "value"], 1) == 16.7  # promoters 3, detractors 2 of 6 answers


def test_rows_read_without_pandas_hold_the_same_values_as_the_frames(settings) -> None:
    from analytics.headline import summarise_week

    load_six_answers(settings)
    recompute_metrics.fn(settings, [BEFORE, WEEK])
    engine = get_engine(settings.warehouse_url)
    names = tuple(METRIC_TABLES)
    frames = read_stored_frames(engine, WEEK, names, history_weeks=1)
    rows = read_stored_rows(engine, WEEK, names, history_weeks=1)
    for name in names:
        assert list(rows[name][0]) == list(frames[name].columns) if rows[name] else frames[name].empty, name
        as_frame = pd.DataFrame.from_records(rows[name], columns=list(frames[name].columns))
        pd.testing.assert_frame_equal(as_frame, frames[name], check_dtype=False, obj=name)
    satisfaction = {"weekly_retention", "trending_terms", "alerts", "cohort_retention"}
    from_rows = summarise_week(WEEK, rows["weekly_satisfaction"], **{n: rows[n] for n in satisfaction})
    from_frames = summarise_week(WEEK, frames["weekly_satisfaction"], **{n: frames[n] for n in satisfaction})
    assert from_rows == from_frames
    assert (from_rows["promoters"], from_rows["detractors"], from_rows["responses"]) == (3, 2, 6)
    assert all(type(from_rows[k]) is int for k in ("promoters", "passives", "detractors", "responses"))


def test_metrics_json_imports_neither_the_analytics_libraries_nor_prefect(settings, monkeypatch) -> None:
    load_six_answers(settings)
    recompute_metrics.fn(settings, [BEFORE, WEEK])
    # pandas and numpy too: their import alone is about half a second of the one-second budget.
    heavy = [
        "sklearn",
        "scipy",
        "statsmodels",
        "prefect",
        "great_expectations",
        "matplotlib",
        "weasyprint",
        "pandas",
        "numpy",
    ]
    script = (
        "import json, sys\n"
        "from cli.main import app\n"
        f"app(['metrics', '--week', '{WEEK}', '--json'], standalone_mode=False)\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    env = {"LOYALTY_WAREHOUSE_URL": settings.warehouse_url, "PATH": "/usr/bin:/bin", "HOME": str(settings.reports_dir)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert math.isclose(json.loads(done.stdout)["nps"], 100 * (3 - 2) / 6, abs_tol=0.05)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def test_a_plain_render_of_stored_metrics_imports_no_statistics_library(settings) -> None:
    """`loyalty report render` with no server runs the report's steps as plain functions; when the week's metrics
    are stored it reads them and renders, and needs none of the libraries that computed them."""
    load_six_answers(settings)
    recompute_metrics.fn(settings, [BEFORE, WEEK])
    computing_only = ["sklearn", "scipy.stats", "statsmodels", "vaderSentiment", "great_expectations"]
    script = (
        "import json, sys\n"
        "from cli.main import app\n"
        f"app(['report', 'render', '--week', '{WEEK}'], standalone_mode=False)\n"
        f"print(json.dumps([m for m in {computing_only!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    env = {
        "LOYALTY_WAREHOUSE_URL": settings.warehouse_url,
        "LOYALTY_REPORTS_DIR": str(settings.reports_dir),
        "LOYALTY_PREFECT_HOME": str(settings.reports_dir / "prefect"),
        "LOYALTY_PREFECT_SERVER_PORT": "9",  # no `loyalty serve` answers there: the plain path
        "PATH": "/usr/bin:/bin",
        "HOME": str(settings.reports_dir),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rendering without a flow run" in done.stderr
    assert (settings.reports_dir / WEEK / "weekly-report.pdf").stat().st_size > 10_000
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def test_the_metric_frame_names_are_the_metric_tables() -> None:
    from analytics.parameters import METRIC_FRAMES

    assert sorted(METRIC_FRAMES) == sorted(METRIC_TABLES)
