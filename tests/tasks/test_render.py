"""tasks/render.py: where an edition's files go, and names that a region (data) can never turn into a path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from loyalty.settings import Settings
from tasks.render import ReportFiles, region_slug, report_paths


def test_company_and_regional_editions_sit_side_by_side_in_their_week_folder(tmp_path: Path) -> None:
    settings = Settings(reports_dir=tmp_path / "reports")
    assert report_paths(settings, "2026-W47", None) == (
        tmp_path / "reports" / "2026-W47" / "weekly-report.pdf",
        tmp_path / "reports" / "2026-W47" / "weekly-report.html",
    )
    pdf, html = report_paths(settings, "2026-W47", "North")
    digest = hashlib.sha256(b"North").hexdigest()[:12]  # the exact name's digest keeps "North" and "north" apart
    assert (pdf.parent, pdf.name, html.name) == (
        tmp_path / "reports" / "2026-W47",
        f"weekly-report-north-{digest}.pdf",
        f"weekly-report-north-{digest}.html",
    )


@pytest.mark.parametrize("region", ["../../etc", "São Paulo", "a/b\\c", "\u202eevil", "", "x" * 200])
def test_a_region_slug_is_a_plain_file_name_part(region: str) -> None:
    slug = region_slug(region)
    assert slug and len(slug) <= 53  # 40 characters of name, a dash and a 12-digit digest at most
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug)


def test_names_that_fold_to_the_same_slug_keep_their_files_apart() -> None:
    # "São Paulo" folds to "sao-paulo", like "Sao Paulo": the digest of the original name tells them apart.
    assert region_slug("São Paulo") != region_slug("Sao Paulo")
    # Even a name that is already a slug gets the digest: else a region named "north-<North's digest>" could
    # take North's file.
    assert region_slug("north") != region_slug("North")
    assert region_slug("north").startswith("north-") and region_slug("North").startswith("north-")


def test_the_attachment_is_named_after_the_file_and_the_week(tmp_path: Path) -> None:
    files = ReportFiles("2026-W47", None, tmp_path / "weekly-report.pdf", tmp_path / "weekly-report.html", "0", 1, 0.1)
    assert files.attachment_name == "weekly-report-2026-W47.pdf"
