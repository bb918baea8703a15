"""The "Closing the loop" content and the RETAIN table's marks, from tiny frames (pure)."""

from __future__ import annotations

import pandas as pd

from reports.closing_loop import closing_loop_context, mark_retain_rows

WEEK = "2026-W47"


def _followup() -> pd.DataFrame:
    base = {
        "week": WEEK,
        "control_cases_opened": 1,
        "backlog_median_age_days": 7.0,
        "backlog_oldest_age_days": 14.0,
        "sla_cases": 4,
        "contacted_within_sla": 3,
        "first_contacts": 2,
        "cases_closed": 4,
        "cases_resolved": 1,
        "cases_came_back": 2,
        "cases_expired": 1,
    }
    rows = [
        {**base, "dimension": "overall", "segment_value": "all", "cases_opened": 5, "cases_open": 9},
        {**base, "dimension": "region", "segment_value": "North", "cases_opened": 2, "cases_open": 4},
        {**base, "dimension": "region", "segment_value": "South", "cases_opened": 3, "cases_open": 5},
        {**base, "dimension": "team", "segment_value": "North care", "cases_opened": 0, "cases_open": 2},
        {**base, "dimension": "team", "segment_value": "South care", "cases_opened": 0, "cases_open": 3},
    ]
    frame = pd.DataFrame(rows)
    frame["contacted_within_sla_share"] = frame["contacted_within_sla"] / frame["sla_cases"]
    frame["median_hours_to_first_contact"] = 26.4
    frame["resolved_share"] = 0.25
    frame["came_back_share"] = 0.5
    return frame


def _effect(verdict: str, randomised: bool = True) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week": WEEK,
            "subset": ["all", "detractor"],
            "is_randomised": randomised,
            "treatment_n": [400, 150],
            "control_n": [45, 21],
            "treatment_repurchasers": [200, 90],
            "control_repurchasers": [18, 6],
            "treatment_rate": [0.5, 0.6],
            "control_rate": [0.4, 6 / 21],
            "difference": [0.1, 0.6 - 6 / 21],
            "ci_low": [-0.05, 0.09],
            "ci_high": [0.24, 0.5],
            "p_value": [0.2, 0.004],
            "logrank_p_value": [0.3, 0.0004],
            "mde": [0.21, 0.3],
            "verdict": [verdict, "effect"],
            "window_days": 90,
        }
    )


def _cases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week": WEEK,
            "customer_id": ["C1", "C2", "C3"],
            "list_week": ["2026-W45", WEEK, WEEK],
            "region": ["North", "South", "North"],
            "team": ["North care", None, None],
            "is_control": [False, False, True],
            "is_from_earlier_week": [True, False, False],
        }
    )


def test_company_edition_shows_every_region_and_the_effect_sentences():
    survival = pd.DataFrame(
        {"week": WEEK, "subset": "all", "arm": ["outreach", "outreach", "control", "control"], "day": [0, 1, 0, 1],
         "at_risk": [400, 380, 45, 44], "share_not_repurchased": [1.0, 0.9, 1.0, 0.95]}
    )  # fmt: skip
    context = closing_loop_context(
        _cases(), _followup(), _effect("no_effect_detected"), survival, week=WEEK, region=None
    )
    assert context["headline"]["label"] == "All" and context["headline"]["cases_open"] == "9"
    assert context["headline"]["sla"] == "75%" and context["headline"]["hours"] == "26 h"
    assert [r["label"] for r in context["by_region"]] == ["North", "South"]
    assert [r["label"] for r in context["by_team"]] == ["North care", "South care"]
    overall, detractors = context["effects"]
    assert overall["difference"] == "+10.0" and overall["ci"] == "\u22125.0 to +24.0"
    assert overall["verdict"].startswith("No difference detected: 50% of outreach customers bought again within 90")
    assert "under +21.0 points" in overall["verdict"]
    # detractors: 60% vs 6/21 = 28.6%: +31.4 points
    assert (
        detractors["verdict"].startswith("Yes: 60% of outreach customers") and "+31.4 points" in detractors["verdict"]
    )
    assert detractors["p"] == "0.004" and detractors["logrank_p"] == "< 0.001"
    assert context["is_randomised"] and context["effect_scope"] is None
    assert "<svg" in context["effect_svg"]


def test_regional_edition_shows_its_own_region_and_says_the_effect_is_company_wide():
    context = closing_loop_context(
        _cases().loc[lambda f: f["region"] == "North"],
        _followup(),
        _effect("cannot_answer_yet", randomised=False),
        pd.DataFrame(),
        week=WEEK,
        region="North",
    )
    assert context["headline"]["label"] == "North" and context["headline"]["cases_open"] == "4"
    assert [r["label"] for r in context["by_region"]] == ["North"]
    assert [r["label"] for r in context["by_team"]] == ["North care"]
    assert context["effect_scope"] == "company-wide" and not context["is_randomised"]
    assert context["effects"][0]["verdict"].startswith(
        "Cannot answer yet: 45 control and 400 contacted cases have had 90 days to buy again"
    )


def test_retain_rows_leave_control_customers_out_and_mark_open_cases():
    retain = pd.DataFrame({"rank": [1, 2, 3], "customer_id": ["C1", "C2", "C3"]})
    rows = [{"customer_id": c} for c in ("C1", "C2", "C3")]
    kept, held_out = mark_retain_rows(rows, retain, _cases(), WEEK)
    assert [(r["customer_id"], r["open_since"]) for r in kept] == [("C1", "2026-W45"), ("C2", "")]
    assert held_out == 1
