"""The flows' parameter types: choices and checks for the Prefect UI's run form.

A deployment's parameter schema is built from these annotations (and each parameter's description from the
``Args:`` section of the flow's docstring), so the UI shows the entities and task runners as choices, and the
server refuses a run whose parameters do not fit (an unknown entity, ``2026-13-01`` as a date) before any
worker or runner picks it up.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from loyalty.contract import ENTITIES

# The server checks a schema's "format": "date" loosely (2026-13-01 passes), so a day also carries a pattern
# that accepts only real months and days of the month; pydantic then refuses 2026-02-30 when the run starts.
ISO_DAY_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
Day = Annotated[date, Field(json_schema_extra={"pattern": ISO_DAY_PATTERN})]
OptionalDay = Annotated[date | None, Field(json_schema_extra={"pattern": ISO_DAY_PATTERN})]

# One name per source entity, from the contract (a Literal, so the schema is an enum of choices).
EntityName = Literal[tuple(ENTITIES)]  # type: ignore[valid-type]
Entities = Annotated[list[EntityName] | None, Field(min_length=1)]  # type: ignore[valid-type]
ChunkDays = Annotated[int | None, Field(ge=1)]
TaskRunnerChoice = Literal["serial", "dask"] | None

# An ISO week as the CLI takes it (2026-W47); weeks 01-53 (parse_iso_week refuses a W53 a year does not have).
ISO_WEEK_PATTERN = r"^[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$"
OptionalIsoWeek = Annotated[str | None, Field(pattern=ISO_WEEK_PATTERN)]
