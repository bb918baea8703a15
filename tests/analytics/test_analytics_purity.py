"""House rule: analytics are pure. No orchestration, database, network or file I/O imports or calls.

The one import from ``loyalty`` allowed is ``loyalty.contract``: the source data contract as plain data (names,
kinds, allowed values), so the analytics never keep a copy of a column or dimension list of their own.
"""

import ast
import pathlib

import pytest

ANALYTICS = pathlib.Path(__file__).resolve().parents[2] / "analytics"
FORBIDDEN_MODULES = {
    "prefect",
    "sqlalchemy",
    "psycopg",
    "requests",
    "httpx",
    "urllib",
    "socket",
    "smtplib",
    "pathlib",
    "shutil",
    "os",
    "io",
    "great_expectations",
    "loyalty",
    "tasks",
    "flows",
}
ALLOWED_MODULES = {"loyalty.contract"}
FORBIDDEN_CALLS = {"open", "read_csv", "read_parquet", "read_sql", "to_csv", "to_parquet", "to_sql", "urlopen"}


def modules() -> list[pathlib.Path]:
    return sorted(ANALYTICS.glob("*.py"))


def test_there_are_modules_to_check() -> None:
    assert {path.stem for path in modules()} >= {"weeks", "stats", "satisfaction", "keywords", "retention"}


@pytest.mark.parametrize("path", modules(), ids=lambda path: path.name)
def test_module_is_pure(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"{path.name} needs a module docstring saying what it owns"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names if alias.name not in ALLOWED_MODULES}
        elif isinstance(node, ast.ImportFrom):
            roots = set() if node.module in ALLOWED_MODULES else {(node.module or "").split(".")[0]}
        else:
            roots = set()
        assert not roots & FORBIDDEN_MODULES, f"{path.name} imports {roots & FORBIDDEN_MODULES}"
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name} calls {name}() at line {node.lineno}"


@pytest.mark.parametrize("path", modules(), ids=lambda path: path.name)
def test_public_functions_have_type_hints_and_docstrings(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            assert node.returns is not None, f"{path.name}:{node.name} lacks a return annotation"
            arguments = node.args.args + node.args.kwonlyargs
            assert all(argument.annotation is not None for argument in arguments), f"{node.name} lacks hints"
            assert ast.get_docstring(node), f"{path.name}:{node.name} lacks a docstring"
