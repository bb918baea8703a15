"""Charts of the weekly leadership report, as inline SVG strings.

This module owns how the report's four charts look and how they are serialised: the NPS/CSAT trend, the
service-driver quadrant, the cohort-retention heatmap and repurchase by NPS group. Each public function
takes an analytics output frame, never mutates it, and returns an SVG fragment ready to be inlined in the
report's HTML (which WeasyPrint turns into PDF), so the charts stay vector in both.

Rendering rules, and why:
- Figures are plain `matplotlib.figure.Figure` objects, never pyplot, so no global figure state leaks
  between charts, threads or tests.
- SVG output is byte-identical for the same input: fixed `svg.hashsalt`, no date or creator metadata,
  text kept as `<text>` (`svg.fonttype: none`) so labels stay searchable and crisp.
- Several charts share one HTML document, so every id and every reference to one is prefixed per chart.
- Nothing external is referenced: no fonts, images or stylesheets, and no raster images at all.
- Colours are colour-blind safe (Okabe-Ito for categories, cividis for the heatmap), and colour is never
  the only cue: markers, direct labels and captions carry the same information.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
from matplotlib.ticker import FixedLocator, MaxNLocator, MultipleLocator, PercentFormatter

from analytics.weeks import iso_week_range

__all__ = [
    "NO_DATA_MESSAGE",
    "OKABE_ITO",
    "cohort_heatmap",
    "driver_quadrant",
    "outreach_effect_chart",
    "repurchase_chart",
    "trend_chart",
]

# The Okabe-Ito palette (Okabe & Ito 2008): eight colours distinguishable under the common colour-vision
# deficiencies. Names are the authors'; the order is theirs too.
OKABE_ITO: Final[Mapping[str, str]] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
HEATMAP_CMAP: Final = "cividis"
NO_DATA_MESSAGE: Final = "Not enough data for this chart"

_MM_PER_INCH: Final = 25.4
_WIDTH_MM: Final = 170.0  # A4 (210 mm) less 20 mm margins each side: the report's content width.
_INK: Final = "#333333"
_MUTED: Final = "#666666"
_GRID: Final = "#DDDDDD"
_REFERENCE_LINE: Final = "#888888"

_STYLE: Final[dict[str, Any]] = {
    # Text kept as <text>, in a font WeasyPrint finds locally; no outlines, no embedded font files.
    "svg.fonttype": "none",
    "svg.image_inline": True,
    # DejaVu Sans is what the layout was measured with; the generic fallback only matters to a browser or
    # mail client without it (matplotlib writes both into each <text>'s font-family).
    "font.family": ["DejaVu Sans", "sans-serif"],
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 6,
    "axes.titlecolor": _INK,
    "axes.labelsize": 8,
    "axes.labelcolor": _INK,
    "axes.edgecolor": _MUTED,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": _GRID,
    "grid.linewidth": 0.5,
    "grid.linestyle": "-",
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "xtick.color": _MUTED,
    "ytick.color": _MUTED,
    "xtick.labelcolor": _INK,
    "ytick.labelcolor": _INK,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 3,
    "ytick.major.size": 3,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "lines.linewidth": 1.5,
    "lines.markersize": 4.5,
    "text.color": _INK,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.constrained_layout.h_pad": 0.04,
    "figure.constrained_layout.w_pad": 0.04,
}

# Chart-specific salts: matplotlib derives clip-path and marker ids from a hash of the path and this salt,
# so a fixed salt is what makes output reproducible. Prefixes (below) are what keep ids unique per page.
_SALTS: Final[dict[str, str]] = {
    "trend": "loyalty-report-trend",
    "drivers": "loyalty-report-drivers",
    "cohort": "loyalty-report-cohort",
    "repurchase": "loyalty-report-repurchase",
    "outreach": "loyalty-report-outreach",
}


# --------------------------------------------------------------------------------------------- rendering


@contextmanager
def _style(chart: str) -> Iterator[None]:
    """Apply the report style; used both when building a figure (artists read rcParams when created)
    and when saving it (the SVG backend reads svg.* rcParams at save time)."""
    with matplotlib.rc_context({**_STYLE, "svg.hashsalt": _SALTS[chart]}):
        yield


def _figure(height_mm: float) -> Figure:
    return Figure(figsize=(_WIDTH_MM / _MM_PER_INCH, height_mm / _MM_PER_INCH), layout="constrained")


_PROLOG = re.compile(r"\A.*?(?=<svg[\s>])", re.DOTALL)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_STYLE_ELEMENT = re.compile(r"\s*<style[^>]*>.*?</style>", re.DOTALL)
_EMPTY_DEFS = re.compile(r"\s*<defs>\s*</defs>")
_TAG = re.compile(r"<[^>]+>")  # matplotlib escapes "<" and ">" in text and attribute values
_ID_ATTRIBUTE = re.compile(r'(\sid=")([^"]*)(")')
_HREF_ATTRIBUTE = re.compile(r'(\s(?:xlink:)?href="#)([^"]*)(")')
_URL_REFERENCE = re.compile(r"(url\(#)([^)]*)(\))")
_VALID_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


def _prefix_tag(tag: str, prefix: str) -> str:
    def add(match: re.Match[str]) -> str:
        return f"{match.group(1)}{prefix}{match.group(2)}{match.group(3)}"

    for pattern in (_ID_ATTRIBUTE, _HREF_ATTRIBUTE, _URL_REFERENCE):
        tag = pattern.sub(add, tag)
    return tag


def _fix_root(tag: str, label: str) -> str:
    """Make the root <svg> scale with its container: width 100%, no fixed height, keep the viewBox."""
    tag = re.sub(r'\s(?:width|height)="[^"]*"', "", tag)
    # matplotlib sets these stroke defaults in a global "*" CSS rule; as inherited presentation attributes
    # on the root they apply to this chart only instead of to every element of the HTML page.
    extra = f' width="100%" stroke-linejoin="round" stroke-linecap="butt" role="img" aria-label="{_attr(label)}"'
    return tag[:-1] + extra + ">"


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _to_svg(fig: Figure, *, chart: str, prefix: str, label: str) -> str:
    """Serialise `fig` to an inline-ready SVG string with every id and id reference prefixed."""
    if not _VALID_PREFIX.match(prefix):
        raise ValueError(f"prefix must start with a letter and use only letters, digits, '_', '.', '-': {prefix!r}")
    buffer = io.BytesIO()
    with _style(chart):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue().decode("utf-8")
    svg = _PROLOG.sub("", svg, count=1)  # XML prolog and DOCTYPE are not allowed mid-HTML
    svg = _METADATA.sub("", svg, count=1)  # RDF boilerplate with URLs and nothing for the reader
    svg = _STYLE_ELEMENT.sub("", svg)
    svg = _EMPTY_DEFS.sub("", svg)  # what is left of <defs> once the stylesheet is gone
    svg = _TAG.sub(lambda match: _prefix_tag(match.group(0), prefix), svg)
    root = re.match(r"<svg[^>]*>", svg)
    if root is None:
        raise RuntimeError("matplotlib produced SVG without a root <svg> element")
    return _fix_root(root.group(0), label) + svg[root.end() :].rstrip() + "\n"


def _placeholder(*, chart: str, prefix: str, title: str) -> str:
    """A small chart-sized note, so the report layout holds when a chart has nothing to show."""
    with _style(chart):
        fig = _figure(22)
        fig.text(0.0, 0.95, title, ha="left", va="top", fontsize=9, fontweight="bold", color=_INK)
        fig.text(0.5, 0.42, NO_DATA_MESSAGE, ha="center", va="center", fontsize=9, color=_MUTED)
    return _to_svg(fig, chart=chart, prefix=prefix, label=f"{title}: {NO_DATA_MESSAGE}")


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    """A boolean column where missing counts as False (nullable booleans and objects alike)."""
    return frame[column].astype("boolean").fillna(False).astype(bool)


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing columns: {', '.join(missing)}")


def _whole_number_ticks(axis: Any, *, percent: bool = False) -> None:
    """Ticks on whole numbers only: labels are printed without decimals, and steps such as 2.5 would make
    neighbouring labels read the same ("78%", "78%")."""
    axis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 5, 10], integer=True))
    if percent:
        axis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))


# --------------------------------------------------------------------------------------------- trend

_TREND_TITLE: Final = "NPS and CSAT by week"
_TREND_COLUMNS: Final = [
    "week",
    "nps",
    "nps_ci_low",
    "nps_ci_high",
    "csat",
    "csat_ci_low",
    "csat_ci_high",
    "responses",
    "is_suppressed",
]


def trend_chart(satisfaction: pd.DataFrame, *, prefix: str = "trend-") -> str:
    """NPS and CSAT by ISO week, side by side, each with its 95% confidence band.

    `satisfaction` has one row per week (the overall cell of weekly_satisfaction). Weeks missing from the
    sequence, weeks with NaN values and suppressed weeks show as gaps rather than points.
    """
    fig = _trend_figure(satisfaction)
    if fig is None:
        return _placeholder(chart="trend", prefix=prefix, title=_TREND_TITLE)
    return _to_svg(fig, chart="trend", prefix=prefix, label=_TREND_TITLE)


def _trend_figure(satisfaction: pd.DataFrame) -> Figure | None:
    if satisfaction.empty:  # no rows at all, even without columns: the report's "nothing yet" case
        return None
    _require(satisfaction, _TREND_COLUMNS, "satisfaction")
    if satisfaction["week"].duplicated().any():
        raise ValueError("satisfaction has several rows for one week; pass only the overall rows")
    weeks = iso_week_range(min(satisfaction["week"]), max(satisfaction["week"]))
    data = satisfaction.set_index("week").reindex(weeks)
    # Suppressed weeks have too few responses to publish; they must not appear, not even as a faint point.
    hidden = _flag(data, "is_suppressed").to_numpy()
    columns = {
        name: np.where(hidden, np.nan, _numeric(data, name).to_numpy())
        for name in ("nps", "nps_ci_low", "nps_ci_high", "csat", "csat_ci_low", "csat_ci_high")
    }
    if np.isnan(columns["nps"]).all() and np.isnan(columns["csat"]).all():
        return None

    positions = np.arange(len(weeks), dtype=float)
    with _style("trend"):
        fig = _figure(68)
        nps_axes, csat_axes = fig.subplots(1, 2)
        _trend_panel(
            nps_axes,
            positions,
            columns["nps"],
            columns["nps_ci_low"],
            columns["nps_ci_high"],
            colour=OKABE_ITO["blue"],
            marker="o",
            title="Net Promoter Score",
            ylabel="NPS (−100 to 100)",
            bounds=(-100.0, 100.0),
            value_format="{:.0f}",
        )
        _trend_panel(
            csat_axes,
            positions,
            columns["csat"] * 100,
            columns["csat_ci_low"] * 100,
            columns["csat_ci_high"] * 100,
            colour=OKABE_ITO["vermillion"],
            marker="s",
            title="Customer satisfaction",
            ylabel="CSAT (% satisfied)",
            bounds=(0.0, 100.0),
            value_format="{:.0f}%",
        )
        _whole_number_ticks(nps_axes.yaxis)
        _whole_number_ticks(csat_axes.yaxis, percent=True)
        for axes in (nps_axes, csat_axes):
            _week_ticks(axes, weeks)
        years = sorted({week[:4] for week in weeks})
        caption = f"ISO week, {'–'.join([years[0], years[-1]] if len(years) > 1 else years)}"
        if hidden.any() or np.isnan(columns["nps"]).any() or np.isnan(columns["csat"]).any():
            caption += "  ·  gaps: no data or too few responses to report"
        caption += "  ·  band: 95% confidence interval"
        fig.supxlabel(caption, fontsize=8, color=_MUTED)
    return fig


def _trend_panel(
    axes: Axes,
    positions: np.ndarray,
    values: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    *,
    colour: str,
    marker: str,
    title: str,
    ylabel: str,
    bounds: tuple[float, float],
    value_format: str,
) -> None:
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.grid(axis="x", visible=False)  # week ticks are categorical; vertical lines would only add noise
    axes.set_xlim(positions[0] - 0.5, positions[-1] + 0.5)
    plotted = ~np.isnan(values)
    if not plotted.any():
        axes.text(0.5, 0.5, "No reportable weeks", transform=axes.transAxes, ha="center", color=_MUTED)
        axes.set_ylim(*bounds)
        return
    band = ~np.isnan(low) & ~np.isnan(high) & plotted
    axes.fill_between(positions, low, high, where=band, color=colour, alpha=0.18, linewidth=0, interpolate=False)
    axes.plot(positions, values, color=colour, marker=marker, markeredgecolor="white", markeredgewidth=0.6)
    # A week with no reportable neighbour gets no band (a band needs two ends); show its interval as a
    # whisker instead so its uncertainty is not silently dropped.
    before = np.concatenate([[False], band[:-1]])
    after = np.concatenate([band[1:], [False]])
    alone = band & ~before & ~after
    if alone.any():
        axes.errorbar(
            positions[alone],
            values[alone],
            yerr=np.vstack([values[alone] - low[alone], high[alone] - values[alone]]).clip(min=0),
            fmt="none",
            ecolor=colour,
            alpha=0.5,
            elinewidth=1.0,
            capsize=0,
        )

    # Zoom to the data (a flat line on a -100..100 axis says nothing) but never past the scale's bounds.
    shown = np.concatenate([values[plotted], low[band], high[band]])
    lowest, highest = float(shown.min()), float(shown.max())
    pad = max((highest - lowest) * 0.15, 3.0)
    axes.set_ylim(max(bounds[0], lowest - pad), min(bounds[1], highest + pad))

    # Label the latest reportable value: the number leadership reads first.
    last = int(np.flatnonzero(plotted)[-1])
    axes.annotate(
        value_format.format(values[last]),
        xy=(positions[last], values[last]),
        xytext=(0, 6),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=8,
        fontweight="bold",
        color=colour,
    )


def _week_ticks(axes: Axes, weeks: list[str]) -> None:
    # Half an A4 column fits about eight "W47" labels; beyond that label every other week, counting back
    # from the latest so the current week is always labelled.
    step = 1 if len(weeks) <= 8 else 2
    labelled = list(range(len(weeks) - 1, -1, -step))[::-1]
    axes.xaxis.set_major_locator(FixedLocator([float(index) for index in labelled]))
    axes.set_xticklabels([f"W{weeks[index][-2:]}" for index in labelled])
    axes.xaxis.set_minor_locator(MultipleLocator(1))
    axes.tick_params(axis="x", which="minor", length=2)


# --------------------------------------------------------------------------------------------- drivers

_DRIVERS_TITLE: Final = "Service drivers: importance vs performance"
_DRIVER_COLUMNS: Final = ["driver", "importance", "top2_share", "mean", "is_estimable"]
# Corners of the plot always fall in the quadrant they caption, wherever the mean lines end up.
_QUADRANTS: Final = (
    # (caption, x in axes fraction, y in axes fraction, horizontal alignment, vertical alignment)
    ("Fix first", 0.99, 0.02, "right", "bottom"),
    ("Keep up", 0.99, 0.98, "right", "top"),
    ("Maintain", 0.01, 0.98, "left", "top"),
    ("Lower priority", 0.01, 0.02, "left", "bottom"),
)
_TEXT_TO_PATH: Final = TextToPath()  # measures label extents without a rendering canvas


def driver_quadrant(drivers: pd.DataFrame, *, prefix: str = "drivers-") -> str:
    """Importance (x) against performance (top-2-box share, y) of each service driver, split into
    quadrants at the mean importance and mean performance. Non-estimable drivers are left out."""
    fig = _driver_figure(drivers)
    if fig is None:
        return _placeholder(chart="drivers", prefix=prefix, title=_DRIVERS_TITLE)
    return _to_svg(fig, chart="drivers", prefix=prefix, label=_DRIVERS_TITLE)


def _driver_figure(drivers: pd.DataFrame) -> Figure | None:
    if drivers.empty:  # no rows at all, even without columns: the report's "nothing yet" case
        return None
    _require(drivers, _DRIVER_COLUMNS, "drivers")
    usable = _flag(drivers, "is_estimable") & _numeric(drivers, "importance").notna()
    usable &= _numeric(drivers, "top2_share").notna()
    if not usable.any():
        return None
    names = [str(name).replace("_", " ").title() for name in drivers.loc[usable, "driver"]]
    x = _numeric(drivers, "importance")[usable].to_numpy() * 100
    y = _numeric(drivers, "top2_share")[usable].to_numpy() * 100
    x_split, y_split = float(x.mean()), float(y.mean())
    fix_first = (x >= x_split) & (y < y_split)

    with _style("drivers"):
        fig = _figure(80)
        axes = fig.subplots()
        axes.set_title(_DRIVERS_TITLE)
        axes.set_xlabel("Importance (% of explained variance in NPS)")
        axes.set_ylabel("Performance (% rating 4 or 5)")
        _whole_number_ticks(axes.xaxis, percent=True)
        _whole_number_ticks(axes.yaxis, percent=True)
        x_pad = max(float(np.ptp(x)) * 0.25, 4.0)
        y_pad = max(float(np.ptp(y)) * 0.25, 4.0)
        axes.set_xlim(max(0.0, x.min() - x_pad), min(100.0, x.max() + x_pad))
        axes.set_ylim(max(0.0, y.min() - y_pad), min(100.0, y.max() + y_pad))
        axes.axvline(x_split, color=_REFERENCE_LINE, linestyle="--", linewidth=0.8, zorder=1)
        axes.axhline(y_split, color=_REFERENCE_LINE, linestyle="--", linewidth=0.8, zorder=1)
        for caption, cx, cy, ha, va in _QUADRANTS:
            axes.text(cx, cy, caption, transform=axes.transAxes, ha=ha, va=va, color="#9A9A9A", style="italic")
        # "Fix first" points differ in shape and colour, so the message survives greyscale printing.
        axes.scatter(x[~fix_first], y[~fix_first], s=36, marker="o", color=OKABE_ITO["blue"], zorder=3)
        axes.scatter(x[fix_first], y[fix_first], s=44, marker="D", color=OKABE_ITO["vermillion"], zorder=3)
        _label_points(fig, axes, x, y, names, np.lexsort((-x, ~fix_first)))
    return fig


def _label_points(fig: Figure, axes: Axes, x: np.ndarray, y: np.ndarray, names: list[str], order: np.ndarray) -> None:
    """Label each point, choosing per label the first nearby spot that stays inside the plot and clears
    every marker, every label already placed and the quadrant captions; far spots get a leader line.

    Drivers often score alike, so "always to the right" would stack labels on top of each other. Points are
    labelled in `order` (most important first) so those get the closest spots.
    """
    fig.draw_without_rendering()  # settle the constrained layout so data -> points is final
    to_points = 72.0 / fig.dpi
    points = axes.transData.transform(np.column_stack([x, y])) * to_points
    frame = axes.get_window_extent()
    inside = (frame.x0 * to_points, frame.y0 * to_points, frame.x1 * to_points, frame.y1 * to_points)
    font = FontProperties(family=_STYLE["font.family"], size=8)
    caption_font = FontProperties(family=_STYLE["font.family"], size=8, style="italic")
    # Obstacles are (x0, y0, x1, y1) boxes in points: markers first, then the captions in the corners.
    obstacles = [(px - 4.5, py - 4.5, px + 4.5, py + 4.5) for px, py in points]
    for caption, cx, cy, ha, va in _QUADRANTS:
        width, height = _text_size(caption, caption_font)
        left = inside[0] + cx * (inside[2] - inside[0]) - (width if ha == "right" else 0.0)
        bottom = inside[1] + cy * (inside[3] - inside[1]) - (height if va == "top" else 0.0)
        obstacles.append((left, bottom, left + width, bottom + height))
    for i in order:
        width, height = _text_size(names[i], font)
        px, py = points[i]
        chosen = None
        for dx, dy in _LABEL_OFFSETS:
            left = px + dx - (width if dx < 0 else width / 2 if dx == 0 else 0.0)
            bottom = py + dy - (height / 2 if dy == 0 else height if dy < 0 else 0.0)
            box = (left, bottom, left + width, bottom + height)
            within = box[0] >= inside[0] and box[2] <= inside[2] and box[1] >= inside[1] and box[3] <= inside[3]
            if within and not any(_overlaps(box, other) for j, other in enumerate(obstacles) if j != i):
                chosen = (dx, dy, box)
                break
        if chosen is None:  # crowded beyond repair: fall back to the plain spot rather than dropping a name
            dx, dy = _LABEL_OFFSETS[0]
            chosen = (dx, dy, (px + dx, py - height / 2, px + dx + width, py + height / 2))
        dx, dy, box = chosen
        obstacles.append(box)
        far = abs(dx) > 8 or abs(dy) > 8
        axes.annotate(
            names[i],
            xy=(x[i], y[i]),
            xytext=(dx, dy),
            textcoords="offset points",
            ha="right" if dx < 0 else "center" if dx == 0 else "left",
            va="center" if dy == 0 else "top" if dy < 0 else "bottom",
            fontsize=8,
            color=_INK,
            zorder=4,
            arrowprops=(
                {"arrowstyle": "-", "color": "#AAAAAA", "linewidth": 0.5, "shrinkA": 1, "shrinkB": 4} if far else None
            ),
        )


# Label spots relative to the point, in points, nearest first: beside, above/below, then diagonals further out.
_LABEL_OFFSETS: Final = (
    (6, 0),
    (-6, 0),
    (0, 6),
    (0, -6),
    (6, 6),
    (6, -6),
    (-6, 6),
    (-6, -6),
    *((dx, dy) for distance in (14, 22, 32, 44) for dx in (12, -12) for dy in (distance, -distance)),
    *((0, dy) for distance in (18, 30, 44) for dy in (distance, -distance)),
)


def _text_size(text: str, font: FontProperties) -> tuple[float, float]:
    width, height, _ = _TEXT_TO_PATH.get_text_width_height_descent(text, font, ismath=False)
    return width + 1.0, height + 1.0  # a point of air so touching labels do not read as one


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# --------------------------------------------------------------------------------------------- cohorts

_COHORT_TITLE: Final = "Customers still buying, by first-purchase month"
_COHORT_COLUMNS: Final = ["cohort_month", "months_since", "cohort_size", "customer_share"]


def cohort_heatmap(
    cohort: pd.DataFrame, *, prefix: str = "cohort-", max_cohorts: int = 12, max_months: int = 12
) -> str:
    """Share of each cohort active N months after its first purchase, for the latest `max_cohorts`
    cohorts and months 0..max_months-1; each cell annotated with its percentage, missing cells blank."""
    fig = _cohort_figure(cohort, max_cohorts=max_cohorts, max_months=max_months)
    if fig is None:
        return _placeholder(chart="cohort", prefix=prefix, title=_COHORT_TITLE)
    return _to_svg(fig, chart="cohort", prefix=prefix, label=_COHORT_TITLE)


def _cohort_figure(cohort: pd.DataFrame, *, max_cohorts: int, max_months: int) -> Figure | None:
    if max_cohorts < 1 or max_months < 1:
        raise ValueError("max_cohorts and max_months must be at least 1")
    if cohort.empty:  # no rows at all, even without columns: the report's "nothing yet" case
        return None
    _require(cohort, _COHORT_COLUMNS, "cohort")
    cells = pd.DataFrame(
        {
            "cohort_month": cohort["cohort_month"].astype(str),
            "months_since": _numeric(cohort, "months_since"),
            "cohort_size": _numeric(cohort, "cohort_size"),
            "customer_share": _numeric(cohort, "customer_share"),
            "is_partial": _flag(cohort, "is_partial_month") if "is_partial_month" in cohort.columns else False,
        }
    )
    # "YYYY-MM" sorts chronologically; the customers who existed before the data ("existing before ...")
    # are not a month's cohort: they go on top, above the months.
    labels = cells["cohort_month"].unique()
    existing = sorted(label for label in labels if not label[:1].isdigit())
    cohorts = (
        existing + sorted(label for label in labels if label[:1].isdigit())[-max(max_cohorts - len(existing), 1) :]
    )
    cells = cells.loc[cells["cohort_month"].isin(cohorts) & cells["months_since"].between(0, max_months - 1)].dropna(
        subset=["months_since"]
    )
    grid = (
        cells.pivot(index="cohort_month", columns="months_since", values="customer_share")
        .reindex(index=cohorts, columns=np.arange(max_months, dtype=float))
        .to_numpy(dtype=float)
    )
    if np.isnan(grid).all():
        return None
    partial = (
        cells.loc[cells["is_partial"].astype(bool)]
        .pivot(index="cohort_month", columns="months_since", values="is_partial")
        .reindex(index=cohorts, columns=np.arange(max_months, dtype=float))
        .fillna(False)
        .to_numpy(dtype=bool)
        if cells["is_partial"].astype(bool).any()
        else np.zeros_like(grid, dtype=bool)
    )
    sizes = cells.groupby("cohort_month")["cohort_size"].max().reindex(cohorts)
    row_labels = [
        f"{month} (n={int(size):,})" if pd.notna(size) else month for month, size in zip(cohorts, sizes, strict=True)
    ]

    # Month 0 is ~100% by construction (everyone bought in their first month); scaling colours to it would
    # crush the months that matter into one shade, so the scale tops out at the highest later month.
    later = grid[:, 1:]
    top = float(np.nanmax(later)) if later.size and not np.isnan(later).all() else float(np.nanmax(grid))
    vmax = min(1.0, max(0.1, np.ceil(top * 10) / 10)) * 100
    percent = grid * 100
    norm = Normalize(vmin=0.0, vmax=vmax, clip=True)
    cmap = matplotlib.colormaps[HEATMAP_CMAP]

    with _style("cohort"):
        fig = _figure(min(130.0, max(60.0, 30.0 + 7.5 * len(cohorts))))
        axes = fig.subplots()
        axes.set_title(_COHORT_TITLE)
        mesh = axes.pcolormesh(
            np.ma.masked_invalid(percent), cmap=cmap, norm=norm, edgecolors="white", linewidth=0.6, snap=True
        )
        axes.grid(False)
        axes.invert_yaxis()  # oldest cohort on top, so the retention "triangle" reads downward
        axes.set_xticks(np.arange(max_months) + 0.5, [str(month) for month in range(max_months)])
        axes.set_yticks(np.arange(len(cohorts)) + 0.5, row_labels)
        axes.tick_params(length=0)
        axes.set_xlabel(
            "Months since first purchase" + ("  \u00b7  * month not over yet (partial)" if partial.any() else "")
        )
        axes.set_ylabel("First-purchase cohort")
        for spine in axes.spines.values():
            spine.set_visible(False)
        for row, column in zip(*np.nonzero(~np.isnan(percent)), strict=True):
            value = float(percent[row, column])
            axes.text(
                column + 0.5,
                row + 0.5,
                f"{value:.0f}%" + ("*" if partial[row, column] else ""),
                ha="center",
                va="center",
                # The partial-month star makes "100%*" wider than a cell at the usual size.
                fontsize=6.5 if partial[row, column] else 7.5 if max_months > 12 else 8,
                color=_contrasting_text(cmap(norm(value))),
            )
        colourbar = fig.colorbar(
            mesh,
            ax=axes,
            extend="max" if np.nanmax(percent) > vmax else "neither",
            fraction=0.035,
            aspect=30,
            pad=0.02,
        )
        colourbar.set_label("Customers active (%)")
        _whole_number_ticks(colourbar.ax.yaxis, percent=True)
        colourbar.outline.set_visible(False)
        # Long colourbars are rasterised by default; the report must stay vector end to end. Edges drawn in
        # the face colour close the hairline seams PDF renderers leave between adjacent vector patches.
        colourbar.solids.set_rasterized(False)
        colourbar.solids.set_edgecolor("face")
    return fig


def _contrasting_text(rgba: tuple[float, float, float, float]) -> str:
    """Black or white, whichever has the higher WCAG contrast ratio against the cell colour."""
    channels = np.array(to_rgb(rgba))
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    luminance = float(linear @ np.array([0.2126, 0.7152, 0.0722]))
    contrast_white = 1.05 / (luminance + 0.05)
    contrast_black = (luminance + 0.05) / 0.05
    return "#000000" if contrast_black >= contrast_white else "#FFFFFF"


# --------------------------------------------------------------------------------------------- repurchase

_REPURCHASE_TITLE: Final = "Time to next purchase by NPS group (Kaplan-Meier)"
_REPURCHASE_COLUMNS: Final = ["nps_group", "day", "at_risk", "survival", "ci_low", "ci_high"]
_GROUP_ORDER: Final = ("promoter", "passive", "detractor")
_GROUP_STYLE: Final = {
    # Bars are labelled on the axis, so colour only reinforces the grouping; hatching distinguishes the two
    # groups leadership compares (promoters vs detractors) even in greyscale.
    "promoter": (OKABE_ITO["blue"], ""),
    "passive": (OKABE_ITO["sky_blue"], ""),
    "detractor": (OKABE_ITO["vermillion"], "////"),
}


def repurchase_chart(curve: pd.DataFrame, *, prefix: str = "repurchase-") -> str:
    """Kaplan-Meier curves of time to next purchase for promoters, passives and detractors: the share who
    have bought again by each day since answering, with 95% pointwise bands; each group labelled with its
    respondents and its share at the last day. Other groups (such as "all") are ignored."""
    fig = _repurchase_figure(curve)
    if fig is None:
        return _placeholder(chart="repurchase", prefix=prefix, title=_REPURCHASE_TITLE)
    return _to_svg(fig, chart="repurchase", prefix=prefix, label=_REPURCHASE_TITLE)


def _repurchase_figure(curve: pd.DataFrame) -> Figure | None:
    if curve.empty:  # no rows at all, even without columns: the report's "nothing yet" case
        return None
    _require(curve, _REPURCHASE_COLUMNS, "repurchase curve")
    if curve[["nps_group", "day"]].duplicated().any():
        raise ValueError("the repurchase curve has several rows for one NPS group and day")
    cells = curve.assign(
        _day=_numeric(curve, "day"),
        _bought=100 * (1 - _numeric(curve, "survival")),
        _low=100 * (1 - _numeric(curve, "ci_high")),
        _high=100 * (1 - _numeric(curve, "ci_low")),
    )
    groups = [g for g in _GROUP_ORDER if cells.loc[cells["nps_group"] == g, "_bought"].notna().any()]
    if not groups:
        return None
    with _style("repurchase"):
        fig = _figure(62.0)
        axes = fig.subplots()
        axes.set_title(_REPURCHASE_TITLE)
        top = 10.0
        for group in groups:
            rows = cells.loc[(cells["nps_group"] == group) & cells["_bought"].notna()].sort_values("_day")
            colour, hatch = _GROUP_STYLE[group]
            day, bought = rows["_day"].to_numpy(), rows["_bought"].to_numpy()
            size = _count(rows["at_risk"].iloc[0]) if "at_risk" in rows.columns else "?"
            axes.step(
                day,
                bought,
                where="post",
                color=colour,
                linewidth=1.6,
                label=f"{group.title()}s (n={size})",
                zorder=3,
                linestyle="--" if hatch else "-",
            )
            axes.fill_between(
                day,
                rows["_low"].to_numpy(),
                rows["_high"].to_numpy(),
                step="post",
                color=colour,
                alpha=0.15,
                linewidth=0,
                zorder=2,
            )
            axes.annotate(
                f"{bought[-1]:.0f}%",
                xy=(day[-1], bought[-1]),
                xytext=(4, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=8,
                fontweight="bold",
                color=colour,
            )
            top = max(top, float(np.nanmax(rows["_high"].to_numpy())))
        axes.set_xlim(0, float(cells["_day"].max()) * 1.08)
        axes.set_ylim(0, min(100.0, top * 1.1 + 2))
        _whole_number_ticks(axes.yaxis, percent=True)
        axes.set_xlabel("Days since answering the survey  \u00b7  bands: 95% confidence interval")
        axes.set_ylabel("Bought again (%)")
        axes.legend(loc="lower right", frameon=False, fontsize=8)
    return fig


def _count(value: Any) -> str:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return f"{int(number):,}" if pd.notna(number) else "?"


# --------------------------------------------------------------------------------------------- outreach

_OUTREACH_TITLE: Final = "Time to next purchase after a RETAIN case opens (Kaplan-Meier)"
_ARM_STYLE: Final = {
    "outreach": (OKABE_ITO["blue"], "-", "o", "Outreach"),
    "control": (OKABE_ITO["vermillion"], "--", "s", "Control"),
}
_SUBSET_TITLES: Final = {"all": "All cases", "detractor": "Detractor cases"}


def outreach_effect_chart(survival: pd.DataFrame, effect: pd.DataFrame, *, prefix: str = "outreach-") -> str:
    """Share of customers who bought again, day by day after their case opened, outreach arm against control
    (or contacted against not contacted when the comparison is observational); one panel per subset, each
    titled with its 90-day difference and 95% CI. Line style and marker tell the arms apart, not only colour."""
    fig = _outreach_figure(survival, effect)
    if fig is None:
        return _placeholder(chart="outreach", prefix=prefix, title=_OUTREACH_TITLE)
    return _to_svg(fig, chart="outreach", prefix=prefix, label=_OUTREACH_TITLE)


def _outreach_figure(survival: pd.DataFrame, effect: pd.DataFrame) -> Figure | None:
    if survival.empty:
        return None
    _require(survival, ["subset", "arm", "day", "share_not_repurchased"], "survival")
    subsets = [s for s in _SUBSET_TITLES if (survival["subset"] == s).any()]
    if not subsets:
        return None
    rows = effect.set_index("subset") if len(effect) else pd.DataFrame()
    randomised = bool(effect["is_randomised"].iloc[0]) if len(effect) else True
    with _style("outreach"):
        fig = _figure(62.0)
        panels = fig.subplots(1, len(subsets), sharey=True, squeeze=False)[0]
        for axes, subset in zip(panels, subsets, strict=True):
            part = survival.loc[survival["subset"] == subset]
            for arm, (colour, style, marker, label) in _ARM_STYLE.items():
                line = part.loc[part["arm"] == arm].sort_values("day")
                if line.empty:
                    continue
                name = label if randomised else ("Contacted" if arm == "outreach" else "Not contacted")
                n = _count(line["at_risk"].iloc[0])
                bought = (1 - _numeric(line, "share_not_repurchased")) * 100
                axes.step(line["day"], bought, where="post", color=colour, linestyle=style, label=f"{name} (n={n})")
                axes.plot(line["day"].iloc[::15], bought.iloc[::15], linestyle="none", marker=marker, color=colour)
            title = _SUBSET_TITLES[subset]
            if subset in rows.index and pd.notna(rows.at[subset, "difference"]):
                r = rows.loc[subset]
                title += (
                    f"\n{int(r['window_days'])}-day difference {r['difference'] * 100:+.0f} pts "
                    f"(95% CI {r['ci_low'] * 100:+.0f} to {r['ci_high'] * 100:+.0f})"
                )
            axes.set_title(title, fontsize=8)
            axes.set_xlabel("Days since the case opened")
            axes.set_xlim(0, float(part["day"].max()))
            axes.legend(loc="upper left", fontsize=7)
        panels[0].set_ylabel("Bought again (%)")
        panels[0].set_ylim(0, 100)
        _whole_number_ticks(panels[0].yaxis, percent=True)
    return fig
