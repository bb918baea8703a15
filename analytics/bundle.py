"""All the weekly metric frames for a set of ISO weeks, from the three warehouse frames.

This is the single recipe both the nightly metrics step (which stores the frames) and the report (which
may compute a regional edition on the fly) follow, so the two can never disagree. Every frame returned
has a ``week`` column and holds rows of the requested weeks only, except ``weekly_satisfaction`` and
``weekly_retention``, which also hold ``trend_weeks`` earlier weeks for charts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from analytics._frames import one_batch
from analytics.cases import build_case_ledger, compute_weekly_cases, compute_weekly_followup, list_issued_at
from analytics.completeness import compute_response_completeness, restatements_of_weeks
from analytics.drivers import compute_key_drivers
from analytics.history import PurchaseHistory, history_from_frames, window_start
from analytics.keywords import (
    compare_terms_by_nps_group,
    count_weekly_terms,
    describe_terms,
    find_trending_terms,
    track_persisting_terms,
)
from analytics.kpis import compute_kpi_tiles
from analytics.metric_alerts import build_alerts
from analytics.outreach_effect import effect_sample, estimate_outreach_effect
from analytics.parameters import (  # defined there, light; the names stay importable from here
    LISTING_COLUMNS,
    METRIC_FRAMES,
    MetricParameters,
)
from analytics.repurchase import compute_repurchase_cohorts, compute_time_to_repurchase
from analytics.retain_list import build_retain_list
from analytics.retention import compute_cohort_retention, compute_weekly_retention
from analytics.satisfaction import compute_weekly_satisfaction
from analytics.weeks import day_numbers_of, parse_iso_week, previous_iso_weeks, shift_iso_week


def convert_currency(transactions: pd.DataFrame, rates: dict[str, float], to: str) -> pd.DataFrame:
    """Amounts in one reporting currency; rows in a currency without a rate are dropped.

    ``rates`` maps a currency code to the value of one unit in ``to``. The caller reports how many rows were
    dropped (the frame's ``attrs['dropped_currencies']``).
    """
    rates = {**rates, to: 1.0}
    # Per distinct currency, not per row: mapping 4M text values made as many Python strings (150 MB at the
    # weekly metrics' peak on the bench's year warehouse).
    codes, currencies = pd.factorize(transactions["currency"])
    per_currency = np.array([rates.get(c, np.nan) for c in currencies] + [np.nan], dtype=np.float64)
    factor = pd.Series(per_currency[codes], index=transactions.index)  # code -1 (missing): the NaN at the end
    rated = factor.notna()
    # A frame of its own either way (copy-on-write): the rows are copied only when some must go.
    everything_rated = bool(rated.all())
    kept = transactions.copy(deep=False) if everything_rated else transactions.loc[rated]
    kept["amount"] = kept["amount"].astype(float) * (factor if everything_rated else factor[rated])
    kept["currency"] = to
    dropped = transactions.loc[~rated, "currency"].value_counts().to_dict()
    kept.attrs["dropped_currencies"] = {str(k): int(v) for k, v in dropped.items()}
    return kept


def _with_week(frame: pd.DataFrame, week: str) -> pd.DataFrame:
    if "week" in frame.columns:
        return frame
    return frame.assign(week=week)[["week", *frame.columns]]


@one_batch()  # what every week derives from the same input frames is derived once per call
def compute_metric_frames(
    responses: pd.DataFrame,
    transactions: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    weeks: list[str],
    params: MetricParameters | None = None,
    outreach: pd.DataFrame | None = None,
    earlier_retain_lists: pd.DataFrame | None = None,
    history: PurchaseHistory | None = None,
    purchases_of: Callable[[pd.DataFrame, pd.Timedelta], pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """The metric frames of ``weeks`` (see METRIC_FRAMES), in one reporting currency.

    ``responses`` must carry ``segment`` (the customer's, or None); ``transactions`` a single currency.
    Each week is computed as of its Sunday, so recomputing an unchanged week gives identical rows.

    Cases (CASE_FRAMES) need every earlier week's RETAIN list, because whether a listing opens a case depends
    on the customer's earlier cases: ``earlier_retain_lists`` holds the stored lists of the weeks before
    (rows of ``weeks`` in it are ignored; this call's own lists are used), ``outreach`` every contact attempt.
    Without ``outreach`` the case frames are empty (a regional edition reads the stored, company-wide cases).

    Transactions: either every one up to the last week (``history`` None), or, with ``history``
    (analytics.history), those from ``history.start`` (at most :func:`analytics.history.window_start`) and
    ``purchases_of(openings, horizon)``: ``openings`` has one row per listing (customer_id, opened_at: when its
    list was issued, UTC), and the frame returned must hold, at least, every transaction of that customer with
    occurred_at in (opened_at, opened_at + horizon] (``MetricParameters.case_horizon_days``), up to the last
    week's Sunday; it may hold more of the listed customers' rows. A case only looks at the first purchase after
    a listing's opening within that horizon: the one that closes it before it expires, or that ends the
    outreach effect's follow-up of a customer's first case. Both give the same frames: all history is cut into the same
    window and history here.
    """
    params = params or MetricParameters()
    weeks = sorted(set(weeks))
    if not weeks:
        return {name: pd.DataFrame() for name in METRIC_FRAMES}
    if history is None:
        history = history_from_frames(transactions, customers, window_start(weeks, params))
        everything = transactions
        purchases_of = lambda openings, _: everything.loc[  # noqa: E731  # all of theirs: more than enough
            everything["customer_id"].astype("str").isin(set(openings["customer_id"]))
        ]
        in_window = day_numbers_of(transactions["business_day"]) >= history.start_day  # missing days: before
        if not in_window.all():  # a year's history is all in the window: the same frame, not a copy of it
            transactions = transactions.loc[in_window].reset_index(drop=True)
    elif purchases_of is None:
        raise ValueError("with a history, purchases_of must give the listed customers' transactions")
    keep = set(weeks) | {w for week in weeks for w in previous_iso_weeks(week, params.trend_weeks)}
    last_sunday = parse_iso_week(weeks[-1])[1]

    satisfaction = compute_weekly_satisfaction(responses)
    retention = compute_weekly_retention(
        transactions, as_of=last_sunday, churn_days=params.churn_days, nrr_weeks=params.nrr_weeks, history=history
    )
    weekly_terms = count_weekly_terms(responses)
    drivers = compute_key_drivers(
        responses,
        window_weeks=params.driver_window_weeks,
        weeks=weeks,
        bootstrap_samples=params.driver_bootstrap_samples,
    )
    has_delivery_days = "delivery_day" in responses.columns
    term_options = {
        "baseline_weeks": params.baseline_weeks,
        "gap_weeks": params.baseline_gap_weeks,
        "min_count": params.min_term_count,
    }
    trending_by_week: dict[str, pd.DataFrame] = {}  # shared by the weeks' persisting-term walks
    retain_by_week: dict[str, pd.DataFrame] = {}

    out: dict[str, list[pd.DataFrame]] = {name: [] for name in METRIC_FRAMES}
    for week in weeks:
        sunday = parse_iso_week(week)[1]
        trending = find_trending_terms(weekly_terms, week=week, **term_options)
        trending_by_week[week] = trending
        persisting = track_persisting_terms(
            weekly_terms,
            week=week,
            lookback_weeks=params.persisting_lookback_weeks,
            trending_by_week=trending_by_week,
            **term_options,
        )
        group_weeks = [*previous_iso_weeks(week, params.group_window_weeks - 1), week]
        groups = compare_terms_by_nps_group(responses, weeks=group_weeks, min_count=params.min_term_count)
        highlighted = _highlighted_terms(trending, persisting, groups, params.highlighted_terms)
        details = describe_terms(responses, highlighted, weeks=group_weeks)
        survival = compute_time_to_repurchase(
            responses,
            transactions,
            week=week,
            response_weeks=params.survival_response_weeks,
            window_days=params.repurchase_window_days,
            business_tz=params.business_tz,
        )
        cohorts = compute_repurchase_cohorts(
            responses,
            transactions,
            week=week,
            cohort_weeks=params.repurchase_cohort_weeks,
            window_days=params.repurchase_window_days,
        )
        last_week = shift_iso_week(week, -1)
        # Last week's top N (is_on_previous_list): its list from this batch when it is in it (a list's
        # order does not depend on the list before it), else built as of its Sunday.
        previous = retain_by_week.get(last_week)
        if previous is None:
            previous = build_retain_list(
                responses,
                transactions,
                customers,
                week=last_week,
                as_of=parse_iso_week(last_week)[1],
                value_window_days=params.value_window_days,
                history=history,
            )
        previous_ids = set(previous.loc[previous["rank"] <= params.retain_top_n, "customer_id"])
        retain = build_retain_list(
            responses,
            transactions,
            customers,
            week=week,
            as_of=sunday,
            previous_list=previous_ids,
            value_window_days=params.value_window_days,
            history=history,
        )
        cohort_retention = compute_cohort_retention(transactions, as_of=sunday, customers=customers, history=history)
        out["cohort_retention"].append(_with_week(cohort_retention, week))
        for name in ("repurchase_by_nps_group", "repurchase_tests", "repurchase_survival"):
            out[name].append(_with_week(survival[name], week))
        out["repurchase_cohorts"].append(_with_week(cohorts, week))
        retain_by_week = {week: retain}  # only last week's list is read: earlier ones would pile up per week
        out["retain_list"].append(retain.loc[retain["rank"] <= params.retain_top_n])
        out["trending_terms"].append(trending)
        out["persisting_terms"].append(persisting)
        out["terms_by_nps_group"].append(_with_week(groups, week))
        out["term_verbatims"].append(_with_week(details, week))
        # A week's metric alerts read its cells and last week's ("two weeks running"), not every week's.
        recent = satisfaction.loc[satisfaction["week"].isin([last_week, week])]
        out["alerts"].append(build_alerts(recent, trending, persisting_terms=persisting, weeks=[week]))
        out["weekly_kpi_tiles"].append(_with_week(compute_kpi_tiles(week, satisfaction, retention), week))
        if has_delivery_days:
            completeness = compute_response_completeness(
                responses, week=week, reference_weeks=params.completeness_reference_weeks
            )
            out["response_completeness"].append(_with_week(completeness, week))

    if has_delivery_days:
        out["restatements"].append(restatements_of_weeks(responses, weeks))
    if outreach is not None:
        out.update(_case_frames(out["retain_list"], earlier_retain_lists, outreach, purchases_of, weeks, params))
    frames = {name: _concat(parts) for name, parts in out.items() if name not in {"weekly_satisfaction"}}
    frames["weekly_satisfaction"] = satisfaction.loc[satisfaction["week"].isin(keep)].reset_index(drop=True)
    frames["weekly_retention"] = retention.loc[retention["week"].isin(keep)].reset_index(drop=True)
    frames["key_drivers"] = drivers.loc[drivers["week"].isin(weeks)].reset_index(drop=True)
    return {name: frames[name] for name in METRIC_FRAMES}


def _case_frames(
    retain_lists: list[pd.DataFrame],
    earlier: pd.DataFrame | None,
    outreach: pd.DataFrame,
    purchases_of: Callable[[pd.DataFrame, pd.Timedelta], pd.DataFrame],
    weeks: list[str],
    params: MetricParameters,
) -> dict[str, list[pd.DataFrame]]:
    current = [part[LISTING_COLUMNS] for part in retain_lists if len(part)]
    if earlier is not None and len(earlier):
        earlier = earlier.loc[(earlier["week"] < weeks[-1]) & ~earlier["week"].isin(weeks), LISTING_COLUMNS]
        current = [earlier, *current]
    listings = pd.concat(current, ignore_index=True) if current else pd.DataFrame(columns=LISTING_COLUMNS)
    tz = params.business_tz
    issued = {week: list_issued_at(week, tz) for week in listings["week"].unique()}
    openings = pd.DataFrame(
        {
            "customer_id": listings["customer_id"].astype("str").to_numpy(),
            "opened_at": pd.to_datetime(listings["week"].map(issued), utc=True).to_numpy(),
        }
    )
    transactions = purchases_of(openings, pd.Timedelta(days=params.case_horizon_days))
    ledger = build_case_ledger(
        listings,
        outreach,
        transactions,
        business_tz=tz,
        expiry_weeks=params.retain_case_expiry_weeks,
        sla_business_days=params.retain_sla_business_days,
        control_share=params.retain_control_share,
    )
    weekly = compute_weekly_cases(ledger, outreach, weeks=weeks, business_tz=tz)
    out: dict[str, list[pd.DataFrame]] = {
        "weekly_cases": [weekly],
        "weekly_followup": [compute_weekly_followup(weekly, ledger, business_tz=tz)],
        "outreach_effect": [],
        "outreach_survival": [],
    }
    randomised = params.retain_control_share > 0
    for week in weeks:
        sample = effect_sample(
            ledger,
            transactions,
            as_of=list_issued_at(week, tz),
            window_days=params.repurchase_window_days,
            is_randomised=randomised,
        )
        effect, survival = estimate_outreach_effect(
            sample,
            week=week,
            window_days=params.repurchase_window_days,
            is_randomised=randomised,
            min_cases_per_arm=params.min_cases_per_arm,
        )
        out["outreach_effect"].append(effect)
        out["outreach_survival"].append(survival)
    return out


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p.columns)]
    if not parts:
        return pd.DataFrame()
    non_empty = [p for p in parts if len(p)]
    return pd.concat(non_empty or parts[:1], ignore_index=True)


def _highlighted_terms(trending: pd.DataFrame, persisting: pd.DataFrame, groups: pd.DataFrame, limit: int) -> list[str]:
    """Significant rising terms first (by ratio), then persisting, then falling, then detractor terms: the
    ones a reader sees."""
    chosen: list[str] = []
    if len(trending):
        significant = trending.loc[trending["is_significant"].astype(bool)]
        part = significant.loc[significant["direction"] == "rising"]
        chosen += part.sort_values(["ratio", "term"], ascending=[False, True])["term"].tolist()
    if len(persisting):
        chosen += persisting.sort_values(["ratio", "term"], ascending=[False, True])["term"].tolist()
    if len(trending):
        part = significant.loc[significant["direction"] == "falling"]
        chosen += part.sort_values(["ratio", "term"], ascending=[True, True])["term"].tolist()
    if len(groups):
        detractor = groups.loc[
            groups["is_significant"].astype(bool) & groups["over_represented_in"].isin(["detractor", "detractors"])
        ]
        chosen += detractor.sort_values(["ratio", "term"], ascending=[False, True])["term"].tolist()
    unique = list(dict.fromkeys(chosen))
    return unique[:limit]
