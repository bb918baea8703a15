"""What each edition of the weekly report published: kept so a later edition can state restatements.

One row per edition (week, region; '' for the company-wide edition) x headline figure, as FIRST published:
re-rendering an edition later does not overwrite what readers already saw.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from prefect import task
from prefect.cache_policies import NO_CACHE

from loyalty.db import get_engine
from loyalty.schema import published_figures
from loyalty.settings import Settings


def record_published_figures(engine: sa.Engine, week: str, region: str | None, figures: list[dict]) -> int:
    """Insert the edition's figures that are not recorded yet; returns how many were added."""
    key = region or ""
    with engine.begin() as conn:
        known = set(
            conn.execute(
                sa.select(published_figures.c.figure).where(
                    (published_figures.c.week == week) & (published_figures.c.region == key)
                )
            ).scalars()
        )
        rows = [
            {
                "week": week,
                "region": key,
                "figure": f["figure"],
                "value": f["value"],
                "n": f["n"],
                "published_at": dt.datetime.now(dt.UTC),
            }
            for f in figures
            if f["figure"] not in known
        ]
        if rows:
            conn.execute(published_figures.insert(), rows)
    return len(rows)


@task(name="record-published-figures", cache_policy=NO_CACHE)
def record_published(settings: Settings, week: str, region: str | None, figures: list[dict]) -> int:
    """Keep what this edition published (first publication wins)."""
    return record_published_figures(get_engine(settings.warehouse_url), week, region, figures)
