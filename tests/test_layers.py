"""House rule: imports run one way, from the operator's command down to the core, never back up.

    cli/  ->  flows/  ->  tasks/  ->  loyalty/, analytics/, reports/, demo/

A package may import its own layer and the layers below it, never one above. Imports inside functions count
too (the old CLI hid its arrows back up to flows and tasks inside its commands).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYER = {"loyalty": 0, "analytics": 0, "reports": 0, "demo": 0, "tasks": 1, "flows": 2, "cli": 3}


def modules() -> list[pathlib.Path]:
    return sorted(p for package in LAYER for p in (ROOT / package).rglob("*.py"))


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add((node.module or "").split(".")[0])
    return roots


def test_every_layer_has_modules_to_check() -> None:
    assert {p.relative_to(ROOT).parts[0] for p in modules()} == set(LAYER)


def test_the_check_sees_an_import_hidden_in_a_function() -> None:
    tree = ast.parse("def command():\n    from flows.nightly_etl import nightly_etl\n    import tasks.load\n")
    assert imported_roots(tree) == {"flows", "tasks"}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_layer_above_its_own(path: pathlib.Path) -> None:
    own = LAYER[path.relative_to(ROOT).parts[0]]
    above = {root for root in imported_roots(ast.parse(path.read_text())) if LAYER.get(root, -1) > own}
    assert not above, f"{path.relative_to(ROOT)} imports {sorted(above)}, a layer above its own"
