"""The flows' parameter types: choices and checks for the Prefect UI's run form.

A deployment's parameter schema is built from these annotations (and each parameter's description from the
``Args:`` section of the flow's docstring), so the UI shows the entities and task runners as choices, and the
server refuses a run whose parameters do not fit (an unknown entity, ``2026-13-01`` as a date) before any
worker or runner picks it up.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from loyalty.contract import ENTITIES

# One name per source entity, from the contract (a Literal, so the schema is an enum of choices).
EntityName = Literal[tuple(ENTITIES)]  # type: ignore[valid-type]
Entities = Annotated[list[EntityName] | None, Field(min_length=1)]  # type: ignore[valid-type]
ChunkDays = Annotated[int | None, Field(ge=1)]
TaskRunnerChoice = Literal["serial", "dask"] | None
