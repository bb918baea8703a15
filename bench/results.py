"""Results: the machine's facts, the goals and their verdicts, the terminal table and the JSON file.

Pure where it can be: :func:`evaluate_goals` takes the measure rows and returns verdicts, so a test can give it
numbers and check the arithmetic.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

GIB = 1024.0  # MiB
RSS_LIMIT_MIB = 1 * GIB
PROJECT_OVER_FLOOR_MAX = 3.0
NAIVE_OVER_PROJECT_MIN = 5.0
NIGHTLY_GROWTH_MAX = 1.2
REPORT_SECONDS_MAX = 20.0
METRICS_WEEK_SECONDS_MAX = 2.0
CLI_SECONDS_MAX = 1.0
#: Goals on one measure's median: (goal, measure, most seconds).
SECONDS_GOALS = (
    ("weekly report", "report", REPORT_SECONDS_MAX),
    ("metrics of one week", "metrics-week", METRICS_WEEK_SECONDS_MAX),
    ("loyalty metrics --json", "cli-metrics", CLI_SECONDS_MAX),
    ("loyalty status", "cli-status", CLI_SECONDS_MAX),
)
PACKAGES = (
    "prefect",
    "great-expectations",
    "pandas",
    "numpy",
    "pyarrow",
    "sqlalchemy",
    "psycopg",
    "weasyprint",
)


@dataclass
class MeasureResult:
    """One measure on one engine. ``seconds``: every timed repetition; the median is what is quoted."""

    engine: str
    measure: str
    label: str
    status: str = "ok"  # ok | failed | unavailable | skipped
    seconds: list[float] = field(default_factory=list)
    peak_rss_mib: float | None = None
    process_seconds: float | None = None
    #: CPU seconds (user + system) of the measure's process, setup included, the Prefect server's not. On a
    #: shared machine the wall seconds grow with other people's load; this grows much less.
    cpu_seconds: float | None = None
    rows: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    log: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds and self.status == "ok" else None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["median_seconds"] = None if self.median is None else round(self.median, 3)
        out["seconds"] = [round(s, 3) for s in self.seconds]
        out["repetitions"] = len(self.seconds)
        if self.peak_rss_mib is not None:
            out["peak_rss_mib"] = round(self.peak_rss_mib, 1)
        if self.process_seconds is not None:
            out["process_seconds"] = round(self.process_seconds, 1)
        if self.cpu_seconds is not None:
            out["cpu_seconds"] = round(self.cpu_seconds, 1)
        return out


@dataclass(frozen=True)
class Verdict:
    goal: str
    engine: str
    value: float | None
    target: str
    met: bool | None  # None: not measured
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["value"] = None if self.value is None else round(self.value, 3)
        return out


def _find(results: list[MeasureResult], engine: str, measure: str) -> MeasureResult | None:
    return next((r for r in results if r.engine == engine and r.measure == measure), None)


def _ratio(results: list[MeasureResult], engine: str, top: str, bottom: str) -> tuple[float | None, str]:
    a, b = _find(results, engine, top), _find(results, engine, bottom)
    missing = [m for m, r in ((top, a), (bottom, b)) if r is None or r.median is None]
    if missing:
        return None, "not measured: " + ", ".join(
            f"{m} {(_find(results, engine, m).status if _find(results, engine, m) else 'not run')}" for m in missing
        )
    assert a is not None and b is not None and a.median is not None and b.median is not None
    if b.median <= 0:
        return None, f"{bottom} took no time"
    return a.median / b.median, f"{top} {a.median:.1f} s / {bottom} {b.median:.1f} s"


def evaluate_goals(results: list[MeasureResult]) -> list[Verdict]:
    """The issue's goals, per engine, from the medians (and every measure's peak RSS)."""
    verdicts: list[Verdict] = []
    for engine in dict.fromkeys(r.engine for r in results):
        value, detail = _ratio(results, engine, "project", "floor")
        verdicts.append(
            Verdict(
                "project / floor", engine, value, f"<= {PROJECT_OVER_FLOOR_MAX:g}",
                None if value is None else value <= PROJECT_OVER_FLOOR_MAX, detail,
            )
        )  # fmt: skip
        value, detail = _ratio(results, engine, "naive", "project")
        verdicts.append(
            Verdict(
                "naive / project", engine, value, f">= {NAIVE_OVER_PROJECT_MIN:g}",
                None if value is None else value >= NAIVE_OVER_PROJECT_MIN, detail,
            )
        )  # fmt: skip
        value, detail = _ratio(results, engine, "nightly-full", "nightly-week")
        verdicts.append(
            Verdict(
                "nightly on full history / on 1 week", engine, value, f"<= {NIGHTLY_GROWTH_MAX:g}",
                None if value is None else value <= NIGHTLY_GROWTH_MAX, detail,
            )
        )  # fmt: skip
        for goal, measure, most in SECONDS_GOALS:
            found = _find(results, engine, measure)
            if found is None or found.median is None:
                why = "not run" if found is None else (found.notes[0] if found.notes else found.status)
                verdicts.append(Verdict(goal, engine, None, f"<= {most:g} s", None, why))
            else:
                verdicts.append(
                    Verdict(
                        goal, engine, found.median, f"<= {most:g} s",
                        found.median <= most, f"median of {len(found.seconds)}",
                    )
                )  # fmt: skip
        for r in results:
            if r.engine != engine or r.peak_rss_mib is None or r.status in ("skipped", "unavailable"):
                continue
            verdicts.append(
                Verdict(
                    f"peak RSS: {r.measure}", engine, r.peak_rss_mib, f"<= {RSS_LIMIT_MIB:.0f} MiB",
                    r.peak_rss_mib <= RSS_LIMIT_MIB, "MiB, the measure's whole process",
                )
            )  # fmt: skip
    return verdicts


# --------------------------------------------------------------------------------------------------------
# Machine facts
# --------------------------------------------------------------------------------------------------------


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _memory_mib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024, 0)
    except OSError:
        return None
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_facts(postgres_version: str | None = None) -> dict[str, Any]:
    """Cores, CPU, memory, load, OS and the versions that matter to the timings."""
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "memory_mib": _memory_mib(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version,
        "packages": {p: _version(p) for p in PACKAGES},
    }


def postgres_server_version(conninfo: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(conninfo, connect_timeout=3) as conn:
            return conn.execute("show server_version").fetchone()[0]
    except Exception:  # the version is a fact worth having, not worth failing for
        return None


# --------------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{value:,.2f}" if value < 10 else f"{value:,.1f}"


def _fmt_seconds(r: MeasureResult) -> str:
    return r.status if r.median is None else _seconds(r.median)


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]).rstrip()


def measures_table(results: list[MeasureResult]) -> str:
    rows = []
    for r in results:
        runs = str(len(r.seconds)) if r.seconds else "-"
        rss = "-" if r.peak_rss_mib is None else f"{r.peak_rss_mib:,.0f}"
        repeated = len(r.seconds) > 1 and r.status == "ok"
        spread = f"{_seconds(min(r.seconds))}..{_seconds(max(r.seconds))}" if repeated else ""
        note = "; ".join(r.notes)[:90]
        cpu = "-" if r.cpu_seconds is None else f"{r.cpu_seconds:,.1f}"
        rows.append([r.engine, r.label, _fmt_seconds(r), runs, spread, cpu, rss, note])
    return _table(
        ["engine", "measure", "median s", "runs", "min..max", "process CPU s", "peak RSS MiB", "notes"],
        rows,
        right={2, 3, 4, 5, 6},
    )


def goals_table(verdicts: list[Verdict]) -> str:
    rows = []
    for v in verdicts:
        value = "-" if v.value is None else (f"{v.value:,.0f}" if "RSS" in v.goal else f"{v.value:,.2f}")
        met = "n/a" if v.met is None else ("yes" if v.met else "NO")
        rows.append([v.engine, v.goal, value, v.target, met, v.detail[:80]])
    return _table(["engine", "goal", "value", "target", "met", "detail"], rows, right={2})


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
