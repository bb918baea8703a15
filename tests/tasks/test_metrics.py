"""Metrics through the warehouse on each engine: computed from loaded rows, stored per week, and
recomputing an unchanged week leaves identical rows."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from loyalty.db import get_engine
from tasks.metrics import recompute_metrics, weeks_to_recompute
from tests.helpers import run_day, table_snapshot, write_csv

RESPONSE_HEADER = ["response_id", "customer_id", "submitted_at", "channel", "nps", "csat", "comment"]


def _week_of_responses(landing, day: date, scores: list[tuple[int, int]], prefix: str) -> None:
    rows = [
        [f"{prefix}{i}", f"C{i}", f"{day.isoformat()}T10:00:00Z", "online", str(nps), str(csat), ""]
        for i, (nps, csat) in enumerate(scores)
    ]
    write_csv(landing / "survey_responses" / f"{day.isoformat()}_cards.csv", RESPONSE_HEADER, rows)


def test_stored_week_metrics_match_a_hand_count_and_recompute_identically(settings, landing):
    monday = date(2026, 11, 16)  # ISO week 2026-W47
    # 10 answers: NPS 10,9,9 promoters (3); 8,7 passives (2); 6,5,3,0,6 detractors (5) -> NPS = (3-5)/10 = -20.
    # CSAT 5,4,4,3,2,1,5,4,3,2 -> satisfied (4-5) = 5 of 10 = 50%.
    scores = [(10, 5), (9, 4), (9, 4), (8, 3), (7, 2), (6, 1), (5, 5), (3, 4), (0, 3), (6, 2)]
    _week_of_responses(landing, monday, scores, "R")
    write_csv(
        landing / "transactions" / f"{monday.isoformat()}_pos.csv",
        ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel"],
        [
            ["T1", "C1", f"{monday.isoformat()}T09:00:00Z", "20", "GBP", "online"],
            ["T2", "C2", f"{monday.isoformat()}T09:00:00Z", "10", "EUR", "online"],
        ],
    )
    summaries = run_day(settings, monday)
    touched = sorted({d for s in summaries.values() for d in s.business_days})
    weeks = weeks_to_recompute(get_engine(settings.warehouse_url), touched)
    assert weeks == ["2026-W47"]
    written = recompute_metrics.fn(settings, weeks)
    assert written["weekly_satisfaction"] >= 1 and written["weekly_retention"] == 1

    with get_engine(settings.warehouse_url).connect() as conn:
        overall = conn.execute(
            sa.text(
                "select responses, promoters, passives, detractors, nps, csat from weekly_satisfaction "
                "where week = '2026-W47' and dimension = 'overall'"
            )
        ).one()
        retention = conn.execute(sa.text("select active_customers, revenue from weekly_retention")).one()
    assert (overall.responses, overall.promoters, overall.passives, overall.detractors) == (10, 3, 2, 5)
    assert overall.nps == -20.0 and overall.csat == 0.5
    # Revenue is in the reporting currency: 20 GBP + 10 EUR x 0.86 = 28.60 GBP.
    assert (retention.active_customers, round(retention.revenue, 2)) == (2, 28.6)

    tables = ["weekly_satisfaction", "weekly_retention", "trending_terms", "alerts", "cohort_retention"]
    before = {t: table_snapshot(settings.warehouse_url, t) for t in tables}
    recompute_metrics.fn(settings, weeks)
    for t in tables:
        pd.testing.assert_frame_equal(before[t], table_snapshot(settings.warehouse_url, t), obj=t)


def test_a_late_row_recomputes_its_own_week_and_the_weeks_after(settings, landing):
    first = date(2026, 11, 9)  # 2026-W46
    _week_of_responses(landing, first, [(9, 5)] * 6, "A")
    run_day(settings, first)
    later = first + timedelta(days=8)  # 2026-W47, delivering one row dated in W46
    _week_of_responses(landing, later, [(9, 5)] * 6, "B")
    write_csv(
        landing / "survey_responses" / f"{later.isoformat()}_late.csv",
        RESPONSE_HEADER,
        [["L1", "C9", f"{first.isoformat()}T12:00:00Z", "phone", "0", "1", ""]],
    )
    summaries = run_day(settings, later)
    touched = sorted({d for s in summaries.values() for d in s.business_days})
    assert touched == [first, later]
    weeks = weeks_to_recompute(get_engine(settings.warehouse_url), touched)
    assert weeks == ["2026-W46", "2026-W47"]
    recompute_metrics.fn(settings, weeks)
    with get_engine(settings.warehouse_url).connect() as conn:
        rows = dict(
            conn.execute(sa.text("select week, responses from weekly_satisfaction where dimension = 'overall'")).all()
        )
    assert rows == {"2026-W46": 7, "2026-W47": 6}


def test_odd_dates_never_reopen_an_unbounded_range_of_weeks(settings, landing):
    day = date(2026, 11, 20)  # 2026-W47
    write_csv(
        landing / "transactions" / f"{day.isoformat()}_pos.csv",
        ["transaction_id", "customer_id", "occurred_at", "amount", "currency", "channel"],
        [
            ["T1", "C1", f"{day.isoformat()}T09:00:00Z", "20", "GBP", "online"],
            ["T2", "C2", "2036-01-01T09:00:00Z", "20", "GBP", "online"],  # ten years ahead
            ["T3", "C3", "1900-01-01T09:00:00Z", "20", "GBP", "online"],  # 126 years back
        ],
    )
    summary = run_day(settings, day, entities=["transactions"])["transactions"]
    # Whatever the intake does with them (loaded here; quarantined once the plausible-window rule is in place),
    # the recompute's range is bounded by itself.
    touched = sorted({*summary.business_days, date(1900, 1, 1), date(2036, 1, 1), day})
    engine = get_engine(settings.warehouse_url)

    # A nightly run of the 20th: nothing past 2026-11-21 (Saturday of W47), so W47 is the last week; the 1900
    # row would reach back about 6,600 weeks, so the cap keeps the last 156: Monday 2026-11-16 - 155 weeks
    # = Monday 2023-11-27, which is 2023-W48.
    weeks = weeks_to_recompute(engine, touched, through=day, max_weeks=156)
    assert (len(weeks), weeks[0], weeks[-1]) == (156, "2023-W48", "2026-W47")

    # Only the far-future row touched: no week opens at all beyond the delivery day.
    assert weeks_to_recompute(engine, [date(2036, 1, 1)], through=day) == []
    # A plain late row two weeks back: its week and the ones after, up to the delivery day's week.
    assert weeks_to_recompute(engine, [date(2026, 11, 4)], through=day) == ["2026-W45", "2026-W46", "2026-W47"]


def test_metric_rows_are_plain_python_values_with_none_for_missing():
    import numpy as np

    from tasks.metrics import metric_rows

    frame = pd.DataFrame(
        {
            "week": ["2026-W47", "2026-W47", "2026-W46"],
            "rank": np.array([1, 2, 3], dtype=np.int64),
            "customer_id": pd.Series(["C1", None, "C3"], dtype="str"),
            "value_at_risk": [12.5, np.nan, 1.0],
            "is_detractor": [True, False, True],
            "nps": pd.array([6, None, 3], dtype="Int64"),
        }
    )
    from loyalty.schema import METRIC_TABLES

    for column in METRIC_TABLES["retain_list"].columns:  # the table's other columns, all missing
        if column.name not in frame:
            frame[column.name] = pd.Series([None] * len(frame), dtype="object")
    rows = metric_rows({"retain_list": frame}, ["2026-W47"])["retain_list"]
    picked = [{k: row[k] for k in ("rank", "customer_id", "value_at_risk", "is_detractor", "nps")} for row in rows]
    # The week filter keeps the two W47 rows; every value a plain Python one, missing as None.
    assert picked == [
        {"rank": 1, "customer_id": "C1", "value_at_risk": 12.5, "is_detractor": True, "nps": 6},
        {"rank": 2, "customer_id": None, "value_at_risk": None, "is_detractor": False, "nps": None},
    ]
    for row in rows:
        assert all(type(v) in (int, float, bool, str, type(None)) for v in row.values()), row
    assert type(rows[0]["nps"]) is int and type(rows[0]["rank"]) is int and type(rows[0]["is_detractor"]) is bool
