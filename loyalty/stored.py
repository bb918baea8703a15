"""Reads of the stored metric tables and of the published figures, light enough for the command line.

`loyalty metrics --json` and the report read the same rows through these functions. They reflect each table
from the warehouse instead of building :data:`loyalty.schema.METRIC_TABLES`, whose column lists come from the
analytics modules and would import scikit-learn, SciPy and statsmodels (about two seconds) for a read.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from analytics.weeks import previous_iso_weeks, shift_iso_week
from loyalty.schema import published_figures

TREND_WEEKS = 12  # earlier weeks on the trend charts: 13 weeks with the reported one
# Tables read for earlier weeks too: trends, and last week's figures for the changes.
HISTORY_TABLES = ("weekly_satisfaction", "weekly_retention")


def read_stored_frames(
    engine: sa.Engine, week: str, names: tuple[str, ...], *, history_weeks: int = TREND_WEEKS
) -> dict[str, pd.DataFrame]:
    """The stored rows of ``week`` in each metric table of ``names``, and of ``history_weeks`` earlier weeks
    for satisfaction and retention (trends, and last week's figures for the changes).

    Each table is reflected with its declared column types, so booleans and dates read as such on SQLite too.
    """
    history = [*previous_iso_weeks(week, history_weeks), week]
    frames: dict[str, pd.DataFrame] = {}
    with engine.connect() as conn:
        metadata = sa.MetaData()
        for name in names:
            table = sa.Table(name, metadata, autoload_with=conn)
            weeks = history if name in HISTORY_TABLES else [week]
            frames[name] = pd.read_sql(sa.select(table).where(table.c.week.in_(weeks)), conn)
    return frames


def read_previous_published(engine: sa.Engine, week: str, region: str | None) -> pd.DataFrame:
    """The figures the previous week's edition (same region) published: figure, value, n (may be empty)."""
    query = sa.select(published_figures.c.figure, published_figures.c.value, published_figures.c.n).where(
        (published_figures.c.week == shift_iso_week(week, -1)) & (published_figures.c.region == (region or ""))
    )
    with engine.connect() as conn:
        return pd.read_sql(query, conn)
