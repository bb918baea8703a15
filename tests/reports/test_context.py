"""The report's content: formatting, tiles, tables, themes and the summary, from tiny frames worked out by hand."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.kpis import compute_kpi_tiles
from reports.context import (
    ReportOptions,
    build_report_context,
    clip,
    completeness_note,
    fmt_money,
    fmt_p,
    format_change,
    format_kpi,
    kpi_tiles,
    nrr_text,
    restatement_lines,
    segment_tables,
    summary_sentences,
    theme_details,
    week_heading,
)

WEEK, PREVIOUS = "2026-W47", "2026-W46"  # 2026-W47 runs Monday 16 to Sunday 22 November 2026
MINUS = "\u2212"
OPTIONS = ReportOptions()  # min_n 5, small_n 30, churn_days 90, baseline_weeks 8


# ---------------------------------------------------------------- frames


def stored_tiles(satisfaction: pd.DataFrame, retention: pd.DataFrame) -> pd.DataFrame:
    """The week's weekly_kpi_tiles rows as the metrics step stores them."""
    return compute_kpi_tiles(WEEK, satisfaction, retention).assign(week=WEEK)


def tiles_of(satisfaction: pd.DataFrame, retention: pd.DataFrame) -> list[dict]:
    return kpi_tiles(stored_tiles(satisfaction, retention), WEEK)


def sat_row(week: str, dimension: str = "overall", segment_value: str = "all", **values: object) -> dict:
    row = {
        "week": week,
        "dimension": dimension,
        "segment_value": segment_value,
        "responses": 0,
        "is_suppressed": False,
        "is_small_sample": False,
        **dict.fromkeys(["nps", "nps_n", "nps_ci_low", "nps_ci_high", "nps_change"], np.nan),
        **dict.fromkeys(["csat", "csat_n", "csat_ci_low", "csat_ci_high"], np.nan),
        **dict.fromkeys(["ces", "ces_ci_low", "ces_ci_high", "ces_n"], np.nan),
        **dict.fromkeys(["nps_change_p", "nps_change_q", "csat_change_p", "csat_change_q"], np.nan),
        "is_nps_change_significant": False,
        "is_csat_change_significant": False,
    }
    return {**row, **values}


def ret_row(week: str, active: int, repeat: int, at_risk: int, churned: int) -> dict:
    return {
        "week": week,
        "active_customers": active,
        "repeat_customers": repeat,
        "repeat_rate": repeat / active,
        "at_risk_customers": at_risk,
        "churned_customers": churned,
        "churn_rate": churned / at_risk,
    }


def frames(
    *,
    nps: tuple[float, float] = (42.0, 30.5),
    nps_significant: bool = True,
    churned: tuple[int, int] = (40, 10),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two weeks; (this week, last week) for NPS and the churned of 400 at-risk customers each week."""
    overall = {"csat_n": 110, "csat_ci_low": 0.73, "csat_ci_high": 0.87}
    satisfaction = pd.DataFrame(
        [
            sat_row(PREVIOUS, responses=100, nps=nps[1], nps_n=98, csat=0.78, **overall),
            sat_row(
                WEEK,
                responses=120,
                nps=nps[0],
                nps_n=118,
                nps_ci_low=nps[0] - 10.8,
                nps_ci_high=nps[0] + 10.8,
                nps_change=nps[0] - nps[1],
                nps_change_p=0.004 if nps_significant else 0.4,
                nps_change_q=0.012 if nps_significant else 0.6,
                is_nps_change_significant=nps_significant,
                csat=0.81,
                csat_change_p=0.31,
                csat_change_q=0.46,
                ces=5.75,  # no interval stored: CES is shown but not tested
                ces_n=8,
                **overall,
            ),
        ]
    )
    retention = pd.DataFrame(
        [
            ret_row(PREVIOUS, active=100, repeat=50, at_risk=400, churned=churned[1]),
            ret_row(WEEK, active=100, repeat=50, at_risk=400, churned=churned[0]),
        ]
    )
    return satisfaction, retention


def overall_of(satisfaction: pd.DataFrame) -> dict:
    rows = satisfaction.loc[(satisfaction["week"] == WEEK) & (satisfaction["dimension"] == "overall")]
    return rows.iloc[0].to_dict()


# ---------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("kpi", "change", "expected"),
    [
        ("nps", -2.94, f"{MINUS}2.9 pts"),
        ("nps", 10.0, "+10.0 pts"),
        ("nps", 0.04, "0.0 pts"),  # rounds to zero: no sign either way
        ("nps", -0.04, "0.0 pts"),
        ("csat", 0.004, "+0.4 pp"),  # a share: 0.004 is 0.4 percentage points
        ("csat", -0.0004, "0.0 pp"),
        ("repeat_rate", -0.125, f"{MINUS}12.5 pp"),
        ("churn_rate", 0.0125, "+1.25 pp"),
        ("ces", -0.25, f"{MINUS}0.25"),
        ("responses", 1234.0, "+1,234"),
        ("active_customers", -0.4, "0"),
        ("nps", np.nan, "no comparison"),
        ("nps", None, "no comparison"),
    ],
)
def test_format_change(kpi: str, change: float | None, expected: str) -> None:
    assert format_change(kpi, change) == expected


@pytest.mark.parametrize(
    ("kpi", "value", "expected"),
    [
        ("nps", 41.96, "42.0"),
        ("csat", 0.8123, "81.2%"),
        ("repeat_rate", 0.5, "50.0%"),
        ("churn_rate", 0.05, "5.00%"),
        ("ces", 5.75, "5.75"),
        ("responses", 1234.0, "1,234"),
        ("active_customers", np.nan, "n/a"),
    ],
)
def test_format_kpi(kpi: str, value: float, expected: str) -> None:
    assert format_kpi(kpi, value) == expected


def test_small_formatters() -> None:
    assert (fmt_p(0.0004), fmt_p(0.0123), fmt_p(np.nan)) == ("< 0.001", "0.012", "n/a")
    assert fmt_money(1234.4, "GBP") == "\u00a31,234"
    assert fmt_money(99.6, "CHF") == "100 CHF"
    assert week_heading(WEEK) == "Week 47, 2026 (16 Nov \u2013 22 Nov 2026)"


def test_clip() -> None:
    assert clip("abcdefghij", 10) == "abcdefghij"
    assert clip("abcdefghijk", 10) == "abcdefghi\u2026"  # ten characters, the ellipsis included
    assert clip("abcd efgh", 6) == "abcd\u2026"  # no space left dangling before the ellipsis
    assert clip("line one\n\n  line\ttwo  ", 100) == "line one line two"
    # Escaping is the template's job (autoescape): markup passes through as it came.
    assert clip("<script>alert(1)</script>", 100) == "<script>alert(1)</script>"
    assert clip(None, 5) == "" and clip(np.nan, 5) == ""
    assert clip("NaN", 10) == "NaN"  # text that happens to spell a float is still text


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80), limit=st.integers(min_value=1, max_value=40))
def test_clip_never_exceeds_the_limit(text: str, limit: int) -> None:
    clipped = clip(text, limit)
    one_line = " ".join(text.split())
    assert len(clipped) <= limit
    assert clipped == one_line if len(one_line) <= limit else clipped.endswith("\u2026")


# ---------------------------------------------------------------- tiles


@pytest.mark.parametrize(
    ("nps", "churned", "expected_nps", "expected_churn"),
    [
        ((42.0, 30.5), (40, 10), ("\u25b2", "good", "+11.5 pts"), ("\u25b2", "bad", "+7.50 pp")),
        ((30.5, 42.0), (10, 40), ("\u25bc", "bad", f"{MINUS}11.5 pts"), ("\u25bc", "good", f"{MINUS}7.50 pp")),
    ],
    ids=["rise", "fall"],
)
def test_tile_marker_and_tone_follow_the_direction_that_is_good(
    nps: tuple[float, float],
    churned: tuple[int, int],
    expected_nps: tuple[str, str, str],
    expected_churn: tuple[str, str, str],
) -> None:
    tiles = {t["kpi"]: t for t in tiles_of(*frames(nps=nps, churned=churned))}
    assert (tiles["nps"]["marker"], tiles["nps"]["tone"], tiles["nps"]["change"]) == expected_nps
    assert tiles["nps"]["significance"] == "significant (q 0.012)"  # the stored q of the satisfaction frame
    # Churn 40 / 400 against 10 / 400: z about 4.4, far past any BH bar among the four tested KPIs.
    assert (tiles["churn_rate"]["marker"], tiles["churn_rate"]["tone"], tiles["churn_rate"]["change"]) == expected_churn
    assert tiles["churn_rate"]["significance"] == "significant (q < 0.001)"
    assert {tiles["churn_rate"]["value"], tiles["churn_rate"]["previous"]} == {"10.00%", "2.50%"}


def test_tiles_without_a_significant_change_have_no_marker() -> None:
    tiles = {t["kpi"]: t for t in tiles_of(*frames(nps_significant=False))}
    for kpi, significance in [
        ("nps", "not significant"),  # an 11.5-point move, but the stored test says noise
        ("csat", "not significant"),
        ("active_customers", "not significant"),  # 100 against 100
        ("ces", "not tested"),  # no interval stored, so no test
    ]:
        tile = tiles[kpi]
        assert (tile["marker"], tile["tone"], tile["significance"]) == ("", "neutral", significance), kpi
        assert tile["is_significant"] is False
    assert (tiles["nps"]["value"], tiles["nps"]["previous"], tiles["nps"]["n"]) == ("42.0", "30.5", "118")
    assert (tiles["csat"]["value"], tiles["csat"]["change"]) == ("81.0%", "+3.0 pp")


# ---------------------------------------------------------------- segments


def test_segment_tables_suppress_flag_and_sort_by_responses() -> None:
    satisfaction = pd.DataFrame(
        [
            sat_row(WEEK, "channel", "phone", responses=12, is_small_sample=True, nps=25.0, csat=0.75, ces=4.5),
            sat_row(WEEK, "channel", "email", responses=3, is_suppressed=True, is_small_sample=True),
            sat_row(
                WEEK,
                "channel",
                "online",
                responses=40,
                nps=42.0,
                nps_ci_low=31.2,
                nps_ci_high=52.8,
                nps_change=-2.94,
                csat=0.81,
                ces=5.75,
            ),
            sat_row(WEEK, "channel", "app", responses=12, is_small_sample=True, nps=-8.0, csat=0.5, ces=3.0),
            sat_row(PREVIOUS, "channel", "kiosk", responses=90, nps=10.0),  # another week: not shown
        ]
    )
    tables = segment_tables(satisfaction, WEEK, OPTIONS)
    assert [(t["dimension"], t["title"]) for t in tables] == [
        ("channel", "Channel"),
        ("region", "Region"),
        ("segment", "Customer segment"),
    ]
    assert tables[1]["rows"] == [] and tables[2]["rows"] == []
    rows = {r["name"]: r for r in tables[0]["rows"]}
    # Most responses first; a tie (app, phone: 12 each) by name.
    assert [r["name"] for r in tables[0]["rows"]] == ["online", "app", "phone", "email"]
    assert rows["online"] == {
        "name": "online",
        "responses": "40",
        "nps": "42.0",
        "nps_ci": "31.2 to 52.8",
        "nps_change": f"{MINUS}2.9 pts",
        "nps_significant": False,
        "csat": "81.0%",
        "ces": "5.75",
        "nps_small": False,
        "csat_small": False,
        "ces_small": False,
        "flag": "",
    }
    assert rows["phone"]["flag"] == "small sample (n < 30)"
    assert (rows["phone"]["nps"], rows["phone"]["nps_ci"]) == ("25.0", "")
    email = rows["email"]
    assert (email["nps"], email["csat"], email["ces"]) == ("\u2014", "\u2014", "\u2014")
    assert (email["nps_ci"], email["nps_change"], email["responses"]) == ("", "", "3")
    assert email["flag"] == "suppressed (n < 5)"  # suppression outranks the small-sample flag


def test_segment_flags_rest_on_each_metrics_own_n() -> None:
    # 140 responses (not a small cell), but NPS rests on 25 answers and CES on 4: NPS is flagged with its n,
    # CES is not shown, CSAT (120 answers) is neither.
    row = sat_row(
        WEEK,
        "channel",
        "cards",
        responses=140,
        nps=20.0,
        nps_n=25,
        csat=0.8,
        csat_n=120,
        ces=np.nan,
        ces_n=4,
        is_nps_small_sample=True,
        is_nps_suppressed=False,
        is_csat_small_sample=False,
        is_csat_suppressed=False,
        is_ces_small_sample=True,
        is_ces_suppressed=True,
    )
    cards = segment_tables(pd.DataFrame([row]), WEEK, OPTIONS)[0]["rows"][0]
    assert (cards["nps"], cards["nps_small"], cards["csat_small"]) == ("20.0", True, False)
    assert cards["ces"] == "\u2014" and not cards["ces_small"]
    assert cards["flag"] == "small: NPS n=25; not shown (n < 5): CES"


# ---------------------------------------------------------------- themes


def test_theme_details_quote_each_comment_once() -> None:
    details = pd.DataFrame(
        [
            {
                "term": "app",
                "comments": 12,
                "sentiment": -0.42,
                "verbatim_1": "The app crashed at checkout",
                "response_id_1": "r1",
                "verbatim_2": "App <b>slow</b>\nagain",
                "response_id_2": "r2",
                "verbatim_3": "   ",  # blank: skipped, not counted as repeated
                "response_id_3": "r3",
            },
            {
                "term": "app crashed",
                "comments": 5,
                "sentiment": 0.03,
                "verbatim_1": "App <b>slow</b>\nagain",
                "response_id_1": "r2",
                "verbatim_2": "The app crashed at checkout",
                "response_id_2": "r1",
                "verbatim_3": "It crashed twice",
                "response_id_3": "r4",
            },
        ]
    )
    group_terms = pd.DataFrame(
        [
            {"term": "app crashed", "is_significant": True, "over_represented_in": "detractors"},
            {"term": "app", "is_significant": False, "over_represented_in": "promoters"},
        ]
    )
    app, crashed = theme_details(details, group_terms, OPTIONS)
    assert app["verbatims"] == [
        {"text": "The app crashed at checkout", "id": "r1"},
        {"text": "App <b>slow</b> again", "id": "r2"},  # one line, markup left for autoescape
    ]
    assert app["repeated"] == 0
    assert (app["term"], app["comments"], app["sentiment"], app["group"]) == ("app", "12", "negative (-0.42)", "")
    assert crashed["verbatims"] == [{"text": "It crashed twice", "id": "r4"}]
    assert crashed["repeated"] == 2
    assert crashed["sentiment"] == "neutral (+0.03)"  # inside VADER's +/-0.05 neutral band
    assert crashed["group"] == "over-represented among detractors"


# ---------------------------------------------------------------- summary


RISING = [
    {
        "term": "app crashed",
        "count": "19",
        "comments": "77",
        "share": "24.7%",
        "baseline_share": "6.0%",
    }
]
DRIVERS = [
    {"label": "Empathy", "quadrant": "Keep up"},
    {"label": "Reliability", "quadrant": "Fix first"},
]
RETAIN = [{"customer_id": "C-017"}, {"customer_id": "C-002"}, {"customer_id": "C-101"}]
ALERTS = [{"severity": "high"}, {"severity": "low"}]


def test_summary_states_the_numbers_and_what_to_do() -> None:
    satisfaction, retention = frames()
    tiles = tiles_of(satisfaction, retention)
    sentences = summary_sentences(tiles, overall_of(satisfaction), RISING, DRIVERS, RETAIN, ALERTS, OPTIONS)
    assert 3 <= len(sentences) <= 5
    assert sentences == [
        # CI 42.0 +/- 10.8 from the overall cell, which rests on the 118 of 120 responses that answered the NPS
        # question; +11.5 with the stored test's verdict.
        "NPS was 42.0 (95% CI 31.2 to 52.8) from 118 answers of 120 responses, up 11.5 pts on last week, a "
        "significant change.",
        "CSAT was 81.0% and CES 5.75 out of 7; neither moved significantly.",
        "100 customers bought this week and 50.0% of them had bought before; churn rose significantly to 10.00% "
        "(no purchase for 90 days).",
        "\u201capp crashed\u201d is the fastest-rising theme in comments: in 19 of 77 comments (24.7%, against 6.0% "
        "over the 8 weeks before the last 2). Read its verbatims in Themes and give it an owner.",
        "This week: improve Reliability (high importance, below-average scores); call the 3 customers on the "
        "RETAIN list, starting with C-017; review 1 high-severity alert.",
    ]


def test_summary_nps_within_normal_variation_and_without_a_previous_week() -> None:
    satisfaction, retention = frames(nps=(30.5, 33.44), nps_significant=False)
    tiles = tiles_of(satisfaction, retention)
    first = summary_sentences(tiles, overall_of(satisfaction), [], [], [], [], OPTIONS)[0]
    assert first == (
        f"NPS was 30.5 (95% CI 19.7 to 41.3) from 118 answers of 120 responses, {MINUS}2.9 pts on last week, "
        "within normal week-to-week variation."
    )
    only_this_week = satisfaction.loc[satisfaction["week"] == WEEK]
    tiles = tiles_of(only_this_week, retention)
    sentences = summary_sentences(tiles, overall_of(only_this_week), [], [], [], [], OPTIONS)
    assert sentences[0].endswith("from 118 answers of 120 responses, with no week before it to compare.")
    assert len(sentences) == 3  # NPS, CSAT/CES and customers: nothing rising, nothing to do


def test_summary_with_too_few_responses_does_not_publish_nps() -> None:
    satisfaction = pd.DataFrame([sat_row(WEEK, responses=3, is_suppressed=True, is_small_sample=True)])
    _, retention = frames()
    tiles = tiles_of(satisfaction, retention)
    sentences = summary_sentences(tiles, overall_of(satisfaction), [], [], [], [], OPTIONS)
    assert sentences[0].startswith("Only 3 survey responses came in this week: too few to publish NPS (fewer than 5).")
    assert not any("NPS was" in s for s in sentences)


def test_summary_when_too_few_responses_answered_the_nps_question() -> None:
    # A published cell (12 responses) whose NPS was blanked: only 3 answered that question.
    satisfaction = pd.DataFrame([sat_row(WEEK, responses=12, is_small_sample=True, nps_n=3, csat=0.75)])
    _, retention = frames()
    tiles = tiles_of(satisfaction, retention)
    first = summary_sentences(tiles, overall_of(satisfaction), [], [], [], [], OPTIONS)[0]
    assert first.startswith(
        "Only 3 of this week's 12 survey responses answered the NPS question: too few to publish NPS (fewer than 5)."
    )


# ---------------------------------------------------------------- the whole context

EXPECTED_KEYS = {
    "meta",
    "kpis",
    "closing_loop",
    "summary",
    "overall",
    "trend_svg",
    "segments",
    "drivers",
    "driver_svg",
    "retention",
    "cohort_svg",
    "repurchase",
    "repurchase_tests",
    "repurchase_svg",
    "repurchase_weeks",
    "repurchase_cohorts",
    "cohort_notes",
    "completeness",
    "restatements",
    "published",
    "themes",
    "retain",
    "alerts",
    "data_quality",
    "methods",
}
EMPTY_FRAMES = (
    "key_drivers",
    "retain_list",
    "alerts",
    "term_verbatims",
    "terms_by_nps_group",
    "cohort_retention",
    "repurchase_by_nps_group",
    "repurchase_tests",
)


def minimal_frames() -> dict[str, pd.DataFrame]:
    satisfaction, retention = frames()
    trending = pd.DataFrame(
        [
            {
                "week": WEEK,
                "term": "app crashed",
                "direction": "rising",
                "is_significant": True,
                "q_value": 0.002,
                "ratio": 4.1,
                "count": 19,
                "comments": 77,
                "share": 19 / 77,
                "baseline_share": 0.06,
            }
        ]
    )
    return {
        "weekly_satisfaction": satisfaction,
        "weekly_retention": retention,
        "trending_terms": trending,
        "weekly_kpi_tiles": stored_tiles(satisfaction, retention),
        **{name: pd.DataFrame() for name in EMPTY_FRAMES},
    }


@pytest.mark.parametrize(("region", "edition"), [(None, "Company-wide"), ("North", "Region: North")])
def test_build_report_context(region: str | None, edition: str) -> None:
    context = build_report_context(
        minimal_frames(), week=WEEK, region=region, data_quality_counts=None, options=OPTIONS
    )
    assert set(context) == EXPECTED_KEYS
    meta = context["meta"]
    assert meta["edition"] == edition
    assert meta["report_date"] == "2026-11-23"  # the Monday after Sunday 22 November
    assert meta["week_heading"] == "Week 47, 2026 (16 Nov \u2013 22 Nov 2026)"
    assert meta["title"] == "Weekly loyalty report 2026-W47" + ("" if region is None else " \u2013 North")
    assert (context["methods"]["week_start"], context["methods"]["week_end"]) == ("2026-11-16", "2026-11-22")
    assert [t["kpi"] for t in context["kpis"]][:3] == ["nps", "csat", "ces"]
    assert 3 <= len(context["summary"]) <= 5
    assert any("in 19 of 77 comments (24.7%" in s for s in context["summary"])
    assert context["themes"]["rising"][0]["ratio"] == "4.1\u00d7"
    assert context["themes"]["falling"] == [] and context["themes"]["details"] == []
    assert context["drivers"] == [] and context["alerts"] == [] and context["repurchase"] == []
    assert context["retain"] == {"rows": [], "total": 0, "pdf_rows": OPTIONS.retain_rows_pdf, "held_out": 0}
    assert context["overall"]["responses"] == "120"
    assert context["data_quality"] is None
    for key in ("trend_svg", "driver_svg", "cohort_svg", "repurchase_svg"):
        assert "<svg" in context[key], key


def test_build_report_context_does_not_mutate_the_frames() -> None:
    given_frames = minimal_frames()
    copies = {name: frame.copy() for name, frame in given_frames.items()}
    build_report_context(given_frames, week=WEEK, region=None, data_quality_counts=None, options=OPTIONS)
    for name, frame in given_frames.items():
        pd.testing.assert_frame_equal(frame, copies[name])


# ---------------------------------------------------------------- completeness, restatements, NRR


def restatement_frame(nps: tuple[float, float], late: int) -> pd.DataFrame:
    rows = [
        ("responses", 141.0, 141.0 + late),
        ("nps", *nps),
        ("csat", 0.8, 0.8),
        ("ces", np.nan, np.nan),
    ]
    return pd.DataFrame(
        [
            {
                "week": WEEK,
                "previous_week": PREVIOUS,
                "figure": f,
                "reported_value": a,
                "restated_value": b,
                "late_responses": late,
            }
            for f, a, b in rows
        ]
    )


def test_restatement_line_states_the_change_after_late_responses() -> None:
    assert restatement_lines(restatement_frame((20.0, 19.31), 13)) == [
        "Last week's NPS, restated after 13 late responses: 20.0 \u2192 19.3."
    ]
    # The edition's published value wins over the recomputed "as reported" value when it is at hand.
    published = pd.DataFrame({"figure": ["nps"], "value": [21.0]})
    assert restatement_lines(restatement_frame((20.0, 19.31), 13), published)[0].endswith("21.0 \u2192 19.3.")
    # Late rows that move no figure at the shown precision: said so, without a restatement.
    assert restatement_lines(restatement_frame((20.0, 20.04), 2)) == [
        "Last week's figures gained 2 late responses; NPS, CSAT and CES unchanged."
    ]
    assert restatement_lines(restatement_frame((20.0, 20.0), 0)) == []


def test_completeness_note_names_the_channels_still_arriving() -> None:
    frame = pd.DataFrame(
        [
            {"channel": "online", "arrived_responses": 100, "expected_responses": 100.0, "completeness": 1.0},
            {"channel": "comment_card", "arrived_responses": 41, "expected_responses": 54.0, "completeness": 41 / 54},
            {"channel": "all", "arrived_responses": 141, "expected_responses": 154.0, "completeness": 141 / 154},
        ]
    )
    note = completeness_note(frame)
    assert note["completeness"] == "92%" and note["is_incomplete"]
    assert "(141 of about 154" in note["text"] and "comment card (41 of ~54)" in note["text"]


def test_nrr_is_explained_with_the_revenue_it_leaves_out() -> None:
    row = {
        "net_revenue_retention": 0.81,
        "period_revenue": 96_000.0,
        "prior_period_revenue": 100_000.0,
        "period_revenue_returning": 70_000.0,
        "period_revenue_new": 26_000.0,
    }
    text = nrr_text(row, WEEK, "GBP")
    # Current period W35..W47, prior W22..W34 (13 weeks each); total revenue 96k vs 100k = -4%.
    assert text.startswith("Net revenue retention 81%: customers who bought in 2026-W22\u20132026-W34 spent 81%")
    assert "so it is not the change in revenue" in text
    assert "\u00a396,000, \u22124% on the 13 weeks before" in text
    assert "\u00a370,000 from returning customers and \u00a326,000 from new ones" in text
