"""Report charts: deterministic, self-contained, inline-ready SVG; right data on the right marks."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from reports.charts import (
    NO_DATA_MESSAGE,
    OKABE_ITO,
    _cohort_figure,
    _contrasting_text,
    _repurchase_figure,
    _trend_figure,
    cohort_heatmap,
    driver_quadrant,
    repurchase_chart,
    trend_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
WEEKS = [f"2026-W{week:02d}" for week in range(35, 48)]


# --------------------------------------------------------------------------------------------- sample data


def satisfaction_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    nps = 30 + np.cumsum(rng.normal(0, 3, len(WEEKS)))
    csat = 0.78 + np.cumsum(rng.normal(0, 0.01, len(WEEKS)))
    frame = pd.DataFrame(
        {
            "week": WEEKS,
            "nps": nps,
            "nps_ci_low": nps - 8,
            "nps_ci_high": nps + 8,
            "csat": csat,
            "csat_ci_low": csat - 0.04,
            "csat_ci_high": csat + 0.04,
            "responses": rng.integers(80, 250, len(WEEKS)),
            "is_suppressed": False,
        }
    )
    frame.loc[3, ["nps", "nps_ci_low", "nps_ci_high", "csat", "csat_ci_low", "csat_ci_high"]] = np.nan  # a gap
    return frame


def drivers_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver": ["reliability", "responsiveness", "assurance", "empathy", "tangibles"],
            "importance": [0.31, 0.27, 0.18, 0.14, 0.10],
            "top2_share": [0.62, 0.71, 0.80, 0.78, 0.69],
            "mean": [3.8, 4.0, 4.3, 4.2, 3.9],
            "is_estimable": True,
        }
    )


def cohort_frame() -> pd.DataFrame:
    rows = []
    months = [str(month) for month in pd.period_range("2025-09", "2026-05", freq="M")]
    for index, month in enumerate(months):
        for since in range(len(months) - index):
            share = 1.0 if since == 0 else round(0.45 * np.exp(-since / 6), 4)
            rows.append(
                {"cohort_month": month, "months_since": since, "cohort_size": 100 + index, "customer_share": share}
            )
    frame = pd.DataFrame(rows)
    # The hand-checked cell: the latest cohort, 123 customers, month 0 at 41.67% (an odd month 0, on purpose).
    latest = frame["cohort_month"] == "2026-05"
    frame.loc[latest, "cohort_size"] = 123
    frame.loc[latest, "customer_share"] = 0.4167
    return frame


def repurchase_frame() -> pd.DataFrame:
    """Kaplan-Meier curves, days 0..90: promoters buy again at a daily hazard of 1%, detractors 0.4%,
    passives 0.7% (S(d) = (1 - h)^d); "all" is not a group and must not be drawn."""
    rows = []
    for group, hazard, size in (
        ("promoter", 0.01, 1210),
        ("passive", 0.007, 540),
        ("detractor", 0.004, 312),
        ("all", 0.008, 2062),
    ):
        for day in range(91):
            survival = (1 - hazard) ** day
            rows.append(
                {
                    "nps_group": group,
                    "day": day,
                    "at_risk": size - day,
                    "survival": survival,
                    "ci_low": max(survival - 0.03, 0),
                    "ci_high": min(survival + 0.03, 1),
                }
            )
    return pd.DataFrame(rows)


CHARTS: list[tuple[str, Callable[..., str], Callable[[], pd.DataFrame]]] = [
    ("trend", trend_chart, satisfaction_frame),
    ("drivers", driver_quadrant, drivers_frame),
    ("cohort", cohort_heatmap, cohort_frame),
    ("repurchase", repurchase_chart, repurchase_frame),
]
CHART_IDS = [name for name, _, _ in CHARTS]
DEFAULT_PREFIXES = {"trend": "trend-", "drivers": "drivers-", "cohort": "cohort-", "repurchase": "repurchase-"}


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """Each chart rendered once from its sample data (rendering dominates this module's run time)."""
    return {name: chart(sample()) for name, chart, sample in CHARTS}


# --------------------------------------------------------------------------------------------- helpers


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(svg: str) -> list[str]:
    return ["".join(element.itertext()) for element in parse(svg).iter(f"{SVG}text")]


def ids_of(svg: str) -> set[str]:
    return {element.get("id") for element in parse(svg).iter() if element.get("id") is not None}


def references_of(svg: str) -> set[str]:
    """Every id an element points at: url(#...) in any attribute (style included) and #-hrefs."""
    found: set[str] = set()
    for element in parse(svg).iter():
        for key, value in element.attrib.items():
            found.update(re.findall(r"url\(#([^)]+)\)", value))
            if key in ("href", XLINK_HREF) and value.startswith("#"):
                found.add(value[1:])
    return found


def empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[0:0].copy()


# --------------------------------------------------------------------------------------------- output format


@pytest.mark.parametrize(("name", "chart", "sample"), CHARTS, ids=CHART_IDS)
def test_output_is_byte_identical_for_the_same_input(name: str, chart: Callable[..., str], sample) -> None:
    first = chart(sample())
    second = chart(sample())
    assert isinstance(first, str)
    assert first.encode() == second.encode()


@pytest.mark.parametrize("name", CHART_IDS)
def test_output_is_inline_ready_scalable_svg(name: str, rendered: dict[str, str]) -> None:
    svg = rendered[name]
    assert svg.startswith("<svg")  # no XML prolog or DOCTYPE, which are invalid inside HTML
    assert "<!DOCTYPE" not in svg and "<?xml" not in svg
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == "100%"
    assert root.get("height") is None  # the viewBox keeps the aspect ratio
    width, height = (float(value) for value in root.get("viewBox", "").split()[2:])
    assert 470 < width < 495  # about 170 mm in points
    assert 0 < height < 400
    assert root.find(f"{SVG}metadata") is None
    # matplotlib's global "*" stylesheet would restyle the whole HTML page; it must be gone.
    assert root.find(f".//{SVG}style") is None


@pytest.mark.parametrize("name", CHART_IDS)
def test_text_stays_text_and_nothing_is_rasterised(name: str, rendered: dict[str, str]) -> None:
    svg = rendered[name]
    assert texts(svg), "svg.fonttype none keeps labels as <text> elements"
    assert "<image" not in svg  # the report must stay vector, colourbar included
    assert "DejaVu Sans" in svg


@pytest.mark.parametrize("name", CHART_IDS)
def test_every_id_is_prefixed_and_every_reference_resolves(name: str, rendered: dict[str, str]) -> None:
    svg = rendered[name]
    ids = ids_of(svg)
    references = references_of(svg)
    assert ids and references  # matplotlib always emits clip paths and marker/tick definitions
    assert all(element_id.startswith(DEFAULT_PREFIXES[name]) for element_id in ids)
    assert references <= ids


@pytest.mark.parametrize(("name", "chart", "sample"), CHARTS, ids=CHART_IDS)
def test_custom_prefix_is_applied(name: str, chart: Callable[..., str], sample) -> None:
    svg = chart(sample(), prefix="page2-")
    assert all(element_id.startswith("page2-") for element_id in ids_of(svg))
    assert references_of(svg) <= ids_of(svg)


def test_charts_in_one_page_never_share_an_id(rendered: dict[str, str]) -> None:
    names = list(rendered)
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            assert not ids_of(rendered[first]) & ids_of(rendered[second]), (first, second)
    # The same chart twice on a page (two editions, say) is safe with different prefixes.
    assert not ids_of(trend_chart(satisfaction_frame(), prefix="a-")) & ids_of(
        trend_chart(satisfaction_frame(), prefix="b-")
    )


def test_an_unsafe_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        trend_chart(satisfaction_frame(), prefix='x" onload="alert(1)')


@pytest.mark.parametrize("name", CHART_IDS)
def test_nothing_external_is_referenced(name: str, rendered: dict[str, str]) -> None:
    svg = rendered[name]
    for element in parse(svg).iter():
        for key, value in element.attrib.items():
            if key in ("href", XLINK_HREF, "src"):
                assert value.startswith("#"), (key, value)
            for target in re.findall(r"url\(([^)]*)\)", value):
                assert target.startswith("#"), target
    # Namespace declarations are names, not fetches; anything else mentioning a scheme or a path is a leak.
    body = re.sub(r'\sxmlns(?::\w+)?="[^"]*"', "", svg)
    assert "http" not in body
    assert "file:" not in body
    assert not re.search(r'(?:href|src)="/', body)


# --------------------------------------------------------------------------------------------- empty input


def _all_nan(name: str) -> pd.DataFrame:
    frame = dict((chart_name, sample) for chart_name, _, sample in CHARTS)[name]()
    value_columns = {
        "trend": ["nps", "nps_ci_low", "nps_ci_high", "csat", "csat_ci_low", "csat_ci_high"],
        "drivers": ["importance", "top2_share", "mean"],
        "cohort": ["customer_share"],
        "repurchase": ["survival", "ci_low", "ci_high"],
    }[name]
    frame[value_columns] = np.nan
    return frame


@pytest.mark.parametrize(("name", "chart", "sample"), CHARTS, ids=CHART_IDS)
@pytest.mark.parametrize("kind", ["no rows", "no columns", "all NaN"])
def test_placeholder_when_there_is_nothing_to_plot(name: str, chart: Callable[..., str], sample, kind: str) -> None:
    frame = {"no rows": lambda: empty_like(sample()), "no columns": pd.DataFrame, "all NaN": lambda: _all_nan(name)}[
        kind
    ]()
    svg = chart(frame)
    assert NO_DATA_MESSAGE in texts(svg)
    root = parse(svg)
    assert root.get("width") == "100%" and root.get("viewBox")
    assert all(element_id.startswith(DEFAULT_PREFIXES[name]) for element_id in ids_of(svg))
    assert references_of(svg) <= ids_of(svg)


def test_non_estimable_drivers_alone_give_the_placeholder() -> None:
    assert NO_DATA_MESSAGE in texts(driver_quadrant(drivers_frame().assign(is_estimable=False)))


# --------------------------------------------------------------------------------------------- purity


@pytest.mark.parametrize(("name", "chart", "sample"), CHARTS, ids=CHART_IDS)
def test_inputs_are_not_mutated(name: str, chart: Callable[..., str], sample) -> None:
    frame = sample()
    if name == "trend":
        frame.loc[5, "is_suppressed"] = True
        frame = frame.sample(frac=1, random_state=1)  # unsorted on purpose: sorting must happen on a copy
    before = frame.copy(deep=True)
    chart(frame)
    pd.testing.assert_frame_equal(frame, before)


# --------------------------------------------------------------------------------------------- trend


def test_trend_labels_weeks_short_and_puts_them_in_order(rendered: dict[str, str]) -> None:
    labels = texts(rendered["trend"])
    assert "W47" in labels  # the latest week is always labelled
    assert not any(label.startswith("2026-W") for label in labels)
    shuffled = satisfaction_frame().sample(frac=1, random_state=7)
    assert trend_chart(shuffled) == rendered["trend"]


def test_trend_fills_weeks_missing_from_the_input_as_gaps() -> None:
    figure = _trend_figure(satisfaction_frame().drop(index=6))
    assert figure is not None
    nps_line = figure.axes[0].get_lines()[0]
    assert len(nps_line.get_xdata()) == len(WEEKS)
    assert np.isnan(np.asarray(nps_line.get_ydata(), dtype=float)[6])


def test_a_suppressed_week_is_not_plotted() -> None:
    suppressed = satisfaction_frame()
    suppressed.loc[8, ["nps", "nps_ci_low", "nps_ci_high", "is_suppressed"]] = [99.0, 98.0, 100.0, True]
    figure = _trend_figure(suppressed)
    assert figure is not None
    nps_axes = figure.axes[0]
    plotted = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in nps_axes.get_lines()])
    assert np.isnan(plotted[8])
    assert np.nanmax(plotted) < 60
    assert nps_axes.get_ylim()[1] < 90  # the outlier does not even stretch the axis
    # Rendering a suppressed week is the same as rendering a week without data.
    blank = satisfaction_frame()
    blank.loc[8, ["nps", "nps_ci_low", "nps_ci_high", "csat", "csat_ci_low", "csat_ci_high"]] = np.nan
    assert trend_chart(suppressed) == trend_chart(blank)


def test_trend_refuses_several_rows_per_week() -> None:
    doubled = pd.concat([satisfaction_frame(), satisfaction_frame()])
    with pytest.raises(ValueError, match="overall"):
        trend_chart(doubled)


def test_trend_shows_csat_in_percent() -> None:
    frame = satisfaction_frame()
    figure = _trend_figure(frame)
    assert figure is not None
    csat = np.asarray(figure.axes[1].get_lines()[0].get_ydata(), dtype=float)
    np.testing.assert_allclose(csat[~np.isnan(csat)], frame["csat"].dropna().to_numpy() * 100)
    assert f"{frame['csat'].iloc[-1] * 100:.0f}%" in texts(trend_chart(frame))


# --------------------------------------------------------------------------------------------- drivers


def test_quadrant_labels_every_estimable_driver_and_captions_the_quadrants(rendered: dict[str, str]) -> None:
    labels = texts(rendered["drivers"])
    for name in ["Reliability", "Responsiveness", "Assurance", "Empathy", "Tangibles"]:
        assert name in labels
    for caption in ["Fix first", "Keep up", "Maintain", "Lower priority"]:
        assert caption in labels


def test_quadrant_skips_non_estimable_and_unweighted_drivers() -> None:
    frame = drivers_frame()
    frame.loc[frame["driver"] == "empathy", "is_estimable"] = False
    frame.loc[frame["driver"] == "tangibles", "importance"] = np.nan
    labels = texts(driver_quadrant(frame))
    assert "Empathy" not in labels and "Tangibles" not in labels
    assert "Reliability" in labels


def _driver_marks(svg: str) -> dict[str, list[str]]:
    """Marker fill colour -> the path data of the marker shape each point of that colour uses."""
    root = parse(svg)
    shapes = {element.get("id"): element.get("d") for element in root.iter(f"{SVG}path") if element.get("id")}
    marks: dict[str, list[str]] = {}
    for use in root.iter(f"{SVG}use"):
        fill = re.search(r"fill: (#[0-9a-fA-F]{6})", use.get("style", ""))
        href = use.get("{http://www.w3.org/1999/xlink}href", "").lstrip("#")
        if fill and fill.group(1).lower() in {OKABE_ITO["blue"].lower(), OKABE_ITO["vermillion"].lower()}:
            marks.setdefault(fill.group(1).lower(), []).append(shapes[href])
    return marks


def test_quadrant_marks_fix_first_drivers_in_a_second_shape_and_colour(rendered: dict[str, str]) -> None:
    # By hand from drivers_frame: importance x = 31, 27, 18, 14, 10 (mean 20), performance y = 62, 71, 80, 78,
    # 69 (mean 72). Fix first (x >= 20 and y < 72): reliability and responsiveness; the other three are not.
    marks = _driver_marks(rendered["drivers"])
    vermillion, blue = marks[OKABE_ITO["vermillion"].lower()], marks[OKABE_ITO["blue"].lower()]
    assert (len(vermillion), len(blue)) == (2, 3)
    # One shape per colour, and a different one: straight-sided diamonds against curved circles.
    assert len(set(vermillion)) == 1 and len(set(blue)) == 1 and set(vermillion) != set(blue)
    assert "C" not in vermillion[0] and vermillion[0].count("L") >= 3
    assert "C" in blue[0]


# --------------------------------------------------------------------------------------------- cohorts


def test_heatmap_annotates_cells_by_hand_computed_percentages(rendered: dict[str, str]) -> None:
    labels = texts(rendered["cohort"])
    assert "42%" in labels  # 0.4167 -> 42%
    assert f"{0.45 * np.exp(-1 / 6) * 100:.0f}%" in labels  # month 1 of the older cohorts: 38%
    assert "2026-05 (n=123)" in labels
    assert "Customers active (%)" in labels


def test_heatmap_keeps_the_most_recent_cohorts_and_months() -> None:
    labels = texts(cohort_heatmap(cohort_frame(), max_cohorts=3, max_months=2))
    rows = [label for label in labels if re.fullmatch(r"\d{4}-\d{2} \(n=[\d,]+\)", label)]
    assert rows == ["2026-03 (n=106)", "2026-04 (n=107)", "2026-05 (n=123)"]  # oldest on top
    figure = _cohort_figure(cohort_frame(), max_cohorts=3, max_months=2)
    assert figure is not None
    # 2026-03 has months 0-2 (2 kept), 2026-04 months 0-1, 2026-05 month 0 only.
    assert [text.get_text() for text in figure.axes[0].texts] == ["100%", "38%", "100%", "38%", "42%"]


def test_heatmap_leaves_missing_cells_blank() -> None:
    frame = cohort_frame()
    full = _cohort_figure(frame, max_cohorts=12, max_months=12)
    fewer = _cohort_figure(frame.drop(index=1), max_cohorts=12, max_months=12)  # 2025-09, month 1
    assert full is not None and fewer is not None
    assert len(fewer.axes[0].texts) == len(full.axes[0].texts) - 1
    mesh = fewer.axes[0].collections[0]
    assert np.ma.getmaskarray(mesh.get_array()).reshape(9, 12)[0, 1]


@pytest.mark.parametrize(
    ("colour", "expected"), [((0.0, 0.13, 0.3, 1.0), "#FFFFFF"), ((1.0, 0.92, 0.27, 1.0), "#000000")]
)
def test_cell_text_contrasts_with_its_background(colour: tuple[float, ...], expected: str) -> None:
    assert _contrasting_text(colour) == expected


# --------------------------------------------------------------------------------------------- repurchase


def test_repurchase_curves_show_each_group_with_its_share_at_90_days(rendered: dict[str, str]) -> None:
    figure = _repurchase_figure(repurchase_frame())
    assert figure is not None
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend == ["Promoters (n=1,210)", "Passives (n=540)", "Detractors (n=312)"]  # "all" is not a group
    labels = texts(rendered["repurchase"])
    # Bought again by day 90: 1 - (1 - h)^90 = 59.5% (1%), 46.9% (0.7%), 30.3% (0.4%).
    for hazard in (0.01, 0.007, 0.004):
        assert f"{(1 - (1 - hazard) ** 90) * 100:.0f}%" in labels
    assert "60%" in labels and "47%" in labels and "30%" in labels


def test_repurchase_skips_groups_without_a_curve() -> None:
    frame = repurchase_frame()
    frame = frame.loc[frame["nps_group"] != "passive"]
    figure = _repurchase_figure(frame)
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend == ["Promoters (n=1,210)", "Detractors (n=312)"]


def test_heatmap_puts_existing_customers_on_top_and_marks_the_partial_month() -> None:
    frame = cohort_frame()
    existing = frame.loc[frame["cohort_month"] == frame["cohort_month"].min()].assign(
        cohort_month="existing before 2025-06-02", cohort_size=900
    )
    frame = pd.concat([existing, frame], ignore_index=True)
    frame["is_partial_month"] = frame["cohort_month"].eq("2026-05") & frame["months_since"].eq(0)
    figure = _cohort_figure(frame, max_cohorts=4, max_months=3)
    rows = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    # The existing customers first, then the latest three month cohorts.
    assert rows == ["existing before 2025-06-02 (n=900)", "2026-03 (n=106)", "2026-04 (n=107)", "2026-05 (n=123)"]
    cell_texts = [text.get_text() for text in figure.axes[0].texts]
    assert cell_texts[-1] == "42%*" and sum(t.endswith("*") for t in cell_texts) == 1
    assert "partial" in figure.axes[0].get_xlabel()
