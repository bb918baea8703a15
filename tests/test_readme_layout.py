"""The README's Layout table matches the tree: every path it names exists, and every package module, top folder
and project file has its line."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cli", "flows", "tasks", "loyalty", "analytics", "reports", "demo")
PROJECT_FILES = ("Makefile", "prefect.yaml", "pyproject.toml")


def layout_paths() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Layout") : text.index("\n## ", text.index("## Layout") + 1)]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)


def test_every_path_in_the_table_exists_once() -> None:
    paths = layout_paths()
    assert len(paths) == len(set(paths))
    assert [p for p in paths if not (ROOT / p).exists()] == []


def test_every_module_top_folder_and_project_file_has_a_line() -> None:
    paths = set(layout_paths())
    modules = {
        str(p.relative_to(ROOT))
        for package in PACKAGES
        for p in (ROOT / package).glob("*.py")
        if p.name != "__init__.py"
    }
    folders = {
        f"{p.name}/" for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".") and (p.name != "state")
    }
    folders -= {f"{p.name}/" for p in ROOT.iterdir() if p.name.endswith(".egg-info") or p.name == "__pycache__"}
    covered = {p for p in paths} | {p.split("/")[0] + "/" for p in paths}
    assert sorted(modules - paths) == []
    assert sorted(folders - covered) == []
    assert sorted(set(PROJECT_FILES) - paths) == []
