"""`loyalty cases` and `loyalty cases export` against a stored warehouse (SQLite and PostgreSQL), and
`loyalty metrics --json`'s case keys. The outreach note (an email and HTML) never reaches the output."""

from __future__ import annotations

import csv
import io
import json

from tasks.metrics import recompute_metrics
from tests.cli.test_main import _loyalty
from tests.helpers import run_day
from tests.tasks.test_cases_store import NOTE, WEEKS, _landing


def test_cases_list_export_and_metrics_json(settings, landing, tmp_path):
    settings = settings.model_copy(update={"retain_control_share": 0.0})
    for day in _landing(landing):
        run_day(settings, day)
    recompute_metrics.fn(settings, WEEKS)
    env = {"LOYALTY_WAREHOUSE_URL": settings.warehouse_url}

    listed = _loyalty("cases", "--week", "2026-W46", env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "RETAIN cases 2026-W46: 3 listed, 0 control cases held out (not to be contacted)"
    c1 = next(line for line in lines if "resolved" in line)
    # C1's first case: opened Mon 9 Nov, first call 10 Nov 10:00 = 34 h, on time, North care team.
    assert "C1" in c1 and "j***@example.com" in c1 and "34 h" in c1 and " ok " in c1 and "North care" in c1
    open_only = _loyalty("cases", "--week", "2026-W47", "--status", "open", env=env)
    assert open_only.returncode == 0, open_only.stderr
    assert "1 listed" in open_only.stdout.splitlines()[0]
    assert any(line.startswith("* C1") for line in open_only.stdout.splitlines())  # still open from W46

    out = tmp_path / "north.csv"
    exported = _loyalty("cases", "export", "--week", "2026-W46", "--region", "North", "--out", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert [r["case_id"] for r in rows] == ["C1:2026-W46"]  # C1's first case is resolved; C2 is South
    assert rows[0]["email_masked"] == "j***@example.com" and rows[0]["status"] == "open"

    figures = json.loads(_loyalty("metrics", "--week", "2026-W46", "--json", env=env).stdout)
    # W46: one new case (C1 again); backlog 1; 2 cases due, 1 on time; C1 first called after 34 h;
    # two cases closed: C1 resolved, C2 came back.
    assert (figures["cases_opened"], figures["cases_open"], figures["contacted_within_sla_share"]) == (1, 1, 0.5)
    assert figures["median_hours_to_first_contact"] == 34.0
    assert (figures["resolved_share"], figures["came_back_share"]) == (0.5, 0.5)
    effect = figures["outreach_effect"]
    assert set(effect) >= {"n", "difference", "ci_low", "ci_high", "p_value", "is_randomised", "detractors"}
    assert effect["is_randomised"] is False and effect["verdict"] == "cannot_answer_yet"

    for result in (listed, open_only, exported):
        text = result.stdout + result.stderr
        assert NOTE not in text and "jane.doe" not in text and "onerror" not in text
    assert "jane.doe" not in out.read_text(encoding="utf-8")

    bad = _loyalty("cases", "--week", "2026-W46", "--status", "pending", env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --status must be one of open, contacted")
    nowhere = _loyalty("cases", "export", "--week", "2026-W46", "--region", "Atlantis", env=env)
    assert nowhere.returncode == 2 and "no cases in region 'Atlantis'" in nowhere.stderr
