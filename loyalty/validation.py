"""Row-level validation: Great Expectations suites built in code from the contract, plus the rules a
single frame cannot express with GX (duplicate ids inside one delivery).

Every row leaves here either valid or with the list of reason codes it failed. A reason code names the
failed expectation: ``missing_required:customer_id`` comes from ``expect_column_values_to_not_be_null``
on ``customer_id``, ``out_of_range:nps`` from ``expect_column_values_to_be_between`` on ``nps``, and so on.
GX Data Docs are never built: they write failing values into HTML unescaped, and comments are hostile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from loyalty.coerce import Window, coerce_frame, record_hashes
from loyalty.contract import Entity
from loyalty.textsafe import storable_text

# GX logs a temporary Data Docs folder at INFO for every context; we never build Data Docs.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

HAS_ANSWER = "has_any_answer"


@dataclass(frozen=True)
class Rule:
    reason: str
    expectation: str
    column: str
    kwargs: dict[str, Any]
    detail: str


def rules_for(entity: Entity) -> list[Rule]:
    """The entity's suite as plain data, in the order reasons are reported."""
    rules: list[Rule] = []
    for c in entity.columns:
        if c.required:
            rules.append(
                Rule(
                    f"missing_required:{c.name}",
                    "ExpectColumnValuesToNotBeNull",
                    c.name,
                    {},
                    f"{c.name} is required",
                )
            )
        if c.allowed:
            rules.append(
                Rule(
                    f"unknown_value:{c.name}",
                    "ExpectColumnValuesToBeInSet",
                    c.name,
                    {"value_set": list(c.allowed)},
                    f"{c.name} must be one of {', '.join(c.allowed)}",
                )
            )
        if c.min_value is not None:
            rules.append(
                Rule(
                    f"out_of_range:{c.name}",
                    "ExpectColumnValuesToBeBetween",
                    c.name,
                    {"min_value": c.min_value, "max_value": c.max_value},
                    f"{c.name} must be between {c.min_value} and {c.max_value}",
                )
            )
        if c.pattern:
            rules.append(
                Rule(
                    f"bad_format:{c.name}",
                    "ExpectColumnValuesToMatchRegex",
                    c.name,
                    {"regex": c.pattern},
                    f"{c.name} must be three capital letters (ISO 4217)",
                )
            )
    if entity.at_least_one_of:
        rules.append(
            Rule(
                "no_answer",
                "ExpectColumnValuesToBeInSet",
                HAS_ANSWER,
                {"value_set": [True]},
                f"a response needs at least one of {', '.join(entity.at_least_one_of)}",
            )
        )
    return rules


@lru_cache(maxsize=8)
def _suite_runner(entity_name: str) -> tuple[Any, Any]:
    """An ephemeral GX context with one pandas asset and the entity's suite (built once per process)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from loyalty.contract import get_entity

    # Importing GX (or Prefect's logging setup) can reset its loggers: quiet them again here.
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)

    entity = get_entity(entity_name)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas(f"{entity_name}_source").add_dataframe_asset(entity_name)
    batch_definition = asset.add_batch_definition_whole_dataframe("delivery")
    suite = gx.ExpectationSuite(name=f"{entity_name}_contract_v1")
    for rule in rules_for(entity):
        expectation_class = getattr(gxe, rule.expectation)
        suite.add_expectation(expectation_class(column=rule.column, meta={"reason": rule.reason}, **rule.kwargs))
    suite = context.suites.add(suite)
    return batch_definition, suite


def run_suite(frame: pd.DataFrame, entity: Entity) -> dict[str, np.ndarray]:
    """Failed-row masks per reason code, from the entity's GX suite run over ``frame``."""
    batch_definition, suite = _suite_runner(entity.name)
    # GX reports failing rows by index label; a clean positional index maps them straight back.
    checked = frame.reset_index(drop=True)
    for column in checked.columns:
        if str(checked[column].dtype) == "Int64":
            checked[column] = checked[column].astype("float64")
    batch = batch_definition.get_batch(batch_parameters={"dataframe": checked})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    masks: dict[str, np.ndarray] = {}
    for outcome in result.results:
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"validation of {entity.name} could not run {outcome.expectation_config.type}: "
                f"{outcome.exception_info.get('exception_message')}"
            )
        if outcome.success:
            continue
        mask = np.zeros(len(checked), dtype=bool)
        mask[np.asarray(outcome.result.get("unexpected_index_list") or [], dtype=int)] = True
        masks[outcome.expectation_config.meta["reason"]] = mask
    return masks


@dataclass
class Validated:
    """Valid rows (typed, with record_hash) and rejected rows (raw, with reasons)."""

    valid: pd.DataFrame
    rejected: pd.DataFrame


def timestamp_window(
    delivery_day: date, business_zone: ZoneInfo, *, earliest: date, max_future_hours: float
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The accepted ``[start, end)`` (UTC) of every timestamp in the delivery of ``delivery_day``.

    Start: midnight of ``earliest`` in the business zone (``LOYALTY_EARLIEST_TIMESTAMP``). End: the end of the
    delivery day in the business zone plus ``max_future_hours`` (``LOYALTY_MAX_FUTURE_HOURS``). It depends on
    the day being loaded, never on the clock, so re-running a day gives the same verdicts.
    """
    start = datetime.combine(earliest, time(), tzinfo=business_zone)
    end = datetime.combine(delivery_day + timedelta(days=1), time(), tzinfo=business_zone)
    return pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC") + pd.Timedelta(
        hours=max_future_hours
    )


def settings_window(settings: Any, delivery_day: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """:func:`timestamp_window` from the settings object (``earliest_timestamp``, ``max_future_hours``)."""
    return timestamp_window(
        delivery_day,
        settings.business_zone,
        earliest=settings.earliest_timestamp,
        max_future_hours=settings.max_future_hours,
    )


def validate_frame(
    raw: pd.DataFrame,
    entity: Entity,
    source_zone: ZoneInfo,
    window: Window | None = None,
    partition: str | None = None,
) -> Validated:
    """Split a raw delivery frame into valid typed rows and quarantined rows with reasons.

    ``raw`` holds contract-named columns plus ``_source`` and ``_source_row``; its index is irrelevant.
    Every input row appears in exactly one of the two outputs. ``window`` (see :func:`settings_window`) is
    the accepted range of timestamps, its end a scalar or a Series aligned with ``raw``'s rows in order (rows
    of several delivery days end at their own day's end); without it only timestamps no calendar can hold are
    refused. With
    ``partition`` (a column of ``raw``, e.g. the delivery day of each row when several deliveries are validated
    in one call), ids repeating inside one delivery are looked for per partition value, and both outputs carry
    that column.
    """
    raw = raw.reset_index(drop=True)
    if window is not None and isinstance(window[1], pd.Series):
        window = (window[0], window[1].reset_index(drop=True))
    coerced = coerce_frame(raw, entity, source_zone, window)
    typed = coerced.frame
    details = dict(coerced.details)
    if window is not None:
        for code in details:
            if code.startswith("timestamp_out_of_range:"):
                column = code.partition(":")[2]
                # One text whatever the batch of days (the end is per delivery day), so a day's quarantine rows
                # are the same from a nightly run and from a backfill chunk.
                details[code] = (
                    f"{column} is outside the accepted window: before {window[0]:%Y-%m-%d %H:%M} UTC "
                    "(LOYALTY_EARLIEST_TIMESTAMP) or at or after the end of its delivery day plus "
                    "LOYALTY_MAX_FUTURE_HOURS"
                )
    for rule in rules_for(entity):
        details[rule.reason] = rule.detail
    if entity.at_least_one_of:
        typed[HAS_ANSWER] = typed[list(entity.at_least_one_of)].notna().any(axis=1)
    masks = dict(coerced.problems)
    if len(typed):
        for reason, mask in run_suite(typed, entity).items():
            masks[reason] = masks.get(reason, np.zeros(len(typed), dtype=bool)) | mask
    typed = typed.drop(columns=[HAS_ANSWER], errors="ignore")

    failed = np.zeros(len(typed), dtype=bool)
    for mask in masks.values():
        failed |= mask
    typed["record_hash"] = record_hashes(typed, entity) if len(typed) else pd.Series(dtype=object)

    # Duplicate ids inside this delivery: identical copies keep their first row; ids whose copies differ
    # are all rejected, because nothing says which copy is right.
    candidates = typed.loc[~failed, [entity.key, "record_hash"]]
    group = [entity.key]
    if partition is not None:
        candidates = candidates.assign(**{partition: raw.loc[~failed, partition].to_numpy()})
        group = [partition, entity.key]
    dup_any = candidates.duplicated(group, keep=False)
    if dup_any.any():
        distinct = candidates[dup_any].groupby(group)["record_hash"].transform("nunique")
        conflict_index = distinct[distinct > 1].index
        same_index = candidates[dup_any & candidates.duplicated(group, keep="first")].index.difference(conflict_index)
        for reason, index in (
            ("duplicate_id_conflict", conflict_index),
            ("duplicate_id_same_content", same_index),
        ):
            if len(index):
                mask = np.zeros(len(typed), dtype=bool)
                mask[index] = True
                masks[reason] = mask
                failed |= mask
        details["duplicate_id_conflict"] = f"{entity.key} repeats in this delivery with different content"
        details["duplicate_id_same_content"] = f"{entity.key} repeats in this delivery with identical content"

    valid = typed.loc[~failed].copy()
    valid["_source"] = raw.loc[~failed, "_source"].to_numpy()
    valid["_source_row"] = raw.loc[~failed, "_source_row"].to_numpy()
    rejected = describe_rejections(raw.loc[failed], {k: v[failed] for k, v in masks.items()}, details, entity)
    if partition is not None:
        valid[partition] = raw.loc[~failed, partition].to_numpy()
        rejected[partition] = raw.loc[failed, partition].to_numpy()
    return Validated(valid=valid.reset_index(drop=True), rejected=rejected)


def describe_rejections(
    raw: pd.DataFrame, masks: dict[str, np.ndarray], details: dict[str, str], entity: Entity
) -> pd.DataFrame:
    """One row per rejected raw row: its provenance, its reasons in rule order, and the raw record."""
    codes = list(masks)
    reasons: list[list[str]] = [[] for _ in range(len(raw))]
    for code in codes:
        for position in np.flatnonzero(masks[code]):
            reasons[position].append(code)
    contract_columns = [c for c in raw.columns if not c.startswith("_")]
    records = [
        {k: _plain(v) for k, v in record.items()} for record in raw[contract_columns].astype(object).to_dict("records")
    ]
    keys = raw[entity.key] if entity.key in raw.columns else pd.Series(None, index=raw.index)
    return pd.DataFrame(
        {
            "source": raw["_source"].to_numpy(),
            "source_row": raw["_source_row"].to_numpy(),
            "source_key": [_key_text(k) for k in keys],
            "reason": [r[0] for r in reasons],
            "reasons": [";".join(r) for r in reasons],
            "detail": ["; ".join(details.get(code, code) for code in r) for r in reasons],
            "raw_record": records,
        }
    )


def _plain(value: Any) -> Any:
    """A raw value as JSON can hold it, for the quarantine's replayable ``raw_record``.

    Nested values stay nested (lists and objects, not their Python repr); binary that is not UTF-8 is kept as
    ``{"hex": ...}``; NaN and missing become null.
    """
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return {"hex": data.hex()}
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _key_text(key: Any) -> str | None:
    """The id as a label of the quarantine row: text, at most 200 characters, NUL and lone surrogates escaped.

    ``raw_record`` keeps the exact value; this column only has to be storable and findable.
    """
    key = _plain(key)
    if key is None:
        return None
    return storable_text(key if isinstance(key, str) else str(key))[:200]
