"""The metric recipe's parameters and the names of its frames: light (no pandas, no statistics libraries), so
that reading and rendering stored metrics need not import what computing them does (``analytics/bundle.py``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

METRIC_FRAMES = (
    "weekly_satisfaction",
    "key_drivers",
    "weekly_retention",
    "cohort_retention",
    "repurchase_by_nps_group",
    "repurchase_tests",
    "repurchase_survival",
    "repurchase_cohorts",
    "retain_list",
    "trending_terms",
    "persisting_terms",
    "terms_by_nps_group",
    "term_verbatims",
    "alerts",
    "weekly_kpi_tiles",
    "response_completeness",
    "restatements",
    "weekly_cases",
    "weekly_followup",
    "outreach_effect",
    "outreach_survival",
)
CASE_FRAMES = ("weekly_cases", "weekly_followup", "outreach_effect", "outreach_survival")
LISTING_COLUMNS = ["week", "customer_id", "reason", "value_at_risk", "region", "email_masked", "is_detractor"]
# The stored KPI tiles' columns, and the tiles in the report's order (here, not in analytics/kpis.py, so that
# `loyalty metrics --json` orders them without importing pandas).
KPI_COLUMNS = [
    "kpi",
    "label",
    "value",
    "previous",
    "change",
    "p_value",
    "q_value",
    "is_significant",
    "test",
    "n",
    "direction",
    "unit",
    "mde",
]
# (kpi, label, better direction, unit)
KPI_ORDER = (
    ("nps", "NPS", "higher", "points"),
    ("csat", "CSAT", "higher", "share"),
    ("ces", "CES", "higher", "score"),
    ("responses", "Responses", "higher", "count"),
    ("active_customers", "Active customers", "higher", "count"),
    ("repeat_rate", "Repeat rate", "higher", "share"),
    ("churn_rate", "Churn rate", "lower", "share"),
)


@dataclass(frozen=True)
class MetricParameters:
    churn_days: int = 90
    nrr_weeks: int = 13  # net revenue retention's period, in weeks
    # RFM scores, the value at risk and a customer's purchase rhythm look back this many days (the RETAIN list).
    value_window_days: int = 365
    baseline_weeks: int = 8
    baseline_gap_weeks: int = 2
    persisting_lookback_weeks: int = 13
    min_term_count: int = 5
    driver_window_weeks: int = 4
    driver_bootstrap_samples: int = 200
    group_window_weeks: int = 4
    repurchase_window_days: int = 90
    survival_response_weeks: int = 13
    repurchase_cohort_weeks: int = 13
    completeness_reference_weeks: int = 8
    retain_top_n: int = 50
    highlighted_terms: int = 8
    trend_weeks: int = 0
    # RETAIN, closed (analytics/cases.py, analytics/outreach_effect.py).
    business_tz: str = "Europe/London"
    retain_case_expiry_weeks: int = 8
    retain_sla_business_days: int = 2
    retain_control_share: float = 0.1
    min_cases_per_arm: int = 20

    @property
    def history_weeks(self) -> int:
        """Weeks of responses before the first computed week that some frame reads."""
        cohort_reach = math.ceil(self.repurchase_window_days / 7) + self.repurchase_cohort_weeks
        return 1 + max(
            self.baseline_weeks + self.baseline_gap_weeks + self.persisting_lookback_weeks,
            self.survival_response_weeks,
            cohort_reach,
            self.completeness_reference_weeks + 2,
            self.driver_window_weeks,
            self.group_window_weeks,
            self.trend_weeks,
        )

    @property
    def case_horizon_days(self) -> int:
        """How long after a listing's opening a purchase can still matter to the cases: one closes a case until
        it expires (``retain_case_expiry_weeks``), and the outreach effect follows a customer's first case for
        ``repurchase_window_days``. Later purchases change no case figure (analytics/bundle.py reads no more).
        A day more than the expiry's weeks: they are local weeks, an hour longer across a clock change."""
        return max(7 * self.retain_case_expiry_weeks + 1, self.repurchase_window_days)
