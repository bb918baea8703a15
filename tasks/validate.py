"""Validate: split a delivery into valid typed rows and quarantined rows, with Great Expectations."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from loyalty.contract import get_entity
from loyalty.delivery import CheckedDelivery, Delivery
from loyalty.settings import Settings
from loyalty.validation import settings_window, validate_frame

REJECTED_COLUMNS = ["source", "source_row", "source_key", "reason", "reasons", "detail", "raw_record"]


def check_delivery(delivery: Delivery, settings: Settings) -> CheckedDelivery:
    entity = get_entity(delivery.entity)
    rows = delivery.rows
    if len(rows):
        result = validate_frame(rows, entity, settings.source_zone, settings_window(settings, delivery.delivery_day))
        valid, rejected = result.valid, result.rejected
    else:
        valid = pd.DataFrame(columns=[*entity.column_names, "record_hash", "_source", "_source_row"])
        rejected = pd.DataFrame(columns=REJECTED_COLUMNS)
    if delivery.malformed:
        malformed = pd.DataFrame(delivery.malformed)
        malformed["source_key"] = None
        malformed["reasons"] = malformed["reason"]
        rejected = pd.concat([rejected, malformed[REJECTED_COLUMNS]], ignore_index=True)
    return CheckedDelivery(delivery=delivery, valid=valid, rejected=rejected)


@task(name="validate-entity", task_run_name="validate-{delivery.entity}", cache_policy=NO_CACHE)
def validate_entity(delivery: Delivery, settings: Settings) -> CheckedDelivery:
    """Run the entity's contract suite; every input row ends up valid or rejected with reasons."""
    return check_delivery(delivery, settings)
