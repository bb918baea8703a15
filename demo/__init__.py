"""Deterministic, realistic demo source data in the source data contract's file-drop layout.

This module owns the demo: it simulates customers, their purchases and their survey answers, then writes
them as the deliveries a real estate of source systems would drop into ``<landing>/<entity>/``:

* ``customers/<day>_crm.csv``: contract headers; the customers created that day plus a few created 1-3 days
  earlier (late rows). The first day's file also holds every customer created before the range (the CRM's
  initial load).
* ``transactions/<day>_pos.csv``: the point-of-sale export with VENDOR headers (``txn_id, cust_id, txn_ts,
  amount_gross, ccy, sales_channel, store_region``; see ``config/column_mapping.yaml``), CRLF line ends.
  In-store, phone and (except on web days) online sales and refunds; about 1.5% arrive 1-3 days late.
* ``transactions/<day>_web.parquet``: on every 7th day of the range the online shop delivers that day's
  online sales and refunds itself: contract names, typed columns (``amount`` float64, ``occurred_at``
  ``timestamp[us, tz=UTC]``, the rest strings).
* ``survey_responses/<day>_voicebox.jsonl``: the online survey vendor, VENDOR keys (``RespondentID`` ...
  ``Region``), channels online and email. Keys of unanswered questions are left out, as the vendor does;
  the web form exports comments with ``<br />`` and ``&amp;``.
* ``survey_responses/<day>_callcentre.csv``: contract headers; phone and in-store interviews.
* ``survey_responses/<day>_cards.csv``: comment cards, contract headers but only the card's questions
  (``response_id, customer_id, submitted_at, channel, nps, csat, comment, region``). Cards are keyed in on
  Mondays, Thursdays and the last day, so most rows are late; usually anonymous, often only csat + comment.

Timestamps are ISO 8601 and mixed within a file: naive wall-clock times (read in ``source_tz``), local times
with their offset (``+01:00``), UTC with ``Z`` and, from the survey vendor, UTC with milliseconds. A naive
time is never written inside a daylight-saving fold or gap, so it always names exactly one instant.

The simulation is built in memory first (:func:`build_demo_frames`: one frame per entity of contract-named
raw rows, plus ``delivery_day``, ``file_kind`` and ``invalid_kind``), then :func:`write_demo_files` splits
the frames into files, so another writer (for example one filling SQL tables) can reuse the frames.

Planted patterns the analytics should find (constants below; :class:`DemoSummary` ``planted`` reports the
values measured on a run):

* every customer has a purchase rhythm (gamma gaps around a personal mean of mostly 10-60 days), a latent
  satisfaction, a channel preference and a spend level; amounts are lognormal, about 3% of purchases are
  refunded in full 1-21 days later; in-store and phone sales fall in opening hours;
* about 25% of purchases get a survey response 0-5 days later; key drivers: nps follows the five
  service-quality dimensions with weights ``DRIVER_WEIGHTS`` (reliability and responsiveness strongest);
* detractors buy less: after a response with nps 0-6 the customer's purchase rate is multiplied by
  ``DETRACTOR_RATE_MULTIPLIER`` and ``DETRACTOR_CHURN_PROBABILITY`` of them stop buying;
* the "app crashes at checkout" complaint theme grows from ~1% of comments to 11/17/23% in the last three
  ISO weeks of the range, and the responses carrying it score far lower;
* a few invalid rows of each kind (``invalid_kind`` says which), each an EXTRA row, so the valid rows are
  the simulation untouched. A conflicting duplicate id always arrives in a later day's file.

Everything is drawn from numpy Generators seeded from ``seed`` (one independent stream per concern), rows
are sorted on explicit keys and parquet is written from explicit arrays without pandas metadata, so the
same arguments give byte-identical files.

Cost: customers are simulated together, one vectorised round per purchase (about 100 rounds a year), so
100,000 customers over a year (~0.8M transactions, ~0.2M responses) take about 20 s and under 1 GB.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from demo.files import write_demo_files
from demo.outreach import add_outreach
from demo.patterns import describe_planted, theme_weeks
from demo.simulation import build_demo_frames
from loyalty.contract import ENTITIES

__all__ = [
    "DemoSummary",
    "add_outreach",
    "build_demo_frames",
    "describe_planted",
    "generate_demo_sources",
    "theme_weeks",
    "write_demo_files",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate_demo_sources` wrote. ``rows`` counts every written row, invalid ones included."""

    days: int
    files: int
    rows: dict[str, int]
    invalid_rows: dict[str, int]
    planted: dict[str, str]
    invalid_kinds: dict[str, dict[str, int]] = field(default_factory=dict)


def generate_demo_sources(
    landing: Path,
    start: date,
    end: date,
    *,
    seed: int = 7,
    n_customers: int = 3000,
    source_tz: str = "Europe/London",
    outreach: dict | None = None,
) -> DemoSummary:
    """Write a deterministic demo delivery for ``[start, end]`` under ``landing`` and describe it.

    ``outreach``: keyword arguments for :func:`demo.outreach.simulate_outreach` (business_tz, top_n,
    control_share, expiry_weeks), so the demo's care teams work the lists the pipeline will build.

    Raises ``ValueError`` if ``landing`` already holds a file (a demo never mixes runs: delete it first),
    if ``end`` is before ``start`` or if ``n_customers`` is below 1.
    """
    landing = Path(landing)
    if landing.exists():
        if not landing.is_dir():
            raise ValueError(f"landing {landing} exists and is not a folder")
        if any(p.is_file() or p.is_symlink() for p in landing.rglob("*")):
            raise ValueError(f"landing {landing} already holds files; delete it before generating a demo")
    frames = build_demo_frames(start, end, seed=seed, n_customers=n_customers, source_tz=source_tz)
    frames = add_outreach(frames, start, end, seed=seed, source_tz=source_tz, **(outreach or {}))
    paths = write_demo_files(frames, landing)
    invalid_kinds = {
        entity: {
            kind: int(count)
            for kind, count in sorted(
                frames[entity]["invalid_kind"][frames[entity]["invalid_kind"] != ""].value_counts().items()
            )
        }
        for entity in ENTITIES
    }
    summary = DemoSummary(
        days=(end - start).days + 1,
        files=len(paths),
        rows={entity: len(frames[entity]) for entity in ENTITIES},
        invalid_rows={entity: sum(invalid_kinds[entity].values()) for entity in ENTITIES},
        planted=describe_planted(frames, start, end, source_tz=source_tz),
        invalid_kinds=invalid_kinds,
    )
    logger.info("demo sources: %d files, rows %s, invalid %s", summary.files, summary.rows, summary.invalid_rows)
    return summary
