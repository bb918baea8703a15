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

import csv
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from statistics import NormalDist
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loyalty.demo_outreach import OUTREACH_COLUMNS, RELAY_HEADERS, simulate_outreach

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------------
# Contract and file kinds
# --------------------------------------------------------------------------------------------------------

ENTITIES = ("customers", "transactions", "survey_responses", "outreach")
CUSTOMER_COLUMNS = ("customer_id", "created_at", "region", "segment", "email")
TRANSACTION_COLUMNS = (
    "transaction_id",
    "customer_id",
    "occurred_at",
    "amount",
    "currency",
    "channel",
    "region",
)
DIMENSIONS = ("reliability", "responsiveness", "assurance", "empathy", "tangibles")
SCORE_COLUMNS = ("nps", "csat", "ces", *DIMENSIONS)
SURVEY_COLUMNS = (
    "response_id",
    "customer_id",
    "submitted_at",
    "channel",
    *SCORE_COLUMNS,
    "comment",
    "region",
)
CONTRACT_COLUMNS = {
    "customers": CUSTOMER_COLUMNS,
    "transactions": TRANSACTION_COLUMNS,
    "survey_responses": SURVEY_COLUMNS,
    "outreach": OUTREACH_COLUMNS,
}
#: Columns of every frame from :func:`build_demo_frames` that are not contract columns (never written).
HELPER_COLUMNS = ("delivery_day", "file_kind", "invalid_kind")

TRANSACTION_CHANNELS = ("online", "in_store", "phone")
SURVEY_CHANNELS = ("online", "phone", "comment_card", "email", "in_store")
REGIONS = ("North", "South", "East", "West")

# Vendor headers, contract name -> vendor name. They must agree with config/column_mapping.yaml (a test checks).
POS_HEADERS = {
    "transaction_id": "txn_id",
    "customer_id": "cust_id",
    "occurred_at": "txn_ts",
    "amount": "amount_gross",
    "currency": "ccy",
    "channel": "sales_channel",
    "region": "store_region",
}
VOICEBOX_KEYS = {
    "response_id": "RespondentID",
    "customer_id": "CustomerRef",
    "submitted_at": "SubmittedAt",
    "channel": "Source",
    "nps": "Q1_Recommend",
    "csat": "Q2_Satisfaction",
    "ces": "Q3_Effort",
    "reliability": "Q4_Reliability",
    "responsiveness": "Q5_Responsiveness",
    "assurance": "Q6_Assurance",
    "empathy": "Q7_Empathy",
    "tangibles": "Q8_Tangibles",
    "comment": "Verbatim",
    "region": "Region",
}
CARD_COLUMNS = ("response_id", "customer_id", "submitted_at", "channel", "nps", "csat", "comment", "region")

#: file kind -> (entity, file extension, columns written in contract names, header names written)
FILE_KINDS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "crm": ("customers", "csv", CUSTOMER_COLUMNS, CUSTOMER_COLUMNS),
    "pos": ("transactions", "csv", TRANSACTION_COLUMNS, tuple(POS_HEADERS[c] for c in TRANSACTION_COLUMNS)),
    "web": ("transactions", "parquet", TRANSACTION_COLUMNS, TRANSACTION_COLUMNS),
    "voicebox": (
        "survey_responses",
        "jsonl",
        SURVEY_COLUMNS,
        tuple(VOICEBOX_KEYS[c] for c in SURVEY_COLUMNS),
    ),
    "callcentre": ("survey_responses", "csv", SURVEY_COLUMNS, SURVEY_COLUMNS),
    "cards": ("survey_responses", "csv", CARD_COLUMNS, CARD_COLUMNS),
    # The CRM's contact log (loyalty/demo_outreach.py), Relay's headers.
    "relay": ("outreach", "csv", OUTREACH_COLUMNS, tuple(RELAY_HEADERS[c] for c in OUTREACH_COLUMNS)),
}
_KIND_ORDER = {kind: i for i, kind in enumerate(FILE_KINDS)}

# --------------------------------------------------------------------------------------------------------
# Planted patterns
# --------------------------------------------------------------------------------------------------------

THEME_NAME = "app crashes at checkout"
#: Every theme comment contains "checkout" and "crash"; most contain "app crashed". No other comment does.
THEME_TERMS = ("app crashed", "checkout", "crash")
THEME_BASE_SHARE = 0.01
#: Share of commented responses carrying the theme in the third-last, second-last and last ISO week.
THEME_WEEK_SHARES = (0.11, 0.17, 0.23)
DETRACTOR_RATE_MULTIPLIER = 0.3
DETRACTOR_CHURN_PROBABILITY = 0.25
#: Weights of the (correlated, latent) service-quality dimensions in a response's overall experience.
DRIVER_WEIGHTS = {
    "reliability": 0.42,
    "responsiveness": 0.34,
    "assurance": 0.16,
    "empathy": 0.10,
    "tangibles": 0.06,
}
REFUND_SHARE = 0.03
INVALID_SHARE = 0.003
WEB_DELIVERY_EVERY = 7

# --------------------------------------------------------------------------------------------------------
# Simulation parameters (why they are what they are, where not obvious)
# --------------------------------------------------------------------------------------------------------

_REGION_P = (0.28, 0.34, 0.17, 0.21)
# Channel preference types: online-first, store-first, phone-leaning; rows are P(online, in_store, phone).
_PREF_TYPE_P = (0.45, 0.45, 0.10)
_PREF_CHANNEL_P = np.array([[0.75, 0.20, 0.05], [0.15, 0.80, 0.05], [0.30, 0.30, 0.40]])
_WEEKDAY_FACTOR = np.array([0.90, 0.92, 0.95, 1.00, 1.12, 1.30, 0.81])  # Monday..Sunday
_MONTH_FACTOR = np.array([0.85, 0.88, 0.95, 0.97, 1.0, 0.98, 0.96, 0.94, 0.98, 1.02, 1.10, 1.30])
_SURVEY_P = np.array([0.28, 0.22, 0.25])  # by transaction channel (online, in_store, phone)
# P(survey channel | transaction channel); columns follow SURVEY_CHANNELS.
_SURVEY_CHANNEL_P = np.array(
    [
        [0.62, 0.00, 0.00, 0.38, 0.00],  # online purchase -> online form or email invitation
        [0.00, 0.00, 0.38, 0.30, 0.32],  # in-store purchase -> comment card, email, in-store interview
        [0.00, 0.72, 0.00, 0.28, 0.00],  # phone purchase -> phone interview or email
    ]
)
_COMMENT_P = np.array([0.40, 0.38, 0.85, 0.36, 0.28])  # by survey channel, before the sentiment nudge
_NPS_P = (0.03, 0.015, 0.02, 0.025, 0.03, 0.05, 0.07, 0.10, 0.20, 0.21, 0.25)
_CSAT_P = (0.06, 0.09, 0.17, 0.38, 0.30)
_CES_P = (0.04, 0.05, 0.08, 0.13, 0.20, 0.27, 0.23)
_DIM_P = (0.05, 0.10, 0.22, 0.35, 0.28)


def _hour_cdf(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.cumsum(w / w.sum())


# Local-time hour profiles. Shops open 08:00-20:00 (Sunday 10:00-16:00), phones 08:00-20:00 (weekend 09-17).
_HOUR_CDFS = np.stack(
    [
        _hour_cdf([2, 1, 0.6, 0.4, 0.4, 0.6, 1.5, 3, 4, 5, 5.5, 6, 6.5, 6, 5.5, 5.5, 6, 7, 8, 9, 9.5, 8.5, 6, 3.5]),
        _hour_cdf([0] * 8 + [3, 5, 7, 8, 10, 10, 9, 8, 8, 9, 8, 6] + [0] * 4),
        _hour_cdf([0] * 10 + [6, 9, 10, 9, 8, 6] + [0] * 8),
        _hour_cdf([0] * 8 + [4, 8, 9, 8, 7, 7, 8, 7, 6, 5, 4, 3] + [0] * 4),
        _hour_cdf([0] * 9 + [5, 7, 7, 6, 6, 5, 4, 3] + [0] * 7),
    ]
)
_H_ONLINE, _H_STORE, _H_STORE_SUNDAY, _H_PHONE, _H_PHONE_WEEKEND = range(5)

# Timestamp renderings.
_TS_NAIVE, _TS_NAIVE_MINUTES, _TS_OFFSET, _TS_UTC_Z, _TS_UTC_MILLIS = range(5)


def _thresholds(probabilities: tuple[float, ...]) -> np.ndarray:
    cum = np.cumsum(probabilities)[:-1]
    return np.array([NormalDist().inv_cdf(float(p)) for p in cum])


def _stream(seed: int, name: str) -> np.random.Generator:
    """One independent generator per concern, so changing one part does not reshuffle the others."""
    return np.random.default_rng(np.random.SeedSequence([seed, *name.encode("ascii")]))


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------


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

    ``outreach``: keyword arguments for :func:`loyalty.demo_outreach.simulate_outreach` (business_tz, top_n,
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


def build_demo_frames(
    start: date,
    end: date,
    seed: int = 7,
    n_customers: int = 3000,
    source_tz: str = "Europe/London",
) -> dict[str, pd.DataFrame]:
    """Simulate the range and return one frame per entity of raw rows as the sources deliver them.

    Columns are the contract's (values raw: timestamps and amounts are the delivered text, so invalid values
    survive; scores are nullable ``Int64``) plus ``delivery_day`` (``datetime.date`` of the file), ``file_kind``
    (a key of ``FILE_KINDS``) and ``invalid_kind`` (``""`` for a valid row, else the planted defect). Rows are
    sorted by delivery day, file kind, then as they appear in the file.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    sim = _Simulation(start, end, seed, n_customers, ZoneInfo(source_tz))
    return sim.frames()


def add_outreach(frames: dict[str, pd.DataFrame], start: date, end: date, **options) -> dict[str, pd.DataFrame]:
    """The frames with ``outreach`` (the CRM's contact log) and the purchases contacts bring back added."""
    outreach, comebacks = simulate_outreach(frames, start, end, **options)
    transactions = pd.concat([frames["transactions"], comebacks.astype(frames["transactions"].dtypes.to_dict())])
    order = transactions["file_kind"].map(_KIND_ORDER)
    transactions = transactions.assign(_order=order).sort_values(["delivery_day", "_order"], kind="stable")
    return {**frames, "transactions": transactions.drop(columns="_order").reset_index(drop=True), "outreach": outreach}


def write_demo_files(frames: dict[str, pd.DataFrame], landing: Path) -> list[Path]:
    """Split frames from :func:`build_demo_frames` into their delivery files; return the paths written."""
    landing = Path(landing)
    written: list[Path] = []
    for entity in ENTITIES:
        df = frames.get(entity, pd.DataFrame())
        if df.empty:
            continue
        folder = landing / entity
        folder.mkdir(parents=True, exist_ok=True)
        days = df["delivery_day"].to_numpy()
        kinds = df["file_kind"].to_numpy()
        # Arrow columns share the frame's buffers; a per-file slice of them is cheap and gives Python values.
        table = pa.Table.from_pandas(df.loc[:, list(CONTRACT_COLUMNS[entity])], preserve_index=False)
        change = np.flatnonzero((days[1:] != days[:-1]) | (kinds[1:] != kinds[:-1])) + 1
        bounds = [0, *change.tolist(), len(df)]
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            kind = str(kinds[lo])
            file_entity, ext, columns, headers = FILE_KINDS[kind]
            if file_entity != entity:
                raise ValueError(f"file kind {kind} does not belong to {entity}")
            path = folder / f"{days[lo].isoformat()}_{kind}.{ext}"
            if path.exists():
                raise ValueError(f"{path} would be written twice: frames are not sorted by day and kind")
            part = table.slice(lo, hi - lo)
            if ext == "csv":
                _write_csv(part, columns, headers, path, crlf=kind == "pos")
            elif ext == "jsonl":
                _write_jsonl(part, columns, headers, path)
            else:
                _write_transactions_parquet(part, path)
            written.append(path)
    return written


def theme_weeks(start: date, end: date) -> list[str]:
    """The last three ISO weeks (``YYYY-Www``) that meet ``[start, end]``: when the complaint theme grows."""
    weeks: list[str] = []
    for d in range((end - start).days + 1):
        iso = (start + timedelta(days=d)).isocalendar()
        label = f"{iso.year}-W{iso.week:02d}"
        if not weeks or weeks[-1] != label:
            weeks.append(label)
    return weeks[-len(THEME_WEEK_SHARES) :]


def describe_planted(
    frames: dict[str, pd.DataFrame], start: date, end: date, *, source_tz: str = "Europe/London"
) -> dict[str, str]:
    """Notes on the planted patterns, with the values measured on ``frames`` (valid rows only)."""
    weeks = theme_weeks(start, end)
    responses = frames["survey_responses"]
    valid = responses[responses["invalid_kind"] == ""]
    comments = valid["comment"].fillna("").astype(str)
    commented = comments != ""
    is_theme = comments.str.contains("checkout", case=False) & comments.str.contains("crash", case=False)
    iso = _local_times(valid["submitted_at"], source_tz).dt.isocalendar()
    week = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    in_weeks = week.isin(weeks)
    before_n = int((commented & ~in_weeks).sum())
    during_n = int((commented & in_weeks).sum())
    before_t = int((is_theme & ~in_weeks).sum())
    during_t = int((is_theme & in_weeks).sum())
    nps = valid["nps"].astype("float64")
    theme_nps = nps[is_theme].mean() if is_theme.any() else math.nan
    other_nps = nps[commented & ~is_theme].mean() if (commented & ~is_theme).any() else math.nan

    tx = frames["transactions"]
    tx_valid = tx[tx["invalid_kind"] == ""]
    amounts = pd.to_numeric(tx_valid["amount"])
    customers = frames["customers"]
    late = {
        entity: int((_late_mask(frames[entity], column, source_tz) & (frames[entity]["delivery_day"] > start)).sum())
        for entity, column in (
            ("customers", "created_at"),
            ("transactions", "occurred_at"),
            ("survey_responses", "submitted_at"),
        )
    }
    pre_existing = int((customers["delivery_day"] == start).sum())
    specials = sorted(
        name for name, marker in _SPECIAL_MARKERS.items() if comments.str.contains(marker, regex=False).any()
    )

    def pct(a: int, b: int) -> str:
        return f"{100 * a / b:.1f}%" if b else "n/a"

    return {
        "theme": THEME_NAME,
        "theme_terms": ", ".join(THEME_TERMS),
        "theme_weeks": ", ".join(weeks),
        "theme_share": (
            f"target {THEME_BASE_SHARE:.0%} of comments before {weeks[0]}, then "
            + " / ".join(f"{s:.0%}" for s in THEME_WEEK_SHARES)
            + f" in {', '.join(weeks)}; measured {pct(before_t, before_n)} ({before_t} of {before_n}) before, "
            f"{pct(during_t, during_n)} ({during_t} of {during_n}) in the theme weeks"
        ),
        "theme_nps": f"mean nps of theme responses {theme_nps:.2f} vs {other_nps:.2f} for other commented ones",
        "detractor_effect": (
            f"after a response with nps 0-6 (whatever its channel) the customer's purchase rate is multiplied by "
            f"{DETRACTOR_RATE_MULTIPLIER} and {DETRACTOR_CHURN_PROBABILITY:.0%} of them stop buying; passives and "
            "promoters keep their rhythm (baseline churn about 1-3% per purchase)"
        ),
        "key_drivers": (
            "overall experience = "
            + " + ".join(f"{w:.2f}*{d}" for d, w in DRIVER_WEIGHTS.items())
            + " (latent dimensions correlated about 0.56); nps, csat and ces are cut from it"
        ),
        "refunds": (
            f"{int((amounts < 0).sum())} refunds of {int((amounts > 0).sum())} purchases: full refunds 1-21 days "
            "later, same customer, channel and currency, amount the negated purchase amount"
        ),
        "currencies": ", ".join(
            f"{c} {n}" for c, n in sorted(tx_valid["currency"].value_counts().items(), key=lambda kv: str(kv[0]))
        ),
        "late_rows": ", ".join(f"{e} {n}" for e, n in late.items())
        + " (rows dated before the day of the file holding them, first day's files aside)",
        "pre_existing_customers": f"{pre_existing} customers delivered in {start.isoformat()}_crm.csv "
        "(the CRM's first delivery holds everyone created before the range)",
        "web_parquet_days": f"every {WEB_DELIVERY_EVERY}th day of the range: online sales delivered as "
        "<day>_web.parquet instead of in that day's pos export",
        "special_comments": ", ".join(specials),
    }


# --------------------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------------------


def _write_csv(part: pa.Table, columns: tuple[str, ...], headers: tuple[str, ...], path: Path, *, crlf: bool) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n" if crlf else "\n")
        writer.writerow(headers)
        writer.writerows(zip(*(part.column(c).to_pylist() for c in columns), strict=True))


def _write_jsonl(part: pa.Table, columns: tuple[str, ...], keys: tuple[str, ...], path: Path) -> None:
    lines = []
    for row in zip(*(part.column(c).to_pylist() for c in columns), strict=True):
        # The vendor leaves unanswered questions out rather than writing null.
        record = {key: value for key, value in zip(keys, row, strict=True) if value is not None}
        lines.append(json.dumps(record, ensure_ascii=False))
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")


def _write_transactions_parquet(part: pa.Table, path: Path) -> None:
    occurred = pd.to_datetime(pd.Series(part.column("occurred_at").to_pylist()), format="ISO8601", utc=True)

    def text(column: str) -> pa.Array:
        return pa.array(part.column(column).to_pylist(), type=pa.string())

    table = pa.table(
        {
            "transaction_id": text("transaction_id"),
            "customer_id": text("customer_id"),
            "occurred_at": pa.array(occurred.dt.as_unit("us"), type=pa.timestamp("us", tz="UTC")),
            "amount": pa.array([float(a) for a in part.column("amount").to_pylist()], type=pa.float64()),
            "currency": text("currency"),
            "channel": text("channel"),
            "region": text("region"),
        }
    )
    pq.write_table(table, path, compression="snappy")


def _local_times(values: pd.Series, source_tz: str) -> pd.Series:
    """Parse contract timestamps as naive wall-clock times in ``source_tz`` (NaT where unparseable).

    A value with an offset or ``Z`` is exact and is converted; a naive one is already wall-clock time.
    """
    text = values.astype("string")
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(False).to_numpy(bool)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], format="ISO8601", errors="coerce", utc=True)
        out[has_offset] = aware.dt.tz_convert(source_tz).dt.tz_localize(None).dt.as_unit("ns")
    if (~has_offset).any():
        out[~has_offset] = pd.to_datetime(text[~has_offset], format="ISO8601", errors="coerce").dt.as_unit("ns")
    return out


def _late_mask(df: pd.DataFrame, column: str, source_tz: str) -> pd.Series:
    """Rows whose own (local) day is before the day of the file that delivers them."""
    own = _local_times(df[column], source_tz).dt.normalize()
    delivered = pd.to_datetime(pd.Series(df["delivery_day"].to_numpy(), index=df.index)).dt.as_unit("ns")
    return own.notna() & (own < delivered)


# --------------------------------------------------------------------------------------------------------
# Comments
# --------------------------------------------------------------------------------------------------------

_PRODUCTS = (
    "trainers", "winter coat", "coffee machine", "garden bench", "phone case", "pair of school shoes", "kettle",
    "duvet set", "pair of headphones", "birthday cake", "bag of dog food", "tin of paint", "desk lamp",
    "pair of jeans", "gift card", "vacuum cleaner", "printer ink", "office chair", "bike helmet",
    "bedside table", "air fryer", "rain jacket", "toaster", "set of towels",
)  # fmt: skip
_STAFF = (
    "Priya", "Tom", "Aisha", "Gareth", "Sophie", "Mo", "Chloe", "Dev", "Hannah", "Callum", "the manager",
    "the lady on the till", "the young lad at customer services", "the delivery driver", "Agnieszka", "Rhys",
)  # fmt: skip
_STORES = (
    "Leeds", "Bristol", "Norwich", "Cardiff", "Newcastle", "Brighton", "Exeter", "York", "Ipswich", "Plymouth",
    "Sheffield", "Cambridge", "Hull", "Swansea",
)  # fmt: skip
_PHONES = ("iPhone", "Samsung", "Pixel", "old Android phone", "iPad")

# Sentences by topic: 0-4 follow DIMENSIONS, 5 is prices and points. No sentence here may contain "crash" or
# "checkout": those words belong to the planted theme alone.
_POSITIVE = (
    (
        "My {product} arrived the day after I ordered it",
        "Everything I ordered turned up on time and in perfect condition",
        "The {product} does exactly what it says",
        "Click & collect order was ready when they said it would be",
        "Second {product} I've bought from you and both have been spot on",
        "Delivery came on the day promised and the driver was careful with my {product}",
    ),
    (
        "{staff} sorted my return in a couple of minutes",
        "Got a reply to my email the same afternoon",
        "No queue at the tills for once",
        "Phoned about my {product} and got straight through",
        "Refund was back in my account within two days",
        "Someone came over to help as soon as I walked in",
    ),
    (
        "{staff} really knew their stuff about the {product}",
        "Felt confident in the advice I was given",
        "{staff} explained the warranty on the {product} clearly",
        "Honest advice, {staff} talked me out of the more expensive {product}",
    ),
    (
        "{staff} went out of their way to help my mum find a {product}",
        "They remembered me from last time, lovely touch",
        "{staff} was so patient with my kids",
        "Really felt like they cared about getting it right",
    ),
    (
        "The {store} store is clean and well laid out",
        "Website is easy to find things on",
        "Love the new layout in {store}",
        "Plenty of parking at the {store} branch",
        "New app is quick and easy to use",
    ),
    (
        "Great value for money",
        "Good deal on the {product} this month",
        "Loyalty points add up quickly",
        "Cheaper than the supermarket for a {product}",
    ),
)
_NEGATIVE = (
    (
        "My {product} arrived {days} days late",
        "Ordered a {product} and got the wrong one, twice",
        "The {product} stopped working after a week",
        "Order never turned up and the tracking said delivered",
        "Half of my click & collect order was missing",
        "Delivery slot was missed with no warning",
        "The {product} came damaged and the box was soaking wet",
    ),
    (
        "Waited {mins} minutes on hold before anyone answered",
        "Nobody replied to my emails for over a week",
        "Only one till open and a massive queue",
        "Still waiting for my refund after {days} days",
        "Asked for help three times in store and gave up",
        "Live chat said someone would get back to me, nobody did",
    ),
    (
        "Staff couldn't answer basic questions about the {product}",
        "Was told three different things by three different people",
        "{staff} clearly had no idea about the returns policy",
        "Got the wrong advice and bought the wrong {product}",
    ),
    (
        "Felt like nobody cared",
        "Treated like an inconvenience at customer services",
        "Not even an apology for the mix-up",
        "{staff} was rude and rolled their eyes at me",
        "My complaint was just brushed off",
    ),
    (
        "The {store} store was a mess with empty shelves everywhere",
        "Toilets at {store} were disgusting",
        "Website is painfully slow on my phone",
        "Parking at {store} is a nightmare",
        "Couldn't find anything, the layout keeps changing",
        "Fitting rooms at {store} were closed again",
    ),
    (
        "Prices have gone up again",
        "The {product} is cheaper online elsewhere",
        "Loyalty points are worth less than they used to be",
        "Delivery charge is far too high for a {product}",
    ),
)
_OPENERS = (
    (
        "Very disappointed.",
        "Not good enough.",
        "Third time this has happened.",
        "Honestly?",
        "Where to start.",
    ),
    ("Mostly fine.", "OK overall.", "Not bad.", "Mixed experience."),
    ("Really happy.", "Brilliant as always.", "Great experience.", "Can't fault it.", "Five stars."),
)
_CLOSERS = (
    ("Will be shopping elsewhere.", "Sort it out.", "Expected better.", "Not impressed.", "Never again."),
    ("Could be better.", "Room for improvement.", "Would probably use again.", "Fine I suppose."),
    ("Will definitely be back.", "Thanks!", "Keep it up.", "Would recommend to friends.", "Thank you!!"),
)
_CONNECTORS = ("but", "although", "however", "though")
_THEME_SENTENCES = (
    "The app crashed at checkout {times} times, gave up in the end",
    "App crashed at checkout again and I lost my whole basket",
    "Every time I get to checkout the app crashes, ended up going to the {store} store instead",
    "app crashed when I pressed pay at checkout, no idea if I've been charged",
    "Tried to use my points but the app crashed at checkout",
    "Since the last update the app crashed at checkout on my {phone} every single time",
    "Checkout keeps crashing in the app, please fix it",
    "The app crashed twice at checkout so I had to ring up to place the order",
)
_FOREIGN = (
    (
        "Commande arrivée en retard et personne ne répond au téléphone.",
        "El pedido llegó tarde y nadie contestó mis correos.",
        "Die Ware war beschädigt und der Kundenservice hat sich nicht gemeldet.",
        "Zamówienie przyszło uszkodzone, bardzo słaba obsługa.",
    ),
    (
        "Produits corrects, mais l'attente en caisse était trop longue.",
        "Buenos precios, pero la tienda estaba muy desordenada.",
        "Gute Preise, aber das Personal war etwas unfreundlich.",
    ),
    (
        "Très bon service, livraison rapide. Merci !",
        "Muy buena atención en la tienda, volveré seguro.",
        "Super Service, die Lieferung kam schon am nächsten Tag.",
        "Gwasanaeth gwych, diolch yn fawr!",
        "Bardzo miła obsługa, polecam.",
    ),
)
_EMOJI = (("😡", "🙄", "👎", "😤"), ("🤷", "😐"), ("😊", "👍", "❤️", "🙌", "⭐⭐⭐⭐⭐"))

# Comments planted once each (when the run has enough comments): (name, file kinds allowed, text template).
_SPECIALS = (
    ("french", ("voicebox", "cards", "callcentre"), "Très bon service, livraison rapide. Merci !"),
    ("spanish", ("voicebox", "cards", "callcentre"), "El pedido llegó tarde y nadie contestó mis correos."),
    (
        "german",
        ("voicebox", "cards", "callcentre"),
        "Super Service, die Lieferung kam schon am nächsten Tag.",
    ),
    ("emoji", ("voicebox", "cards", "callcentre"), "{base} 😊👍"),
    ("html_break", ("voicebox",), "{base}<br /><br />Sent from my iPhone"),
    ("script", ("voicebox",), "{base} <script>alert('x')</script>"),
    ("img_file", ("voicebox",), '<img src="file:///etc/passwd"> where is my parcel??'),
    (
        "url",
        ("voicebox", "callcentre"),
        "Same {product} is cheaper here http://cheap-deals.example.net/offer?id=4471 can you price match?",
    ),
    ("url_2", ("voicebox",), "Photos of the damage: http://photos.example.org/u/8812/damaged-box.jpg"),
    ("sql", ("voicebox", "cards"), "'; DROP TABLE survey_responses; --"),
    ("multiline", ("cards", "callcentre"), "{base}\nPS the card machine wasn't working either"),
    ("long", ("voicebox", "callcentre"), "{long}"),
)
_SPECIAL_MARKERS = {
    "french": "Très bon service",
    "spanish": "llegó tarde",
    "german": "nächsten Tag",
    "emoji": "😊👍",
    "html_break": "<br />",
    "script": "<script>",
    "img_file": "file:///etc/passwd",
    "url": "http://cheap-deals.example.net",
    "url_2": "http://photos.example.org",
    "sql": "DROP TABLE",
    "multiline": "\nPS the card machine",
    "long": "Let me tell you the whole story",
}


class _CommentWriter:
    """Composes comments from sentence banks with slots, using one row of pre-drawn uniforms per comment."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    @staticmethod
    def _pick(options: tuple[str, ...], u: float) -> str:
        return options[min(int(u * len(options)), len(options) - 1)]

    def _fill(self, template: str, u: np.ndarray) -> str:
        return template.format(
            product=self._pick(_PRODUCTS, u[0]),
            staff=self._pick(_STAFF, u[1]),
            store=self._pick(_STORES, u[2]),
            days=2 + int(u[3] * 12),
            mins=15 + int(u[4] * 75),
            times=("two", "three", "four", "five")[int(u[5] * 4)],
            phone=self._pick(_PHONES, u[6]),
        )

    def sentences(self, sentiment: int, low: int, high: int, theme: bool, u: np.ndarray) -> list[str]:
        """Sentences of one comment. sentiment 0 negative, 1 mixed, 2 positive; low/high are topics."""
        end = "!" if u[7] < 0.15 else "."
        if theme:
            main = self._fill(self._pick(_THEME_SENTENCES, u[8]), u) + end
            if sentiment == 2 or (sentiment == 1 and u[9] < 0.7):
                good = self._fill(self._pick(_POSITIVE[high], u[10]), np.roll(u, 3))
                return [f"{good} {self._pick(_CONNECTORS, u[11])} {main[0].lower()}{main[1:]}"]
            return [self._pick(_OPENERS[0], u[13]), main] if u[12] < 0.35 else [main]
        if u[14] < 0.012:  # a customer writing in another language
            return [self._pick(_FOREIGN[sentiment], u[8])]
        if sentiment == 1:
            good = self._fill(self._pick(_POSITIVE[high], u[8]), u)
            bad = self._fill(self._pick(_NEGATIVE[low], u[10]), np.roll(u, 3))
            out = [f"{good} {self._pick(_CONNECTORS, u[11])} {bad[0].lower()}{bad[1:]}{end}"]
        else:
            bank = _POSITIVE if sentiment == 2 else _NEGATIVE
            topic = high if sentiment == 2 else low
            out = [self._fill(self._pick(bank[topic], u[8]), u) + end]
            if u[9] < 0.4:  # a second point, on another topic
                other = int(u[10] * 6) % 6
                if other == topic:
                    other = 5 if topic != 5 else 0
                out.append(self._fill(self._pick(bank[other], u[11]), np.roll(u, 3)) + ".")
        if u[12] < 0.3:
            out.insert(0, self._pick(_OPENERS[sentiment], u[13]))
        if u[15] < 0.45:
            out.append(self._pick(_CLOSERS[sentiment], u[16]))
        return out

    def compose(self, sentiment: int, low: int, high: int, theme: bool, kind: str, u: np.ndarray) -> str:
        parts = self.sentences(sentiment, low, high, theme, u)
        if kind == "voicebox" and len(parts) > 1 and u[17] < 0.15:
            text = ("<br /><br />" if u[18] < 0.25 else "<br />").join(parts)
        elif kind != "voicebox" and len(parts) > 1 and u[17] < 0.04:
            text = "\n".join(parts)
        else:
            text = " ".join(parts)
        if kind == "voicebox" and u[19] < 0.6:
            text = text.replace("&", "&amp;")  # the web form exports HTML-escaped text
        if u[20] < 0.03:
            text = f"{text} {self._pick(_EMOJI[sentiment], u[21])}"
        if u[22] < 0.08:
            text = text.lower()
        elif sentiment == 0 and u[22] > 0.985:
            text = text.upper()
        if u[23] < 0.02:
            text = f"  {text} "  # stray whitespace from the form
        return text

    def special(self, template: str, base: str, u: np.ndarray) -> str:
        long = "Let me tell you the whole story. " + " ".join(
            self._fill(s, u) + "." for bank in _NEGATIVE for s in bank
        )
        long = (long + " ") * max(1, math.ceil(2500 / len(long)))
        return template.format(base=base.rstrip(), long=long.strip(), product=self._pick(_PRODUCTS, u[0]))


# --------------------------------------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------------------------------------

_FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Grace", "Sophia", "Poppy", "Evie", "Ella",
    "Ruby", "Chloe", "Emily", "Zara", "Aisha", "Priya", "Hannah", "Megan", "Niamh", "Siobhan", "Fatima", "Noah",
    "Oliver", "George", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Charlie", "Jacob", "Thomas", "Alfie",
    "Mohammed", "Rhys", "Callum", "Dylan", "Ethan", "Samuel", "Joseph", "Daniel", "Kwame", "Tomasz", "Luca",
    "Arjun", "Liam", "Owen", "Ben", "Sam", "Kate", "Lucy", "Jess", "Sarah", "Rebecca", "Laura", "David", "James",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Thomas", "Clarke", "Jackson", "Wood",
    "Harris", "Edwards", "Turner", "Martin", "Cooper", "Hill", "Ward", "Hughes", "Moore", "Clark", "King",
    "Harrison", "Lewis", "Baker", "Lee", "Allen", "Morris", "Khan", "Scott", "Watson", "Davis", "Parker", "James",
    "Bennett", "Young", "Phillips", "Richardson", "Mitchell", "Bailey", "Carter", "Cook", "Singh", "Shaw", "Bell",
    "Collins", "Morgan", "Kelly", "Begum", "Miller", "Cox", "Hussain", "Marshall", "Simpson", "Price",
    "Anderson", "Adams", "Wilkinson", "Ali", "Ahmed", "Foster", "Ellis", "Murphy", "Chapman", "Mason", "Gray",
    "Richards", "Webb", "Griffiths", "Hunt", "Palmer", "Campbell", "Holmes", "Mills", "Rogers", "Barnes",
    "Knight", "Matthews", "Barker", "Kowalski", "Nowak", "O'Brien", "Okafor", "Nguyen", "Rossi",
)  # fmt: skip


class _Simulation:
    """Simulates customers and their events; ``frames()`` renders them as the sources deliver them."""

    def __init__(
        self,
        start: date,
        end: date,
        seed: int,
        n_customers: int,
        tz: ZoneInfo,
        *,
        purchase_rate: float = 1.0,
        survey_rate: float = 1.0,
        comment_rate: float = 1.0,
    ) -> None:
        """The rates scale the demo's volumes (the benchmark's year uses them); 1.0 each is the demo itself.

        ``purchase_rate`` divides every customer's mean gap between purchases, and the churn chances per
        purchase and per detractor answer with it, so that buying more often does not mean churning more often
        per year. ``survey_rate`` and ``comment_rate`` multiply the chance of a survey per purchase and of a
        comment per survey.
        """
        self.start, self.end, self.seed, self.n, self.tz = start, end, seed, n_customers, tz
        self.purchase_rate = purchase_rate
        self.churn_scale = 1.0 / purchase_rate
        self.detractor_churn = DETRACTOR_CHURN_PROBABILITY * min(1.0, self.churn_scale / survey_rate)
        self.survey_p = np.clip(_SURVEY_P * survey_rate, 0.0, 1.0)
        self.comment_p = np.clip(_COMMENT_P * comment_rate, 0.0, 0.95)
        self.days = (end - start).days + 1
        d = np.arange(self.days)
        self.weekday = (start.weekday() + d) % 7
        months = np.array([(start + timedelta(days=int(i))).month for i in d])
        self.weight = _WEEKDAY_FACTOR[self.weekday] * _MONTH_FACTOR[months - 1]
        self.weight = self.weight / self.weight.mean()
        # Customer clocks run in "activity time" tau; W maps day boundaries to tau, so busy days get more events.
        self.W = np.concatenate([[0.0], np.cumsum(self.weight)])
        weeks = theme_weeks(start, end)
        self.theme_level = np.zeros(self.days, dtype=np.int8)
        for i in d:
            iso = (start + timedelta(days=int(i))).isocalendar()
            label = f"{iso.year}-W{iso.week:02d}"
            if label in weeks:
                self.theme_level[i] = weeks.index(label) + 1
        self.nps_cut = _thresholds(_NPS_P)
        self.csat_cut = _thresholds(_CSAT_P)
        self.ces_cut = _thresholds(_CES_P)
        self.dim_cut = _thresholds(_DIM_P)
        w = np.array(list(DRIVER_WEIGHTS.values()))
        cov = np.full((5, 5), 0.75**2) + np.eye(5) * (1 - 0.75**2)
        self.driver_w = w
        self.z_sd = math.sqrt(float(w @ cov @ w) + 0.45**2)

    # ---- helpers --------------------------------------------------------------------------------------

    @staticmethod
    def _hours(rng: np.random.Generator, profile: np.ndarray) -> np.ndarray:
        """Seconds into the day, drawn from per-row hour profiles (indices into _HOUR_CDFS)."""
        u = rng.random(profile.size)
        hour = (u[:, None] > _HOUR_CDFS[profile]).sum(axis=1)
        return np.minimum(hour, 23) * 3600 + rng.integers(0, 3600, profile.size)

    def _profile(self, channel: np.ndarray, day: np.ndarray, *, survey: bool = False) -> np.ndarray:
        """Hour profile per row. channel codes follow TRANSACTION_CHANNELS, or SURVEY_CHANNELS if survey."""
        wd = self.weekday[np.clip(day, 0, self.days - 1)]
        if survey:
            is_store = (channel == 2) | (channel == 4)
            is_phone = channel == 1
        else:
            is_store = channel == 1
            is_phone = channel == 2
        out = np.full(channel.size, _H_ONLINE, dtype=np.int64)
        out[is_store] = np.where(wd[is_store] == 6, _H_STORE_SUNDAY, _H_STORE)
        out[is_phone] = np.where(wd[is_phone] >= 5, _H_PHONE_WEEKEND, _H_PHONE)
        return out

    def _cut(self, x: np.ndarray, cuts: np.ndarray, low: int) -> np.ndarray:
        return (np.searchsorted(cuts, x) + low).astype(np.int16)

    def _format(self, local_sec: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Render local wall-clock seconds (from the first day's midnight) as ISO 8601 text per format code."""
        millis = rng.integers(0, 1000, local_sec.size)
        out = np.empty(local_sec.size, dtype=object)
        step = 250_000  # bounds the fixed-width text temporaries on big runs
        for lo in range(0, local_sec.size, step):
            hi = lo + step
            out[lo:hi] = self._format_chunk(local_sec[lo:hi], codes[lo:hi], millis[lo:hi])
        return out

    def _format_chunk(self, local_sec: np.ndarray, codes: np.ndarray, millis: np.ndarray) -> np.ndarray:
        base = np.datetime64(self.start.isoformat(), "ns")
        naive = pd.DatetimeIndex(base + local_sec.astype("timedelta64[s]").astype("timedelta64[ns]"))
        key = self.tz.key
        aware = naive.as_unit("ns").tz_localize(key, ambiguous="NaT", nonexistent="NaT")
        bad = np.asarray(aware.isna())
        utc_ns = aware.as_unit("ns").asi8.copy()
        if bad.any():
            # In a fold or gap: keep one instant (the first reading, or shifted forward), never write it naive.
            fixed = (
                naive[bad]
                .as_unit("ns")
                .tz_localize(key, ambiguous=np.ones(int(bad.sum()), dtype=bool), nonexistent="shift_forward")
            )
            utc_ns[bad] = fixed.as_unit("ns").asi8
            codes = np.where(bad & (codes <= _TS_NAIVE_MINUTES), _TS_OFFSET, codes)
        utc_idx = pd.to_datetime(utc_ns, unit="ns", utc=True)
        local_ns = utc_idx.tz_convert(key).tz_localize(None).as_unit("ns").asi8
        offset_min = (local_ns - utc_ns) // 60_000_000_000
        local_txt = np.datetime_as_string(local_ns.astype("datetime64[ns]").astype("datetime64[s]"), unit="s")
        utc_txt = np.datetime_as_string(utc_ns.astype("datetime64[ns]").astype("datetime64[s]"), unit="s")
        out = np.empty(local_sec.size, dtype=object)
        m = codes == _TS_NAIVE
        out[m] = local_txt[m]
        m = codes == _TS_NAIVE_MINUTES
        out[m] = local_txt[m].astype("U16")
        m = codes == _TS_OFFSET
        if m.any():
            offsets = {
                int(o): f"{'+' if o >= 0 else '-'}{abs(int(o)) // 60:02d}:{abs(int(o)) % 60:02d}"
                for o in np.unique(offset_min[m])
            }
            suffix = np.array([offsets[int(o)] for o in offset_min[m]])
            out[m] = np.char.add(local_txt[m].astype(str), suffix)
        m = codes == _TS_UTC_Z
        out[m] = np.char.add(utc_txt[m].astype(str), "Z")
        m = codes == _TS_UTC_MILLIS
        if m.any():
            ms = np.char.zfill(millis[m].astype(str), 3)
            out[m] = np.char.add(np.char.add(np.char.add(utc_txt[m].astype(str), "."), ms), "Z")
        return out

    def _codes(self, rng: np.random.Generator, n: int, p: dict[int, float]) -> np.ndarray:
        keys = np.array(list(p))
        return keys[rng.choice(len(keys), size=n, p=np.array(list(p.values())))]

    # ---- customers ------------------------------------------------------------------------------------

    def _customers(self) -> None:
        rng = _stream(self.seed, "customers")
        n = self.n
        n_new = round(n * self.days / (self.days + 400))
        n_old = n - n_new
        day = np.concatenate(
            [
                -rng.integers(1, 731, n_old),
                rng.choice(self.days, size=n_new, p=self.weight / self.weight.sum()),
            ]
        )
        profile = np.full(n, _H_ONLINE)
        tod = self._hours(rng, profile)
        tod = np.where(day < 0, np.clip(tod, 7 * 3600, 22 * 3600), tod)
        order = np.lexsort((tod, day))
        self.c_day = day[order]
        self.c_sec = self.c_day * 86400 + tod[order]
        self.c_new = self.c_day >= 0
        self.c_region = rng.choice(4, size=n, p=_REGION_P)
        self.c_region_known = rng.random(n) >= 0.03
        self.c_business = rng.random(n) < 0.2
        self.c_segment_known = rng.random(n) >= 0.02
        first = rng.integers(0, len(_FIRST_NAMES), n)
        last = rng.integers(0, len(_LAST_NAMES), n)
        suffix = np.where(rng.random(n) < 0.35, rng.integers(1, 100, n), 0)
        self.c_email = [
            f"{_FIRST_NAMES[f].lower()}.{_LAST_NAMES[g].lower().replace(chr(39), '')}{s or ''}@example.com"
            for f, g, s in zip(first.tolist(), last.tolist(), suffix.tolist(), strict=True)
        ]
        self.c_email_known = rng.random(n) >= 0.08
        self.c_sat = rng.standard_normal(n)
        self.c_gap = np.clip(8 + rng.gamma(1.6, 14.0, n), 8, 150) / self.purchase_rate
        pref_type = rng.choice(3, size=n, p=_PREF_TYPE_P)
        self.c_pref_cdf = np.cumsum(_PREF_CHANNEL_P[pref_type], axis=1)
        self.c_spend = math.log(48) + 0.35 * rng.standard_normal(n) + np.log(1.6) * self.c_business
        self.c_eur = rng.random(n) < 0.04
        self.c_dormant = ~self.c_new & (rng.random(n) < 0.08)
        self.c_ids = np.array([f"C{i:07d}" for i in range(1, n + 1)], dtype=object)

    # ---- purchases and surveys ------------------------------------------------------------------------

    def _simulate(self) -> None:
        rng = _stream(self.seed, "events")
        n = self.n
        tau_end = self.W[-1]
        cday = np.clip(self.c_day, 0, self.days - 1)
        frac = (self.c_sec - self.c_day * 86400) / 86400
        tau_created = np.where(self.c_new, self.W[cday] + frac * self.weight[cday], -np.inf)
        gap0 = rng.gamma(2.0, self.c_gap / 2)
        at_signup = self.c_new & (rng.random(n) < 0.6)
        tau_next = np.where(
            self.c_new,
            np.where(at_signup, tau_created, tau_created + np.maximum(gap0, 1.0)),
            rng.random(n) * gap0,
        )
        alive = ~self.c_dormant
        mult = np.ones(n)
        purchases: list[dict[str, np.ndarray]] = []
        surveys: list[dict[str, np.ndarray]] = []
        seq = 0
        while True:
            idx = np.flatnonzero(alive & (tau_next < tau_end))
            if idx.size == 0:
                break
            p, s = self._events(rng, idx, tau_next[idx], at_signup[idx], seq)
            seq += idx.size
            purchases.append(p)
            surveys.append(s)
            at_signup[idx] = False
            detractor = np.zeros(n, dtype=bool)
            detractor[s["cust"][s["nps"] <= 6]] = True
            det = detractor[idx]
            mult[idx[det]] = np.minimum(mult[idx[det]], DETRACTOR_RATE_MULTIPLIER)
            base_churn = (0.012 + 0.02 * (self.c_sat[idx] < -1)) * self.churn_scale
            churn = (rng.random(idx.size) < base_churn) | (det & (rng.random(idx.size) < self.detractor_churn))
            alive[idx[churn]] = False
            tau_next[idx] += np.maximum(rng.gamma(2.0, self.c_gap[idx] / 2) / mult[idx], 0.3)
        if not purchases:  # nobody bought anything: keep the column shapes with no rows
            p, s = self._events(rng, np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=bool), 0)
            purchases, surveys = [p], [s]
        self.p = {k: np.concatenate([c[k] for c in purchases]) for k in purchases[0]}
        self.s = {k: np.concatenate([c[k] for c in surveys]) for k in surveys[0]}

    def _events(
        self, rng: np.random.Generator, idx: np.ndarray, tau: np.ndarray, at_signup: np.ndarray, seq: int
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        m = idx.size
        day = np.clip(np.searchsorted(self.W, tau, side="right") - 1, 0, self.days - 1)
        u = rng.random(m)
        channel = (u[:, None] > self.c_pref_cdf[idx]).sum(axis=1).clip(0, 2)
        # A purchase at sign-up outside shop and phone hours happened online.
        signup_hour = (self.c_sec[idx] - self.c_day[idx] * 86400) // 3600
        channel = np.where(at_signup & ((signup_hour < 8) | (signup_hour >= 19)), 0, channel)
        tod = self._hours(rng, self._profile(channel, day))
        signup_tod = self.c_sec[idx] - self.c_day[idx] * 86400 + rng.integers(60, 2400, m)
        tod = np.where(at_signup, np.minimum(signup_tod, 86399), tod)
        # Never before the customer's sign-up, never past the end of the event's day.
        local_sec = np.minimum(np.maximum(day * 86400 + tod, self.c_sec[idx] + 60), day * 86400 + 86399)
        amount = np.round(np.clip(np.exp(self.c_spend[idx] + 0.55 * rng.standard_normal(m)), 1.5, 3000), 2)
        eur = np.where(self.c_eur[idx], rng.random(m) < 0.85, rng.random(m) < 0.005)
        amount = np.where(eur, np.round(amount * 1.15, 2), amount)
        home = self.c_region[idx]
        away = (home + rng.integers(1, 4, m)) % 4
        region = np.where(channel == 1, np.where(rng.random(m) < 0.9, home, away), home)
        region_known = np.where(channel == 0, rng.random(m) < 0.7, np.where(channel == 2, rng.random(m) < 0.8, True))
        region = np.where(region_known, region, -1)
        purchase = {
            "seq": seq + np.arange(m),
            "cust": idx,
            "day": day,
            "sec": local_sec,
            "channel": channel.astype(np.int8),
            "amount": amount,
            "eur": eur,
            "region": region.astype(np.int8),
        }

        # Survey: whether one follows, on which channel, when.
        has = rng.random(m) < self.survey_p[channel]
        cdf = np.cumsum(_SURVEY_CHANNEL_P[channel], axis=1)
        sch = (rng.random(m)[:, None] > cdf).sum(axis=1).clip(0, 4)
        delay = rng.integers(1, 6, m)
        same_day = (sch == 2) | (sch == 4) | ((sch == 0) & (rng.random(m) < 0.55))
        sub_day = np.where(same_day, day, day + delay)
        later_tod = self._hours(rng, self._profile(sch, sub_day, survey=True))
        minutes_after = np.where(sch == 0, rng.integers(600, 6 * 3600, m), rng.integers(120, 5400, m))
        sub_sec = np.where(same_day, local_sec + minutes_after, sub_day * 86400 + later_tod)
        sub_day = sub_sec // 86400
        has &= sub_day < self.days

        # Latent experience: the customer's satisfaction, then five correlated dimensions, then the total.
        r = 0.55 * self.c_sat[idx] + 0.835 * rng.standard_normal(m)
        dims = 0.75 * r[:, None] + math.sqrt(1 - 0.75**2) * rng.standard_normal((m, 5))
        noise = 0.45 * rng.standard_normal(m)
        z_pre = (dims @ self.driver_w + noise) / self.z_sd
        comment_p = self.comment_p[sch] + 0.15 * (z_pre < -0.6) - 0.05 * (z_pre > 0.8)
        has_comment = rng.random(m) < comment_p
        level = self.theme_level[np.clip(sub_day, 0, self.days - 1)]
        theme_p = np.where(level == 0, THEME_BASE_SHARE, np.array([0.0, *THEME_WEEK_SHARES])[level])
        theme = has & has_comment & (rng.random(m) < theme_p)
        dims[theme, 0] -= 1.2  # the app failing is a reliability failure
        z = (dims @ self.driver_w + noise) / self.z_sd - 0.8 * theme
        nps = self._cut(z, self.nps_cut, 0)
        csat = self._cut(0.85 * z + 0.53 * rng.standard_normal(m), self.csat_cut, 1)
        ces = self._cut(0.7 * z + 0.71 * rng.standard_normal(m), self.ces_cut, 1)
        dim_scores = self._cut(dims.ravel(), self.dim_cut, 1).reshape(m, 5)
        k = np.flatnonzero(has)
        survey = {
            "purchase_seq": seq + k,
            "cust": idx[k],
            "channel": sch[k].astype(np.int8),
            "sec": sub_sec[k],
            "day": sub_day[k],
            "nps": nps[k],
            "csat": csat[k],
            "ces": ces[k],
            "dims": dim_scores[k],
            "low": dims[k].argmin(axis=1).astype(np.int8),
            "high": dims[k].argmax(axis=1).astype(np.int8),
            "comment": has_comment[k],
            "theme": theme[k],
            "region": region[k].astype(np.int8),
        }
        return purchase, survey

    # ---- rendering ------------------------------------------------------------------------------------

    def frames(self) -> dict[str, pd.DataFrame]:
        self._customers()
        self._simulate()
        customers = self._customer_frame()
        transactions = self._transaction_frame()
        responses = self._survey_frame()
        inv = _stream(self.seed, "invalid")
        return {
            "customers": self._finish(self._plant_customers(customers, inv)),
            "transactions": self._finish(self._plant_transactions(transactions, inv)),
            "survey_responses": self._finish(self._plant_responses(responses, inv)),
        }

    def _late(self, rng: np.random.Generator, day: np.ndarray, share: float, most: int) -> np.ndarray:
        late = rng.random(day.size) < share
        return np.minimum(day + np.where(late, rng.integers(1, most + 1, day.size), 0), self.days - 1)

    def _customer_frame(self) -> pd.DataFrame:
        rng = _stream(self.seed, "customer-rows")
        n = self.n
        codes = self._codes(rng, n, {_TS_NAIVE: 0.7, _TS_OFFSET: 0.2, _TS_UTC_Z: 0.1})
        region = np.array(REGIONS, dtype=object)[self.c_region]
        delivery = np.where(self.c_new, self._late(rng, np.maximum(self.c_day, 0), 0.03, 3), 0)
        return pd.DataFrame(
            {
                "customer_id": self.c_ids,
                "created_at": self._format(self.c_sec, codes, rng),
                "region": np.where(self.c_region_known, region, None),
                "segment": np.where(
                    self.c_segment_known, np.where(self.c_business, "business", "consumer"), None
                ).astype(object),
                "email": np.where(self.c_email_known, np.array(self.c_email, dtype=object), None),
                "_day": delivery,
                "_kind": "crm",
                "_order": self.c_sec.astype(float),
            }
        )

    def _transaction_frame(self) -> pd.DataFrame:
        rng = _stream(self.seed, "transaction-rows")
        p = self.p
        refund = rng.random(p["cust"].size) < REFUND_SHARE
        r_day = p["day"][refund] + rng.integers(1, 22, int(refund.sum()))
        keep = r_day < self.days
        ri = np.flatnonzero(refund)[keep]
        r_day = r_day[keep]
        r_tod = self._hours(rng, self._profile(p["channel"][ri], r_day))
        cust = np.concatenate([p["cust"], p["cust"][ri]])
        day = np.concatenate([p["day"], r_day])
        sec = np.concatenate([p["sec"], r_day * 86400 + r_tod])
        channel = np.concatenate([p["channel"], p["channel"][ri]])
        amount = np.concatenate([p["amount"], -p["amount"][ri]])
        eur = np.concatenate([p["eur"], p["eur"][ri]])
        region = np.concatenate([p["region"], p["region"][ri]])
        order = np.lexsort((cust, sec))
        cust, day, sec, channel, amount, eur, region = (
            a[order] for a in (cust, day, sec, channel, amount, eur, region)
        )
        n = cust.size
        prefixes = np.array(["ORD", "POS", "TEL"], dtype=object)[channel]
        numbers = np.zeros(n, dtype=np.int64)
        for c in range(3):
            mask = channel == c
            numbers[mask] = 1_000_001 + np.arange(int(mask.sum()))
        ids = [f"{a}-{b:08d}" for a, b in zip(prefixes.tolist(), numbers.tolist(), strict=True)]
        web = (channel == 0) & ((day % WEB_DELIVERY_EVERY) == WEB_DELIVERY_EVERY - 1)
        codes = np.where(web, _TS_UTC_MILLIS, self._codes(rng, n, {_TS_NAIVE: 0.75, _TS_OFFSET: 0.2, _TS_UTC_Z: 0.05}))
        delivery = np.where(web, day, self._late(rng, day, 0.015, 3))
        region_txt = np.array([*REGIONS, None], dtype=object)[region]  # -1 picks the trailing None
        return pd.DataFrame(
            {
                "transaction_id": np.array(ids, dtype=object),
                "customer_id": self.c_ids[cust],
                "occurred_at": self._format(sec, codes, rng),
                "amount": np.array([f"{a:.2f}" for a in amount.tolist()], dtype=object),
                "currency": np.where(eur, "EUR", "GBP").astype(object),
                "channel": np.array(TRANSACTION_CHANNELS, dtype=object)[channel],
                "region": region_txt,
                "_day": delivery,
                "_kind": np.where(web, "web", "pos").astype(object),
                "_order": sec.astype(float),
            }
        )

    def _survey_frame(self) -> pd.DataFrame:
        rng = _stream(self.seed, "survey-rows")
        s = self.s
        order = np.lexsort((s["purchase_seq"], s["sec"]))
        s = {k: v[order] for k, v in s.items()}
        n = s["cust"].size
        ch = s["channel"]
        kind = np.array(["voicebox", "callcentre", "cards", "voicebox", "callcentre"], dtype=object)[ch]
        is_vb, is_card = kind == "voicebox", kind == "cards"
        is_phone, is_instore = ch == 1, ch == 4

        def present(p_vb: float, p_phone: float, p_store: float, p_card: float) -> np.ndarray:
            p = np.select([is_vb, is_phone, is_instore, is_card], [p_vb, p_phone, p_store, p_card])
            return rng.random(n) < p

        has_nps = present(0.97, 0.99, 0.95, 0.35)
        has_csat = present(0.95, 0.97, 0.95, 0.90)
        has_ces = present(0.90, 0.95, 0.60, 0.0)
        has_dims = present(0.95, 0.97, 0.50, 0.0)[:, None] & (rng.random((n, 5)) >= 0.03)
        has_comment = s["comment"]
        none = ~has_nps & ~has_csat & ~has_comment
        has_csat = has_csat | none
        anonymous = present(0.03, 0.0, 0.0, 0.65)
        region_missing = rng.random(n) < 0.08

        # Sentiment from what the customer answered: nps class, or csat on a card without nps.
        sentiment = np.where(s["nps"] >= 9, 2, np.where(s["nps"] >= 7, 1, 0))
        card_sentiment = np.where(s["csat"] >= 4, 2, np.where(s["csat"] == 3, 1, 0))
        sentiment = np.where(has_nps, sentiment, card_sentiment)
        comments = np.full(n, None, dtype=object)
        writer = _CommentWriter(rng)
        rows = np.flatnonzero(has_comment)
        uniforms = rng.random((rows.size, 24))
        low, high, theme = s["low"].tolist(), s["high"].tolist(), s["theme"].tolist()
        sent_list, kind_list = sentiment.tolist(), kind.tolist()
        for j, i in enumerate(rows.tolist()):
            comments[i] = writer.compose(sent_list[i], low[i], high[i], theme[i], kind_list[i], uniforms[j])
        # The planted specials, each once, on commented responses outside the theme.
        candidates = rows[~s["theme"][rows]]
        candidates = candidates[rng.permutation(candidates.size)]
        used: set[int] = set()
        for name, kinds, template in _SPECIALS:
            for i in candidates.tolist():
                if i not in used and kind_list[i] in kinds:
                    used.add(i)
                    comments[i] = writer.special(template, comments[i], rng.random(24))
                    break
            else:
                logger.debug("demo: no room for the %s comment", name)

        ids = np.empty(n, dtype=object)
        for k, (prefix, width) in {
            "voicebox": ("VB", 9),
            "callcentre": ("CC-", 7),
            "cards": ("CARD-", 7),
        }.items():
            mask = kind == k
            ids[mask] = [f"{prefix}{i:0{width}d}" for i in range(100_001, 100_001 + int(mask.sum()))]
        codes = np.select(
            [is_vb, is_card],
            [
                self._codes(rng, n, {_TS_UTC_MILLIS: 0.6, _TS_OFFSET: 0.3, _TS_NAIVE: 0.1}),
                self._codes(rng, n, {_TS_NAIVE_MINUTES: 0.5, _TS_NAIVE: 0.5}),
            ],
            self._codes(rng, n, {_TS_NAIVE: 0.6, _TS_OFFSET: 0.4}),
        )
        # Cards are keyed in on Mondays and Thursdays (and on the last day) from the box in each store.
        batch_day = np.flatnonzero(np.isin(self.weekday, (0, 3)) | (np.arange(self.days) == self.days - 1))
        card_delivery = batch_day[np.searchsorted(batch_day, s["day"])]
        delivery = np.where(is_card, card_delivery, np.where(is_vb, self._late(rng, s["day"], 0.01, 2), s["day"]))

        def score(values: np.ndarray, mask: np.ndarray) -> pd.Series:
            return pd.Series(pd.array(np.where(mask, values, 0), dtype="Int64")).mask(~mask)

        region = np.array([*REGIONS, None], dtype=object)[s["region"]]
        frame = {
            "response_id": ids,
            "customer_id": np.where(anonymous, None, self.c_ids[s["cust"]]),
            "submitted_at": self._format(s["sec"], codes, rng),
            "channel": np.array(SURVEY_CHANNELS, dtype=object)[ch],
            "nps": score(s["nps"], has_nps),
            "csat": score(s["csat"], has_csat),
            "ces": score(s["ces"], has_ces),
        }
        for j, dim in enumerate(DIMENSIONS):
            frame[dim] = score(s["dims"][:, j], has_dims[:, j])
        frame.update(
            {
                "comment": comments,
                "region": np.where(region_missing, None, region),
                "_day": delivery,
                "_kind": kind,
                "_order": s["sec"].astype(float),
            }
        )
        return pd.DataFrame(frame)

    # ---- invalid rows ---------------------------------------------------------------------------------

    def _plant(
        self,
        df: pd.DataFrame,
        rng: np.random.Generator,
        kinds: list[tuple[str, tuple[str, ...], list]],
        id_column: str,
        new_id,
    ) -> pd.DataFrame:
        """Append invalid copies of random donor rows. kinds: (name, donor file kinds, variants), where a
        variant is a function (row dict, rng) -> row dict, or the string "duplicate" for a conflicting
        copy delivered in a later file of the same kind."""
        minimum = sum(len(v) for _, _, v in kinds)
        total = max(minimum, round(INVALID_SHARE * len(df)))
        counts = [len(v) for _, _, v in kinds]
        for j in range(total - minimum):
            counts[j % len(kinds)] += 1
        extra = []
        taken: set[int] = set()
        file_kind = df["_kind"].to_numpy()
        day = df["_day"].to_numpy()
        last_day = self.days - 1
        for (name, donor_kinds, variants), count in zip(kinds, counts, strict=True):
            eligible = np.isin(file_kind, donor_kinds)
            if variants == ["duplicate"]:
                eligible &= day < last_day
            pool = np.flatnonzero(eligible)
            pick = rng.choice(pool, size=min(pool.size, count + len(taken)), replace=False) if pool.size else pool
            donors = [int(i) for i in pick if int(i) not in taken][:count]
            for j, donor in enumerate(donors):
                variant = variants[j % len(variants)]
                taken.add(donor)
                row = df.iloc[donor].to_dict()
                if variant == "duplicate":
                    row = _conflict(row, rng)
                    row["_day"] = min(last_day, int(row["_day"]) + int(rng.integers(1, 4)))
                else:
                    row = variant(row)
                    if not _missing(row[id_column]):
                        row[id_column] = new_id(row)
                row["_order"] = float(row["_order"]) + 0.5
                row["invalid_kind"] = name
                extra.append(row)
        out = df.assign(invalid_kind="")
        if extra:
            added = pd.DataFrame(extra, columns=out.columns).astype(out.dtypes.to_dict())
            out = pd.concat([out, added], ignore_index=True)
        return out

    def _plant_customers(self, df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        counter = iter(range(self.n + 1, self.n + 10_000_000))
        kinds = [
            ("missing_customer_id", ("crm",), [_set("customer_id", None)]),
            ("missing_created_at", ("crm",), [_set("created_at", None)]),
            ("unparseable_timestamp", ("crm",), _bad_times("created_at")),
            ("duplicate_id_conflict", ("crm",), ["duplicate"]),
        ]
        new_only = df.assign(_kind=np.where(df["_day"] > 0, "crm", "crm-initial"))
        out = self._plant(new_only, rng, kinds, "customer_id", lambda r: f"C{next(counter):07d}")
        out["_kind"] = "crm"
        return out

    def _plant_transactions(self, df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        counter = iter(range(90_000_001, 99_999_999))
        kinds = [
            ("amount_not_numeric", ("pos",), [_set("amount", v) for v in ("NaN", "abc", "inf")]),
            ("bad_currency", ("pos",), [_set("currency", v) for v in ("EURO", "£")]),
            ("unknown_channel", ("pos",), [_set("channel", "fax")]),
            ("unparseable_timestamp", ("pos",), _bad_times("occurred_at")),
            ("missing_transaction_id", ("pos",), [_set("transaction_id", None)]),
            ("missing_customer_id", ("pos",), [_set("customer_id", None)]),
            ("duplicate_id_conflict", ("pos",), ["duplicate"]),
        ]
        return self._plant(df, rng, kinds, "transaction_id", lambda r: f"{r['transaction_id'][:3]}-{next(counter):08d}")

    def _plant_responses(self, df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        counter = iter(range(9_000_001, 9_999_999))
        scored = ("voicebox", "callcentre")
        anywhere = ("voicebox", "callcentre", "cards")

        def no_answer(r: dict) -> dict:
            return {
                **r,
                "nps": pd.NA,
                "csat": pd.NA,
                "comment": None,
                "ces": 4 if pd.isna(r["ces"]) else r["ces"],
            }

        kinds = [
            ("nps_out_of_range", scored, [_set("nps", 11), _set("nps", -1)]),
            ("csat_out_of_range", anywhere, [_set("csat", 0)]),
            ("ces_out_of_range", scored, [_set("ces", 9)]),
            ("dimension_out_of_range", scored, [_set("reliability", 6), _set("tangibles", 0)]),
            ("unknown_channel", anywhere, [_set("channel", "fax")]),
            ("unparseable_timestamp", anywhere, _bad_times("submitted_at")),
            ("missing_response_id", anywhere, [_set("response_id", None)]),
            ("no_nps_csat_or_comment", scored, [no_answer]),
            ("duplicate_id_conflict", ("voicebox",), ["duplicate"]),
        ]

        def new_id(r: dict) -> str:
            rid = str(r["response_id"])
            prefix = rid.rstrip("0123456789")
            return f"{prefix}{next(counter):0{len(rid) - len(prefix)}d}"

        return self._plant(df, rng, kinds, "response_id", new_id)

    def _finish(self, df: pd.DataFrame) -> pd.DataFrame:
        kind_code = df["_kind"].map(_KIND_ORDER).to_numpy()
        order = np.lexsort((np.arange(len(df)), df["_order"].to_numpy(), kind_code, df["_day"].to_numpy()))
        df = df.iloc[order].reset_index(drop=True)
        days = np.empty(self.days, dtype=object)
        days[:] = [self.start + timedelta(days=int(d)) for d in range(self.days)]
        df["delivery_day"] = days[df["_day"].to_numpy(int)]
        df = df.rename(columns={"_kind": "file_kind"}).drop(columns=["_day", "_order"])
        return df[[*[c for c in df.columns if c not in HELPER_COLUMNS], *HELPER_COLUMNS]]


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) or value == ""


def _set(column: str, value):
    return lambda r: {**r, column: value}


def _bad_times(column: str) -> list:
    return [_set(column, "yesterday 3pm"), _set(column, "2026-13-45")]


def _conflict(row: dict, rng: np.random.Generator) -> dict:
    """The same id with different content, as a source re-sending an edited row would deliver it."""
    row = dict(row)
    if "amount" in row:
        row["amount"] = f"{float(row['amount']) + float(rng.integers(1, 20)) + 0.5:.2f}"
    elif "nps" in row:
        old = row["nps"]
        row["nps"] = int(rng.integers(0, 11)) if pd.isna(old) else (int(old) + 3) % 11
        row["comment"] = "Changed my mind after the follow-up call."
    else:
        row["email"] = f"changed.address{int(rng.integers(1, 1000))}@example.com"
        row["segment"] = "business" if row["segment"] != "business" else "consumer"
    return row
