"""The patterns planted in the demo for the analytics to find, and :func:`describe_planted`, which measures them."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd

from demo.comments import SPECIAL_MARKERS

THEME_NAME = "app crashes at checkout"
#: Every theme comment contains "checkout" and "crash"; most contain "app crashed". No other comment does.
THEME_TERMS = ("app crashed", "checkout", "crash")
THEME_BASE_SHARE = 0.01
#: Share of commented responses carrying the theme in the third-last, second-last and last ISO week.
THEME_WEEK_SHARES = (0.11, 0.17, 0.23)
DETRACTOR_RATE_MULTIPLIER = 0.3
DETRACTOR_CHURN_PROBABILITY = 0.25
#: Weights of the (correlated, latent) service-quality dimensions in a response's overall experience.
DRIVER_WEIGHTS = {
    "reliability": 0.42,
    "responsiveness": 0.34,
    "assurance": 0.16,
    "empathy": 0.10,
    "tangibles": 0.06,
}
REFUND_SHARE = 0.03
INVALID_SHARE = 0.003
WEB_DELIVERY_EVERY = 7


def theme_weeks(start: date, end: date) -> list[str]:
    """The last three ISO weeks (``YYYY-Www``) that meet ``[start, end]``: when the complaint theme grows."""
    weeks: list[str] = []
    for d in range((end - start).days + 1):
        iso = (start + timedelta(days=d)).isocalendar()
        label = f"{iso.year}-W{iso.week:02d}"
        if not weeks or weeks[-1] != label:
            weeks.append(label)
    return weeks[-len(THEME_WEEK_SHARES) :]


def describe_planted(
    frames: dict[str, pd.DataFrame], start: date, end: date, *, source_tz: str = "Europe/London"
) -> dict[str, str]:
    """Notes on the planted patterns, with the values measured on ``frames`` (valid rows only)."""
    weeks = theme_weeks(start, end)
    responses = frames["survey_responses"]
    valid = responses[responses["invalid_kind"] == ""]
    comments = valid["comment"].fillna("").astype(str)
    commented = comments != ""
    is_theme = comments.str.contains("checkout", case=False) & comments.str.contains("crash", case=False)
    iso = _local_times(valid["submitted_at"], source_tz).dt.isocalendar()
    week = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    in_weeks = week.isin(weeks)
    before_n = int((commented & ~in_weeks).sum())
    during_n = int((commented & in_weeks).sum())
    before_t = int((is_theme & ~in_weeks).sum())
    during_t = int((is_theme & in_weeks).sum())
    nps = valid["nps"].astype("float64")
    theme_nps = nps[is_theme].mean() if is_theme.any() else math.nan
    other_nps = nps[commented & ~is_theme].mean() if (commented & ~is_theme).any() else math.nan

    tx = frames["transactions"]
    tx_valid = tx[tx["invalid_kind"] == ""]
    amounts = pd.to_numeric(tx_valid["amount"])
    customers = frames["customers"]
    late = {
        entity: int((_late_mask(frames[entity], column, source_tz) & (frames[entity]["delivery_day"] > start)).sum())
        for entity, column in (
            ("customers", "created_at"),
            ("transactions", "occurred_at"),
            ("survey_responses", "submitted_at"),
        )
    }
    pre_existing = int((customers["delivery_day"] == start).sum())
    specials = sorted(
        name for name, marker in SPECIAL_MARKERS.items() if comments.str.contains(marker, regex=False).any()
    )

    def pct(a: int, b: int) -> str:
        return f"{100 * a / b:.1f}%" if b else "n/a"

    return {
        "theme": THEME_NAME,
        "theme_terms": ", ".join(THEME_TERMS),
        "theme_weeks": ", ".join(weeks),
        "theme_share": (
            f"target {THEME_BASE_SHARE:.0%} of comments before {weeks[0]}, then "
            + " / ".join(f"{s:.0%}" for s in THEME_WEEK_SHARES)
            + f" in {', '.join(weeks)}; measured {pct(before_t, before_n)} ({before_t} of {before_n}) before, "
            f"{pct(during_t, during_n)} ({during_t} of {during_n}) in the theme weeks"
        ),
        "theme_nps": f"mean nps of theme responses {theme_nps:.2f} vs {other_nps:.2f} for other commented ones",
        "detractor_effect": (
            f"after a response with nps 0-6 (whatever its channel) the customer's purchase rate is multiplied by "
            f"{DETRACTOR_RATE_MULTIPLIER} and {DETRACTOR_CHURN_PROBABILITY:.0%} of them stop buying; passives and "
            "promoters keep their rhythm (baseline churn about 1-3% per purchase)"
        ),
        "key_drivers": (
            "overall experience = "
            + " + ".join(f"{w:.2f}*{d}" for d, w in DRIVER_WEIGHTS.items())
            + " (latent dimensions correlated about 0.56); nps, csat and ces are cut from it"
        ),
        "refunds": (
            f"{int((amounts < 0).sum())} refunds of {int((amounts > 0).sum())} purchases: full refunds 1-21 days "
            "later, same customer, channel and currency, amount the negated purchase amount"
        ),
        "currencies": ", ".join(
            f"{c} {n}" for c, n in sorted(tx_valid["currency"].value_counts().items(), key=lambda kv: str(kv[0]))
        ),
        "late_rows": ", ".join(f"{e} {n}" for e, n in late.items())
        + " (rows dated before the day of the file holding them, first day's files aside)",
        "pre_existing_customers": f"{pre_existing} customers delivered in {start.isoformat()}_crm.csv "
        "(the CRM's first delivery holds everyone created before the range)",
        "web_parquet_days": f"every {WEB_DELIVERY_EVERY}th day of the range: online sales delivered as "
        "<day>_web.parquet instead of in that day's pos export",
        "special_comments": ", ".join(specials),
    }


def _local_times(values: pd.Series, source_tz: str) -> pd.Series:
    """Parse contract timestamps as naive wall-clock times in ``source_tz`` (NaT where unparseable).

    A value with an offset or ``Z`` is exact and is converted; a naive one is already wall-clock time.
    """
    text = values.astype("string")
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(False).to_numpy(bool)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], format="ISO8601", errors="coerce", utc=True)
        out[has_offset] = aware.dt.tz_convert(source_tz).dt.tz_localize(None).dt.as_unit("ns")
    if (~has_offset).any():
        out[~has_offset] = pd.to_datetime(text[~has_offset], format="ISO8601", errors="coerce").dt.as_unit("ns")
    return out


def _late_mask(df: pd.DataFrame, column: str, source_tz: str) -> pd.Series:
    """Rows whose own (local) day is before the day of the file that delivers them."""
    own = _local_times(df[column], source_tz).dt.normalize()
    delivered = pd.to_datetime(pd.Series(df["delivery_day"].to_numpy(), index=df.index)).dt.as_unit("ns")
    return own.notna() & (own < delivered)
