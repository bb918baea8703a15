"""docs/contract.md, the source data contract a user of this repository reads, says what loyalty/contract.py does.

Every entity's column table in the document must be exactly the one derived here from the code (name, kind,
required, rule), and the document must state each entity's key, grain and at-least-one-of rule. When the
code changes, the failure prints the table to paste.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loyalty.contract import ENTITIES, Column, Entity

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
HEADER = "| column | type | required | rule |"


def rule(entity: Entity, column: Column) -> str:
    parts = []
    if column.name == entity.key:
        parts.append("unique key")
    if column.allowed:
        parts.append("one of " + ", ".join(f"`{v}`" for v in column.allowed))
    if column.min_value is not None and column.max_value is not None:
        parts.append(f"{column.min_value} to {column.max_value}")
    if column.pattern:
        parts.append(f"matches `{column.pattern}`")
    if column.is_hidden:
        parts.append("personal data: stored, never shown")
    elif column.is_personal:
        parts.append("personal data: never shown in full")
    return "; ".join(parts)


def expected_table(entity: Entity) -> list[str]:
    rows = [HEADER, "|---|---|---|---|"]
    for c in entity.columns:
        rows.append(f"| `{c.name}` | {c.kind} | {'yes' if c.required else 'no'} | {rule(entity, c)} |")
    return rows


def documented_table(text: str, entity: Entity) -> list[str]:
    heading = re.search(rf"^### `{entity.name}`.*$", text, flags=re.M)
    assert heading, f"docs/contract.md has no '### `{entity.name}`' section"
    lines = text[heading.end() :].splitlines()
    start = lines.index(HEADER)
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line.strip())
    return table


def test_the_readme_links_the_contract_in_the_project() -> None:
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "(docs/contract.md)" in readme and "../shared/CONTRACT.md" not in readme


@pytest.mark.parametrize("entity", list(ENTITIES.values()), ids=lambda e: e.name)
def test_each_entity_table_is_the_code_s(entity: Entity) -> None:
    text = DOC.read_text(encoding="utf-8")
    expected = expected_table(entity)
    assert documented_table(text, entity) == expected, "paste into docs/contract.md:\n" + "\n".join(expected)
    section = text[text.index(f"### `{entity.name}`") :].split("\n### ")[0]
    assert f"Grain: {entity.grain}" in section and f"key `{entity.key}`" in section
    if entity.at_least_one_of:
        assert "at least one of " + ", ".join(f"`{c}`" for c in entity.at_least_one_of) in section


def test_the_document_names_no_entity_the_code_does_not_have() -> None:
    named = set(re.findall(r"^### `(\w+)`", DOC.read_text(encoding="utf-8"), flags=re.M))
    assert named == set(ENTITIES)


def test_a_changed_rule_would_be_caught() -> None:
    # The check compares whole rows: a range written 0 to 9 instead of 0 to 10 is a different row.
    survey = ENTITIES["survey_responses"]
    table = expected_table(survey)
    assert "| `nps` | integer | no | 0 to 10 |" in table
    assert "| `nps` | integer | no | 0 to 9 |" not in table
