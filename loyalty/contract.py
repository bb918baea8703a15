"""The source data contract (v1.1) as code: entities, columns, types and rules.

This module is the single description of the source data contract that intake, validation and the warehouse
schema all read, so the three can never disagree about a column. ``docs/contract.md`` describes it for
readers; a test checks the two agree.

Where the contract is silent we chose, and say so here:
- ``channel`` is required on transactions and responses: a value outside the allowed set is invalid, and a
  missing one is treated the same way (every purchase and every answer comes through some channel).
- ``currency`` is required on transactions: an amount without a currency cannot be summed honestly.
- ``channel`` and ``outcome`` are required on outreach, for the same reason: an attempt always goes through
  some channel and ends somehow, and a case's status is read from the outcome.
- ``note`` (outreach) is ``is_hidden``: untrusted free text and possibly personal data. It is stored in the
  warehouse (and in a quarantined row's raw record) and nowhere else: no metric query selects it, so it never
  reaches a frame, a report, a log, an artifact or the CLI.
- Integers may arrive as ``"7"``, ``7`` or ``7.0`` (Parquet stores nullable integers as floats); ``7.5``,
  ``NaN``, ``inf`` and text are invalid, never turned into a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnKind = Literal["text", "timestamp", "integer", "decimal"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: int | None = None
    max_value: int | None = None
    pattern: str | None = None
    is_personal: bool = False
    # Stored, never read back out of the warehouse (no metric, report or CLI query selects it).
    is_hidden: bool = False


@dataclass(frozen=True)
class Entity:
    name: str
    key: str
    timestamp: str
    columns: tuple[Column, ...]
    grain: str
    # Columns of which at least one must be present on every row.
    at_least_one_of: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


TRANSACTION_CHANNELS = ("online", "in_store", "phone")
SURVEY_CHANNELS = ("online", "phone", "comment_card", "email", "in_store")
SCORE_COLUMNS = ("nps", "csat", "ces")
OUTREACH_CHANNELS = ("phone", "email", "in_store", "letter", "sms")
OUTREACH_OUTCOMES = ("reached", "no_answer", "resolved", "declined", "escalated")
SERVICE_DIMENSIONS = ("reliability", "responsiveness", "assurance", "empathy", "tangibles")

CUSTOMERS = Entity(
    name="customers",
    key="customer_id",
    timestamp="created_at",
    grain="one row per customer",
    columns=(
        Column("customer_id", "text", required=True),
        Column("created_at", "timestamp", required=True),
        Column("region", "text"),
        Column("segment", "text"),
        Column("email", "text", is_personal=True),
    ),
)

TRANSACTIONS = Entity(
    name="transactions",
    key="transaction_id",
    timestamp="occurred_at",
    grain="one row per purchase or refund",
    columns=(
        Column("transaction_id", "text", required=True),
        Column("customer_id", "text", required=True),
        Column("occurred_at", "timestamp", required=True),
        Column("amount", "decimal", required=True),
        Column("currency", "text", required=True, pattern=r"^[A-Z]{3}$"),
        Column("channel", "text", required=True, allowed=TRANSACTION_CHANNELS),
        Column("region", "text"),
    ),
)

SURVEY_RESPONSES = Entity(
    name="survey_responses",
    key="response_id",
    timestamp="submitted_at",
    grain="one row per answered survey",
    at_least_one_of=("nps", "csat", "comment"),
    columns=(
        Column("response_id", "text", required=True),
        Column("customer_id", "text"),
        Column("submitted_at", "timestamp", required=True),
        Column("channel", "text", required=True, allowed=SURVEY_CHANNELS),
        Column("nps", "integer", min_value=0, max_value=10),
        Column("csat", "integer", min_value=1, max_value=5),
        Column("ces", "integer", min_value=1, max_value=7),
        *(Column(d, "integer", min_value=1, max_value=5) for d in SERVICE_DIMENSIONS),
        Column("comment", "text"),
        Column("region", "text"),
    ),
)

OUTREACH = Entity(
    name="outreach",
    key="outreach_id",
    timestamp="contacted_at",
    grain="one row per attempt to contact a customer",
    columns=(
        Column("outreach_id", "text", required=True),
        Column("customer_id", "text", required=True),
        Column("contacted_at", "timestamp", required=True),
        Column("channel", "text", required=True, allowed=OUTREACH_CHANNELS),
        Column("team", "text"),
        Column("outcome", "text", required=True, allowed=OUTREACH_OUTCOMES),
        Column("note", "text", is_personal=True, is_hidden=True),
    ),
)

# Load order matters only for readability of the logs: customers first, as the others refer to them.
ENTITIES: dict[str, Entity] = {e.name: e for e in (CUSTOMERS, TRANSACTIONS, SURVEY_RESPONSES, OUTREACH)}


def get_entity(name: str) -> Entity:
    try:
        return ENTITIES[name]
    except KeyError:
        raise ValueError(f"unknown entity {name!r}; expected one of {', '.join(ENTITIES)}") from None


#: Every integer answer of a survey response: the three scores, then the service dimensions.
ANSWER_COLUMNS: tuple[str, ...] = tuple(c.name for c in SURVEY_RESPONSES.columns if c.kind == "integer")

#: Entity name -> its column names in contract order (the header a contract-named file carries).
CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {e.name: tuple(e.column_names) for e in ENTITIES.values()}
