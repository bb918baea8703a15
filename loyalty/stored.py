"""Reads of the stored metric tables and of the published figures, light enough for the command line.

`loyalty metrics --json` and the report read the same rows through these functions. They reflect each table
from the warehouse instead of building :data:`loyalty.schema.METRIC_TABLES`, whose column lists come from the
analytics modules and would import scikit-learn, SciPy and statsmodels (about two seconds) for a read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from analytics.week_labels import previous_iso_weeks, shift_iso_week
from loyalty.schema import published_figures

if TYPE_CHECKING:
    import pandas as pd

TREND_WEEKS = 12  # earlier weeks on the trend charts: 13 weeks with the reported one
# Tables read for earlier weeks too: trends, and last week's figures for the changes.
HISTORY_TABLES = ("weekly_satisfaction", "weekly_retention")


def _stored_selects(
    conn: sa.Connection, week: str, names: tuple[str, ...], history_weeks: int
) -> Iterator[tuple[str, sa.Select]]:
    """Each table of ``names`` reflected with its declared column types (so booleans and dates read as such
    on SQLite too), and the select of its rows for ``week`` (and the history weeks, see read_stored_frames)."""
    history = [*previous_iso_weeks(week, history_weeks), week]
    metadata = sa.MetaData()
    for name in names:
        table = sa.Table(name, metadata, autoload_with=conn)
        weeks = history if name in HISTORY_TABLES else [week]
        yield name, sa.select(table).where(table.c.week.in_(weeks))


def read_stored_frames(
    engine: sa.Engine, week: str, names: tuple[str, ...], *, history_weeks: int = TREND_WEEKS
) -> dict[str, pd.DataFrame]:
    """The stored rows of ``week`` in each metric table of ``names``, and of ``history_weeks`` earlier weeks
    for satisfaction and retention (trends, and last week's figures for the changes)."""
    import pandas as pd

    with engine.connect() as conn:
        return {name: pd.read_sql(query, conn) for name, query in _stored_selects(conn, week, names, history_weeks)}


def read_stored_rows(
    engine: sa.Engine, week: str, names: tuple[str, ...], *, history_weeks: int = TREND_WEEKS
) -> dict[str, list[dict[str, Any]]]:
    """The same rows as read_stored_frames, as lists of dicts: for `loyalty metrics`, which prints one week
    and should not wait for pandas to import."""
    with engine.connect() as conn:
        return {
            name: [dict(row) for row in conn.execute(query).mappings()]
            for name, query in _stored_selects(conn, week, names, history_weeks)
        }


def _previous_published(week: str, region: str | None) -> sa.Select:
    return sa.select(published_figures.c.figure, published_figures.c.value, published_figures.c.n).where(
        (published_figures.c.week == shift_iso_week(week, -1)) & (published_figures.c.region == (region or ""))
    )


def read_previous_published(engine: sa.Engine, week: str, region: str | None) -> pd.DataFrame:
    """The figures the previous week's edition (same region) published: figure, value, n (may be empty)."""
    import pandas as pd

    with engine.connect() as conn:
        return pd.read_sql(_previous_published(week, region), conn)


def read_previous_published_rows(engine: sa.Engine, week: str, region: str | None) -> list[dict[str, Any]]:
    """read_previous_published as a list of dicts (see read_stored_rows)."""
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(_previous_published(week, region)).mappings()]
