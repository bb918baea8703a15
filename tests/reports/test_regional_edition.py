"""The regional edition against a real warehouse (SQLite and PostgreSQL): it shows that region's responses and
customers only, while the company-wide edition of the same week shows several regions' (so the filter matters)."""

from __future__ import annotations

import io
import re
import stat
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from demo import generate_demo_sources
from loyalty.db import get_engine
from loyalty.schema import drop_all, migrate
from loyalty.settings import Settings
from tasks.metrics import recompute_metrics, weeks_of_days
from tasks.render import ReportFiles, render_files
from tasks.report_data import ReportInputError, read_report_data
from tests.databases import make_warehouse_url
from tests.helpers import run_day

START, END = date(2026, 10, 26), date(2026, 11, 15)  # three ISO weeks, 2026-W44 .. 2026-W46
WEEK = "2026-W46"
REGION = "North"
# The demo's default size: with fewer customers the North edition quotes no comment at all (too few to
# trend), and the check on response ids would pass vacuously.
N_CUSTOMERS = 3000


@dataclass
class Edition:
    files: ReportFiles
    html: str
    pdf_text: str

    @property
    def text(self) -> str:
        return self.pdf_text + "\n" + self.html


@dataclass
class Warehouse:
    settings: Settings
    responses: pd.DataFrame  # response_id, customer_id, region
    customers: pd.DataFrame  # customer_id, region
    transactions: pd.DataFrame  # customer_id, region
    north: Edition
    company: Edition

    @property
    def north_response_ids(self) -> set[str]:
        return set(self.responses.loc[self.responses["region"] == REGION, "response_id"])

    @property
    def north_customer_ids(self) -> set[str]:
        """Customers with any row of the region: their own record, a response or a purchase there."""
        return (
            set(self.customers.loc[self.customers["region"] == REGION, "customer_id"])
            | set(self.responses.loc[self.responses["region"] == REGION, "customer_id"].dropna())
            | set(self.transactions.loc[self.transactions["region"] == REGION, "customer_id"].dropna())
        )


def _edition(files: ReportFiles) -> Edition:
    reader = PdfReader(io.BytesIO(files.pdf_path.read_bytes()))
    return Edition(
        files=files,
        html=files.html_path.read_text(encoding="utf-8"),
        pdf_text="\n".join(page.extract_text() or "" for page in reader.pages),
    )


def _ids_in(text: str, ids: set[str]) -> set[str]:
    """The ids that occur in the text (plain substring: ids are fixed-width, so none hides inside another)."""
    return {i for i in ids if i in text}


def _regions_of(ids: set[str], frame: pd.DataFrame, column: str) -> set:
    return set(frame.loc[frame[column].isin(ids), "region"].fillna("(none)"))


def _segment_names(html: str, title: str) -> list[str]:
    """The first column of the segment table headed ``title``."""
    match = re.search(rf"<h3>{re.escape(title)}</h3>\s*<table>(.*?)</table>", html, flags=re.S)
    assert match, f"no {title} table"
    return re.findall(r'<tr[^>]*>\s*<td class="text[^"]*">(.*?)</td>', match.group(1), flags=re.S)


def _retain_regions(html: str) -> list[str]:
    match = re.search(r"<h3>RETAIN: customers to call this week</h3>.*?<tbody>(.*?)</tbody>", html, flags=re.S)
    if not match:
        return []
    # Columns: rank, customer, email, region, ...
    return [cells[3] for cells in re.findall(r"<tr>" + r"<td[^>]*>(.*?)</td>" * 4, match.group(1))]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """A small demo warehouse, loaded day by day through the pipeline's tasks, and both editions of one week."""
    root: Path = tmp_path_factory.mktemp(f"regional-{request.param}")
    url = make_warehouse_url(request.param, root)
    engine = get_engine(url)
    drop_all(engine)
    migrate(engine)
    landing = root / "landing"
    generate_demo_sources(landing, START, END, n_customers=N_CUSTOMERS)
    settings = Settings(
        warehouse_url=url,
        landing_dir=landing,
        business_tz="Europe/London",
        source_tz="Europe/London",
        prefect_home=root / "prefect",
        reports_dir=root / "reports",
    )
    touched: set[date] = set()
    day = START
    while day <= END:
        for summary in run_day(settings, day, run_id=f"regional-{request.param}").values():
            touched.update(summary.business_days)
        day += timedelta(days=1)
    recompute_metrics.fn(settings, weeks_of_days(sorted(touched)))

    with engine.connect() as conn:
        responses = pd.read_sql(sa.text("select response_id, customer_id, region from survey_responses"), conn)
        customers = pd.read_sql(sa.text("select customer_id, region from customers"), conn)
        transactions = pd.read_sql(sa.text("select customer_id, region from transactions"), conn)

    north = _edition(render_files(settings, read_report_data.fn(settings, WEEK, region=REGION)))
    company = _edition(render_files(settings, read_report_data.fn(settings, WEEK)))
    return Warehouse(settings, responses, customers, transactions, north, company)


def test_the_warehouse_holds_several_regions(warehouse):
    regions = set(warehouse.responses["region"].dropna())
    assert {"North", "South", "East", "West"} <= regions
    assert len(warehouse.north_response_ids) > 50


def test_regional_edition_shows_only_that_regions_responses_and_customers(warehouse):
    text = warehouse.north.text
    responses = _ids_in(text, set(warehouse.responses["response_id"]))
    customers = _ids_in(
        text, set(warehouse.customers["customer_id"]) | set(warehouse.responses["customer_id"].dropna())
    )

    # Non-vacuous: the edition does quote North comments and name North customers.
    assert responses, "the North edition quotes no response: nothing to check"
    assert customers, "the North edition names no customer: nothing to check"

    assert responses <= warehouse.north_response_ids, _regions_of(
        responses - warehouse.north_response_ids, warehouse.responses, "response_id"
    )
    assert customers <= warehouse.north_customer_ids, _regions_of(
        customers - warehouse.north_customer_ids, warehouse.customers, "customer_id"
    )


def test_regional_edition_segments_and_files_name_the_region(warehouse):
    files, html = warehouse.north.files, warehouse.north.html
    # The slug is the folded name plus a digest of the exact name: "north", "NORTH" get files of their own.
    assert re.fullmatch(r"weekly-report-north-[0-9a-f]{12}\.pdf", files.pdf_path.name)
    assert files.html_path.name == files.pdf_path.with_suffix(".html").name
    # Readable by the people meant to read them (mkstemp alone leaves 0600); LOYALTY_REPORT_FILE_MODE.
    assert stat.S_IMODE(files.pdf_path.stat().st_mode) == 0o644
    assert stat.S_IMODE(files.html_path.stat().st_mode) == 0o644
    assert files.pdf_path.parent == warehouse.settings.reports_dir / WEEK
    assert files.region == REGION
    assert files.refused_urls == []
    assert _segment_names(html, "Region") == [REGION]
    assert set(_retain_regions(html)) <= {REGION, "unknown"}
    assert "Region: North" in warehouse.north.pdf_text


def test_company_wide_edition_of_the_same_week_shows_several_regions(warehouse):
    """The control: without the filter the same week's report names other regions' responses and customers."""
    files, text = warehouse.company.files, warehouse.company.text
    assert files.pdf_path.name == "weekly-report.pdf"
    assert files.region is None
    assert len(set(_segment_names(warehouse.company.html, "Region"))) >= 3

    responses = _ids_in(text, set(warehouse.responses["response_id"]))
    customers = _ids_in(text, set(warehouse.customers["customer_id"]))
    response_regions = _regions_of(responses, warehouse.responses, "response_id") - {"(none)"}
    customer_regions = _regions_of(customers, warehouse.customers, "customer_id") - {"(none)"}
    assert len(response_regions | customer_regions) >= 3, (response_regions, customer_regions)
    assert responses - warehouse.north_response_ids, "the company-wide edition quotes no other region's comment"
    assert customers - warehouse.north_customer_ids, "the company-wide edition names no other region's customer"


def test_unknown_region_is_refused_naming_the_known_regions(warehouse):
    with pytest.raises(ReportInputError) as raised:
        read_report_data.fn(warehouse.settings, WEEK, region="Atlantis")
    message = str(raised.value)
    assert "Atlantis" in message
    for region in ("East", "North", "South", "West"):
        assert region in message
    # Region names are matched exactly: a near miss is an unknown region too, not another region's data.
    with pytest.raises(ReportInputError):
        read_report_data.fn(warehouse.settings, WEEK, region="north")


def _closing_loop_first_cells(html: str, header: str) -> list[str]:
    """First-column cells of the Closing-the-loop table whose header row starts with ``header``."""
    section = html.split("<h3>Closing the loop</h3>", 1)[1].split("<h3>Does reaching out", 1)[0]
    tables = re.findall(r"<table[^>]*>\s*<thead><tr><th>(.*?)</th>(.*?)</table>", section, flags=re.S)
    for first, body in tables:
        if first == header:
            return re.findall(r'<tr[^>]*><td class="text">(.*?)</td>', body)
    return []


def test_the_closing_loop_shows_only_the_regions_cases(warehouse):
    north, company = warehouse.north.html, warehouse.company.html
    assert "<h3>Closing the loop</h3>" in north and "<h3>Does reaching out keep customers?</h3>" in north
    # The company-wide backlog table names every region; the North edition only North.
    assert set(_closing_loop_first_cells(company, "Region")) >= {"All", "North", "South", "East", "West"}
    assert _closing_loop_first_cells(north, "Region") == ["North"]
    assert "Measured company-wide" in north and "Measured company-wide" not in company
    # Teams listed in the North edition are the teams of North cases.
    with get_engine(warehouse.settings.warehouse_url).connect() as conn:
        teams = pd.read_sql(sa.text("select team, region from weekly_cases where week = :w"), conn, params={"w": WEEK})
    north_teams = set(teams.loc[teams["region"] == REGION, "team"].dropna())
    assert set(_closing_loop_first_cells(north, "Team")) <= north_teams


def test_outreach_notes_never_reach_either_edition(warehouse):
    """The demo's notes hold an email address and HTML; the warehouse has them, no report does."""
    with get_engine(warehouse.settings.warehouse_url).connect() as conn:
        notes = pd.read_sql(sa.text("select distinct note from outreach where note is not null"), conn)["note"]
    assert notes.str.contains("@example.com").any() and notes.str.contains("<script>").any()
    for edition in (warehouse.north, warehouse.company):
        for note in notes:
            assert note not in edition.pdf_text and note not in edition.html
        assert "j.smith@example.com" not in edition.text and "alert('hi')" not in edition.text
        assert "alert(&#39;hi&#39;)" not in edition.html
