"""Run names from parameters and scheduled start (flows/_names.py): the names `loyalty serve` gives waiting runs
and the flows give themselves when they start. Expected names are worked out by hand from the calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from flows._names import expected_run_name

LONDON = ZoneInfo("Europe/London")
# Sunday 1 June 2031, 23:30 UTC = Monday 2 June 00:30 in London (summer time).
LATE_SUNDAY_UTC = datetime(2031, 6, 1, 23, 30, tzinfo=UTC)
# Tuesday 2 December 2031, 02:00 in London (winter: = UTC): the nightly schedule's time.
NIGHTLY_START = datetime(2031, 12, 2, 2, 0, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [(LONDON, "nightly-etl-2031-06-01"), (ZoneInfo("UTC"), "nightly-etl-2031-05-31")],
)
def test_a_scheduled_nightly_run_is_named_after_yesterday_in_the_business_zone(zone, expected):
    assert expected_run_name("nightly-etl", {}, LATE_SUNDAY_UTC, zone) == expected


def test_the_nightly_schedule_names_the_day_before_its_start():
    assert expected_run_name("nightly-etl", {"delivery_day": None}, NIGHTLY_START, LONDON) == "nightly-etl-2031-12-01"


@pytest.mark.parametrize("day", ["2026-11-30", date(2026, 11, 30)])
def test_a_given_delivery_day_names_the_run_whatever_the_schedule(day):
    assert expected_run_name("nightly-etl", {"delivery_day": day}, NIGHTLY_START, LONDON) == "nightly-etl-2026-11-30"


def test_a_scheduled_report_is_named_after_the_last_complete_week_in_the_business_zone():
    # London: Monday 2 June, so the last complete week is 26 May - 1 June = 2031-W22. UTC: still Sunday 1 June,
    # whose week is not over, so 2031-W21.
    assert expected_run_name("weekly-report", {}, LATE_SUNDAY_UTC, LONDON) == "weekly-report-2031-W22"
    assert expected_run_name("weekly-report", {}, LATE_SUNDAY_UTC, ZoneInfo("UTC")) == "weekly-report-2031-W21"


def test_a_regional_report_carries_the_regions_file_slug():
    from tasks.render import region_slug

    name = expected_run_name("weekly-report", {"week": "2026-W47", "region": "North"}, None, LONDON)
    assert name == f"weekly-report-2026-W47-{region_slug('North')}"
    assert name.startswith("weekly-report-2026-W47-north-")


def test_a_backfill_is_named_after_its_range():
    parameters = {"start": "2026-11-01", "end": "2026-11-28", "chunk_days": 7}
    assert expected_run_name("backfill", parameters, NIGHTLY_START, LONDON) == "backfill-2026-11-01-to-2026-11-28"


@pytest.mark.parametrize(
    ("flow_name", "parameters"),
    [
        ("nightly-etl", {"delivery_day": "2026-13-01"}),
        ("nightly-etl", {"delivery_day": "20261130"}),  # date.fromisoformat takes it; the flows do not
        ("weekly-report", {"week": "2026-W60"}),
        ("backfill", {"start": "x\ny", "end": [1]}),  # schema checks can be switched off for one run
        ("backfill", {"start": "2026-11-01"}),
        ("some-other-flow", {}),
    ],
)
def test_parameters_that_name_nothing_leave_the_name_alone(flow_name, parameters):
    assert expected_run_name(flow_name, parameters, NIGHTLY_START, LONDON) is None


def test_the_loading_flows_name_their_runs_without_importing_the_report_renderer():
    """Every nightly run's process imports its flow; the names must not pull WeasyPrint and matplotlib in (4-5 s
    of start-up on this machine when the names came from tasks/render.py)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import json, sys\n"
        "import flows.nightly_etl, flows.backfill\n"
        "print(json.dumps([m for m in ('weasyprint', 'matplotlib', 'tasks.render') if m in sys.modules]))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
