"""The naive peer: the pipeline as most teams would first write it, per day read -> Great Expectations -> to_sql.

For every delivery day and entity: each landing file read with pandas (``read_csv``, ``read_json(lines=True)``,
``read_parquet``) with default type inference, vendor headers renamed through the same column mapping,
timestamps parsed with one ``pd.to_datetime(..., utc=True, errors="coerce")`` and numbers with
``pd.to_numeric(errors="coerce")``; then a Great Expectations 1.24 validation with the same expectations as the
project's suites (:func:`loyalty.validation.rules_for`: not-null, in-set, between, regex, at least one answer);
then ``DataFrame.to_sql(if_exists="append")`` of the passing rows, and of the failing rows with the first
failed expectation into ``<entity>_rejected``, in one transaction per entity and day.

What it does not do, and the project does: exact timestamp semantics (naive times are read as UTC here),
duplicate ids within and across deliveries, the file ledger and duplicate files, malformed-line handling,
re-runnable partitions, the run ledger, record hashes, and the weekly metrics.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from bench.data import landing_files
from bench.targets import Target
from loyalty.contract import ANSWER_COLUMNS, CONTRACT_COLUMNS, ENTITIES, get_entity
from loyalty.intake import load_column_mapping
from loyalty.validation import HAS_ANSWER, rules_for

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
_TIMESTAMPS = {"customers": "created_at", "transactions": "occurred_at", "survey_responses": "submitted_at"}
_NUMBERS = {"amount", *ANSWER_COLUMNS}


def build_suites() -> dict[str, tuple[Any, Any]]:
    """One GX batch definition and suite per entity, built once per pipeline run."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suites = {}
    for entity in ENTITIES:
        asset = context.data_sources.add_pandas(f"naive_{entity}").add_dataframe_asset(entity)
        batch_definition = asset.add_batch_definition_whole_dataframe("day")
        suite = gx.ExpectationSuite(name=f"naive_{entity}")
        for rule in rules_for(get_entity(entity)):
            expectation = getattr(gxe, rule.expectation)
            suite.add_expectation(expectation(column=rule.column, meta={"reason": rule.reason}, **rule.kwargs))
        suites[entity] = (batch_definition, context.suites.add(suite))
    return suites


def read_day(landing: Path, entity: str, day: date, renames: dict[str, str]) -> pd.DataFrame:
    frames = []
    for path in landing_files(landing, entity, day):
        suffix = path.suffix.lower()
        if suffix == ".csv":
            df = pd.read_csv(path)
        elif suffix == ".jsonl":
            df = pd.read_json(path, lines=True, convert_dates=False, dtype=False)
        else:
            df = pd.read_parquet(path)
        df = df.rename(columns=lambda c: renames.get(str(c).strip().casefold(), c))
        frames.append(df.reindex(columns=list(CONTRACT_COLUMNS[entity])))
    if not frames:
        return pd.DataFrame(columns=list(CONTRACT_COLUMNS[entity]))
    return pd.concat(frames, ignore_index=True)


def validate(df: pd.DataFrame, entity: str, suite: tuple[Any, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Passing rows, and failing rows with the reason of their first failed expectation."""
    batch_definition, expectation_suite = suite
    checked = df.copy()
    if entity == "survey_responses":
        checked[HAS_ANSWER] = checked[["nps", "csat", "comment"]].notna().any(axis=1)
    result = batch_definition.get_batch(batch_parameters={"dataframe": checked}).validate(
        expectation_suite, result_format={"result_format": "COMPLETE"}
    )
    reason = pd.Series(None, index=df.index, dtype=object)
    for outcome in result.results:
        if outcome.success:
            continue
        failed = np.asarray(outcome.result.get("unexpected_index_list") or [], dtype=int)
        fresh = reason.iloc[failed].isna()
        reason.iloc[failed[fresh.to_numpy()]] = outcome.expectation_config.meta["reason"]
    bad = reason.notna()
    return df.loc[~bad], df.loc[bad].assign(reason=reason[bad])


def run_naive(target: Target, landing: Path, days: list[date], mapping_path: Path) -> dict[str, int]:
    """The naive pipeline over ``days`` into a fresh warehouse; rows loaded and rejected per entity."""
    target.reset()
    if target.engine == "sqlite":
        engine = sa.create_engine(f"sqlite:///{target.sqlite_path}")
    else:
        engine = sa.create_engine(
            target.postgres_url, connect_args={"options": f"-c search_path={target.schema} -c TimeZone=UTC"}
        )
    mapping = load_column_mapping(mapping_path)
    renames = {
        entity: {k.strip().casefold(): v for k, v in (mapping.get(entity) or {}).items()}
        | {c.casefold(): c for c in CONTRACT_COLUMNS[entity]}
        for entity in ENTITIES
    }
    suites = build_suites()
    counts: dict[str, int] = {}
    for day in days:
        for entity in ENTITIES:
            df = read_day(landing, entity, day, renames[entity])
            if df.empty:
                continue
            ts = _TIMESTAMPS[entity]
            for column in set(CONTRACT_COLUMNS[entity]) - _NUMBERS - {ts}:  # text, even on a day it is all empty
                df[column] = df[column].astype(object).where(df[column].notna(), None)
            df[ts] = pd.to_datetime(df[ts], format="ISO8601", utc=True, errors="coerce")
            for column in _NUMBERS & set(df.columns):
                df[column] = pd.to_numeric(df[column], errors="coerce")
            good, bad = validate(df, entity, suites[entity])
            with engine.begin() as conn:
                good.assign(delivery_day=day).to_sql(entity, conn, if_exists="append", index=False)
                if len(bad):
                    bad.assign(delivery_day=day).to_sql(f"{entity}_rejected", conn, if_exists="append", index=False)
            counts[f"{entity} loaded"] = counts.get(f"{entity} loaded", 0) + len(good)
            counts[f"{entity} rejected"] = counts.get(f"{entity} rejected", 0) + len(bad)
    engine.dispose()
    return counts
