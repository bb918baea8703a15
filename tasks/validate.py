"""Validate: split deliveries into valid typed rows and quarantined rows, with Great Expectations.

A chunk of delivery days of one entity is validated in one call: the rows of every day are coerced together,
column by column, and the entity's suite runs once over all of them. Every rule is about one row, except ids
repeating inside one delivery, which are looked for per delivery day; so each row gets exactly the reasons a
validation of its day alone would give it.
"""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from loyalty.contract import get_entity
from loyalty.delivery import CheckedDelivery, Delivery
from loyalty.settings import Settings
from loyalty.validation import settings_window, validate_frame

REJECTED_COLUMNS = ["source", "source_row", "source_key", "reason", "reasons", "detail", "raw_record"]
_DAY = "_delivery_day"


def _with_malformed(delivery: Delivery, valid: pd.DataFrame, rejected: pd.DataFrame) -> CheckedDelivery:
    if delivery.malformed:
        malformed = pd.DataFrame(delivery.malformed)
        malformed["source_key"] = None
        malformed["reasons"] = malformed["reason"]
        rejected = pd.concat([rejected, malformed[REJECTED_COLUMNS]], ignore_index=True)
    return CheckedDelivery(delivery=delivery, valid=valid, rejected=rejected)


def check_deliveries(deliveries: list[Delivery], settings: Settings) -> list[CheckedDelivery]:
    """Validate deliveries of one entity (one per delivery day) in one suite run; one result per delivery."""
    if not deliveries:
        return []
    entity = get_entity(deliveries[0].entity)
    if any(d.entity != entity.name for d in deliveries):
        raise ValueError("check_deliveries takes deliveries of one entity")
    frames = [d.rows.assign(**{_DAY: i}) for i, d in enumerate(deliveries) if len(d.rows)]
    empty_valid = pd.DataFrame(columns=[*entity.column_names, "record_hash", "_source", "_source_row"])
    empty_rejected = pd.DataFrame(columns=REJECTED_COLUMNS)
    if not frames:
        return [_with_malformed(d, empty_valid, empty_rejected) for d in deliveries]
    # One suite run over the chunk's rows. The accepted timestamp window ends with each row's own delivery day
    # (LOYALTY_MAX_FUTURE_HOURS after it), so its end is given per row.
    rows = pd.concat(frames, ignore_index=True)
    ends = {i: settings_window(settings, d.delivery_day)[1] for i, d in enumerate(deliveries)}
    start = settings_window(settings, deliveries[0].delivery_day)[0]
    window_end = pd.Series(pd.to_datetime(rows[_DAY].map(ends), utc=True), index=rows.index)
    result = validate_frame(rows, entity, settings.source_zone, (start, window_end), partition=_DAY)
    valid_by_day = dict(tuple(result.valid.groupby(_DAY, sort=False)))
    rejected_by_day = dict(tuple(result.rejected.groupby(_DAY, sort=False)))
    out = []
    for i, delivery in enumerate(deliveries):
        if not len(delivery.rows):
            out.append(_with_malformed(delivery, empty_valid, empty_rejected))
            continue
        valid = valid_by_day.get(i, empty_valid).drop(columns=[_DAY], errors="ignore").reset_index(drop=True)
        rejected = rejected_by_day.get(i, empty_rejected).drop(columns=[_DAY], errors="ignore").reset_index(drop=True)
        out.append(_with_malformed(delivery, valid, rejected))
    return out


def check_delivery(delivery: Delivery, settings: Settings) -> CheckedDelivery:
    """One delivery (one entity, one day)."""
    return check_deliveries([delivery], settings)[0]


def _task_name() -> str:
    from prefect import runtime

    from tasks.extract import days_label

    parameters = runtime.task_run.parameters
    # The entity and days are given as parameters: on Dask the deliveries arrive as an upstream future's state.
    if parameters.get("entity") and parameters.get("days"):
        return f"validate-{parameters['entity']}-{days_label(parameters['days'])}"
    return "validate"


@task(name="validate", task_run_name=_task_name, cache_policy=NO_CACHE)
def validate_days(
    deliveries: list[Delivery], settings: Settings, entity: str = "", days: list | None = None
) -> list[CheckedDelivery]:
    """Run the entity's contract suite once over a chunk's deliveries; every row ends valid or rejected."""
    return check_deliveries(deliveries, settings)
