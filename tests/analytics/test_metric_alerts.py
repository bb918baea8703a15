"""Alerts from significant changes and rising terms; the JSON-ready headline of a week."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from analytics.headline import summarise_week, to_plain
from analytics.metric_alerts import ALERT_COLUMNS, build_alerts


def satisfaction_rows() -> pd.DataFrame:
    base = {
        "week": "2026-W47",
        "responses": 180,
        "previous_responses": 200,
        "is_small_sample": False,
        "nps": 25.5,
        "nps_previous": 40.0,
        "nps_change": -14.5,
        "nps_change_p": 0.0012,
        "nps_change_q": 0.0048,
        "is_nps_change_significant": True,
        "csat": 0.74,
        "csat_previous": 0.80,
        "csat_change": -0.06,
        "csat_change_p": 0.03,
        "csat_change_q": 0.04,
        "is_csat_change_significant": True,
    }
    return pd.DataFrame(
        [
            {**base, "dimension": "overall", "segment_value": "all"},
            # A significant NPS rise on a small phone sample; its CSAT did not change significantly.
            {
                **base,
                "dimension": "channel",
                "segment_value": "phone",
                "responses": 25,
                "previous_responses": 20,
                "is_small_sample": True,
                "nps": 60.0,
                "nps_previous": 20.0,
                "nps_change": 40.0,
                "nps_change_p": 0.001,
                "nps_change_q": 0.002,
                "is_csat_change_significant": False,
            },
            # Not significant: no alert.
            {
                **base,
                "dimension": "region",
                "segment_value": "north",
                "is_nps_change_significant": False,
                "is_csat_change_significant": False,
            },
        ]
    )


def trending_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week": ["2026-W47", "2026-W47", "2026-W47"],
            "term": ["app crash", "coffee", "parking"],
            "count": [10, 2, 6],
            "comments": [20, 20, 20],
            "share": [0.5, 0.1, 0.3],
            "baseline_count": [0, 8, 5],
            "baseline_comments": [40, 40, 40],
            "baseline_share": [0.0, 0.2, 0.125],
            "ratio": [41.0, 0.574, 2.4],
            "g2": [26.3, 1.03, 6.0],
            "p_value": [2.8608e-07, 0.31, 0.004],
            "q_value": [8.58e-07, 0.46, 0.006],
            "direction": ["rising", "falling", "rising"],
            "is_significant": [True, False, True],
        }
    )


def test_alerts_by_hand() -> None:
    alerts = build_alerts(satisfaction_rows(), trending_rows())
    assert list(alerts.columns) == ALERT_COLUMNS
    # Sorted by severity: the 14.5-point NPS drop (>= 10) is high; the 6-point CSAT drop (< 10) and the
    # app crash term (ratio 41 >= 3) are medium; parking (ratio 2.4) is low; the phone NPS rise is info.
    assert alerts[["kind", "subject", "severity"]].values.tolist() == [
        ["nps_drop", "overall", "high"],
        ["csat_drop", "overall", "medium"],
        ["rising_term", "app crash", "medium"],
        ["rising_term", "parking", "low"],
        ["nps_rise", "channel=phone", "info"],
    ]
    evidence = alerts["evidence"].tolist()
    assert evidence[0] == "NPS 40.0 -> 25.5 (-14.5 pts; responses 200 -> 180); p=0.0012, q=0.0048"
    assert evidence[1] == "CSAT 80.0% -> 74.0% (-6.0 pts; responses 200 -> 180); p=0.03, q=0.04"
    assert evidence[2] == (
        "'app crash' in 10 of 20 comments (50.0%) vs 0.0% in the baseline weeks (ratio 41.0); p=2.9e-07, q=8.6e-07"
    )
    assert evidence[4].endswith("(small sample)")
    assert alerts["p_value"].tolist()[0] == 0.0012


def test_alert_thresholds_and_week_filter() -> None:
    alerts = build_alerts(satisfaction_rows(), trending_rows(), nps_high_drop=20, term_high_ratio=50)
    severities = dict(zip(alerts["subject"] + "/" + alerts["kind"], alerts["severity"], strict=True))
    assert severities["overall/nps_drop"] == "medium" and severities["app crash/rising_term"] == "low"
    assert build_alerts(satisfaction_rows(), trending_rows(), weeks=["2026-W46"]).empty
    # Thresholds are inclusive: a 14.5-point drop with nps_high_drop=14.5 is high; ratio 41 with 41 is medium.
    exact = build_alerts(satisfaction_rows(), trending_rows(), nps_high_drop=14.5, term_high_ratio=41)
    assert exact["severity"].tolist()[:3] == ["high", "medium", "medium"]


def test_alerts_without_inputs_is_an_empty_frame() -> None:
    alerts = build_alerts()
    assert alerts.empty and list(alerts.columns) == ALERT_COLUMNS


def test_headline_reads_the_overall_row_and_is_json_ready() -> None:
    weekly = satisfaction_rows().assign(
        promoters=pd.array([90, 10, 90], dtype="Int64"),
        passives=pd.array([50, 5, 50], dtype="Int64"),
        detractors=pd.array([40, 10, 40], dtype="Int64"),
        nps_ci_low=[18.0, 40.0, 18.0],
        nps_ci_high=[33.0, 80.0, 33.0],
        ces=[np.nan, 3.0, 3.0],
    )
    retention = pd.DataFrame(
        {
            "week": ["2026-W46", "2026-W47"],
            "active_customers": np.array([900, 1000], dtype=np.int64),
            "repeat_rate": [0.7, 0.75],
            "churn_rate": [0.01, np.nan],
            "week_start": [dt.date(2026, 11, 9), dt.date(2026, 11, 16)],
        }
    )
    alerts = build_alerts(weekly, trending_rows())
    headline = summarise_week(
        "2026-W47", weekly, weekly_retention=retention, trending_terms=trending_rows(), alerts=alerts
    )
    text = json.dumps(headline, allow_nan=False)  # raises on NaN or numpy types
    assert json.loads(text) == headline
    assert headline["week"] == "2026-W47" and headline["responses"] == 180
    assert headline["nps"] == 25.5 and headline["nps_ci_low"] == 18.0 and headline["nps_ci_high"] == 33.0
    assert (headline["promoters"], headline["passives"], headline["detractors"]) == (90, 50, 40)
    assert type(headline["promoters"]) is int and type(headline["active_customers"]) is int
    assert headline["csat"] == 0.74 and headline["ces"] is None  # NaN -> None
    assert headline["active_customers"] == 1000 and headline["repeat_rate"] == 0.75
    assert headline["churn_rate"] is None
    # Significant rising terms of the week, strongest (lowest q) first: app crash, then parking.
    assert [term["term"] for term in headline["rising_terms"]] == ["app crash", "parking"]
    assert set(headline["rising_terms"][0]) >= {"term", "count", "share", "baseline_share", "p_value"}
    assert [alert["kind"] for alert in headline["alerts"]] == [
        "nps_drop",
        "csat_drop",
        "rising_term",
        "rising_term",
        "nps_rise",
    ]


def test_headline_kpis_are_the_stored_tiles_of_the_week_in_the_report_order() -> None:
    # Two stored tiles of the week, written in the wrong order, and one of another week that must not show.
    tiles = pd.DataFrame(
        {
            "week": ["2026-W47", "2026-W46", "2026-W47"],
            "kpi": ["churn_rate", "nps", "nps"],
            "label": ["Churn rate", "NPS", "NPS"],
            "value": [0.02, 40.0, 25.5],
            "previous": [0.01, 38.0, 40.0],
            "change": [0.01, 2.0, -14.5],
            "p_value": [0.2, 0.5, 0.0012],
            "q_value": [0.3, 0.5, 0.0048],
            "is_significant": [False, False, True],
            "test": ["two-proportion z-test", "adjusted-Wald z-test", "adjusted-Wald z-test"],
            "n": pd.array([800, 200, None], dtype="Int64"),
            "direction": ["lower", "higher", "higher"],
            "unit": ["share", "points", "points"],
        }
    )
    headline = summarise_week("2026-W47", satisfaction_rows(), kpi_tiles=tiles)
    assert [k["kpi"] for k in headline["kpis"]] == ["nps", "churn_rate"]  # KPI_ORDER: nps first, churn last
    assert headline["kpis"][0] == {
        "kpi": "nps",
        "value": 25.5,
        "previous": 40.0,
        "change": -14.5,
        "p_value": 0.0012,
        "q_value": 0.0048,
        "is_significant": True,
        "test": "adjusted-Wald z-test",
        "n": None,
        "direction": "higher",
        "unit": "points",
    }
    assert json.loads(json.dumps(headline, allow_nan=False)) == headline


def test_headline_of_a_week_without_data() -> None:
    headline = summarise_week("2026-W01", satisfaction_rows())
    assert headline["responses"] == 0 and headline["nps"] is None and headline["active_customers"] is None
    assert headline["rising_terms"] == [] and headline["alerts"] == [] and headline["kpis"] == []
    with pytest.raises(ValueError, match="ISO week"):
        summarise_week("2026-47", satisfaction_rows())


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        (np.int64(3), 3),
        (np.float32(0.5), 0.5),
        (np.float64("nan"), None),
        (float("inf"), None),
        (pd.NA, None),
        (pd.NaT, None),
        (np.bool_(True), True),
        (dt.date(2026, 11, 16), "2026-11-16"),
        (pd.Timestamp("2026-11-16 10:00", tz="UTC"), "2026-11-16T10:00:00+00:00"),
        ((1, np.int8(2)), [1, 2]),
        ({"a": [np.nan, "x"]}, {"a": [None, "x"]}),
    ],
)
def test_to_plain(value: object, plain: object) -> None:
    assert to_plain(value) == plain


def test_a_change_seen_two_weeks_running_alerts_without_passing_bh() -> None:
    # region=north: W46 change -6 (p 0.03), W47 change -5 (p 0.04); neither passes BH (q 0.2). Same direction,
    # each p < 0.05 -> one alert in W47 by the two-week rule. region=south: W46 -6 (p 0.03) then W47 +5
    # (p 0.04): opposite directions -> no alert. region=east: W47 p 0.04 but W46 p 0.2 -> no alert.
    base = {
        "responses": 100,
        "previous_responses": 100,
        "is_small_sample": False,
        "nps": 20.0,
        "nps_previous": 25.0,
        "nps_change_q": 0.2,
        "is_nps_change_significant": False,
        "csat_change_p": np.nan,
        "csat_change_q": np.nan,
        "csat": np.nan,
        "csat_previous": np.nan,
        "csat_change": np.nan,
        "is_csat_change_significant": False,
        "dimension": "region",
    }
    rows = []
    for value, changes, ps in (
        ("north", (-6, -5), (0.03, 0.04)),
        ("south", (-6, 5), (0.03, 0.04)),
        ("east", (-6, -5), (0.2, 0.04)),
    ):
        for week, change, p in zip(("2026-W46", "2026-W47"), changes, ps, strict=True):
            rows.append({**base, "week": week, "segment_value": value, "nps_change": change, "nps_change_p": p})
    alerts = build_alerts(pd.DataFrame(rows), weeks=["2026-W47"])
    assert alerts[["kind", "subject", "rule"]].values.tolist() == [["nps_drop", "region=north", "two weeks running"]]
    assert alerts["evidence"].iloc[0].endswith("; also a change last week, p=0.03")


def test_persisting_terms_alert() -> None:
    persisting = pd.DataFrame(
        {
            "week": ["2026-W48"],
            "term": ["checkout"],
            "onset_week": ["2026-W46"],
            "count": [30],
            "comments": [150],
            "share": [0.2],
            "reference_share": [0.01],
            "p_value": [1e-9],
            "q_value": [2e-9],
        }
    )
    alerts = build_alerts(persisting_terms=persisting)
    assert alerts[["kind", "subject", "severity", "rule"]].values.tolist() == [
        ["persisting_term", "checkout", "medium", "persisting"]
    ]
    assert alerts["evidence"].iloc[0] == (
        "'checkout' still in 30 of 150 comments (20.0%) vs 1.0% before it rose in 2026-W46; p=1e-09, q=2e-09"
    )


def test_a_figure_missing_as_published_and_as_restated_is_not_restated() -> None:
    """Last week's CES was published as missing (too few answers) and is still missing when restated: nothing
    changed. A published NPS of 31.0 restated as 28.5 did change. Rows as the database returns them (None)."""
    restatements = [
        {
            "week": "2026-W47",
            "previous_week": "2026-W46",
            "figure": figure,
            "reported_value": reported,
            "restated_value": restated,
            "reported_n": n,
            "restated_n": n,
            "is_restated": False,
            "late_responses": 3,
        }
        for figure, reported, restated, n in (("ces", None, None, 4), ("nps", 31.0, 28.5, 120))
    ]
    published = [{"figure": "ces", "value": None, "n": 4}, {"figure": "nps", "value": 31.0, "n": 120}]
    headline = summarise_week("2026-W47", satisfaction_rows(), restatements=restatements, published_previous=published)
    figures = {f["figure"]: f for f in headline["restatement"]["figures"]}
    assert figures["ces"]["is_published_value"] and not figures["ces"]["is_restated"]
    assert figures["nps"]["is_restated"] and figures["nps"]["reported_value"] == 31.0
    assert headline["restatement"]["late_responses"] == 3
