"""Tests of the demo package, answered from the WRITTEN files with a reader and checker of their own.

The reader maps vendor headers through config/column_mapping.yaml, and the checker applies the contract's rules
independently of the generator, so a claim in DemoSummary is only believed when the files bear it out.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from demo import add_outreach, build_demo_frames, generate_demo_sources, theme_weeks, write_demo_files
from demo.files import POS_HEADERS, VOICEBOX_KEYS
from demo.patterns import THEME_TERMS
from demo.simulation import HELPER_COLUMNS
from loyalty.contract import CONTRACT_COLUMNS, OUTREACH_CHANNELS, OUTREACH_OUTCOMES
from loyalty.contract import SERVICE_DIMENSIONS as DIMENSIONS

ROOT = Path(__file__).resolve().parents[2]
MAPPING = yaml.safe_load((ROOT / "config" / "column_mapping.yaml").read_text(encoding="utf-8"))
TZ = "Europe/London"
# Three weeks across the end of British Summer Time (2026-10-25), so naive times near the fold are exercised.
SMALL = {"start": date(2026, 10, 12), "end": date(2026, 11, 1), "n_customers": 200}
# The default 26-week range with fewer customers: enough rows for the planted patterns to show.
PATTERN = {"start": date(2026, 5, 25), "end": date(2026, 11, 22), "n_customers": 1500}
FILE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})_[a-z]+\.(csv|parquet|jsonl)$")
SURVEY_CHANNELS = {"online", "phone", "comment_card", "email", "in_store"}
TRANSACTION_CHANNELS = {"online", "in_store", "phone"}


# ---------------------------------------------------------------------------------------------------------
# An independent reader and checker
# ---------------------------------------------------------------------------------------------------------


def read_rows(landing: Path, entity: str) -> list[dict]:
    """Every row of an entity's files, in delivery order, contract-named, with _file and _day."""
    mapping = {k.strip().lower(): v for k, v in (MAPPING.get(entity) or {}).items()}
    contract = set(CONTRACT_COLUMNS[entity])

    def name(header: str) -> str | None:
        key = header.strip().lower()
        if key in contract:
            return key
        return mapping.get(key)

    rows: list[dict] = []
    for path in sorted((landing / entity).iterdir()):
        day = date.fromisoformat(path.name[:10])
        if path.suffix == ".csv":
            with open(path, encoding="utf-8", newline="") as fh:
                records = list(csv.DictReader(fh))
        elif path.suffix == ".jsonl":
            records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        else:
            records = pq.read_table(path).to_pylist()
        for record in records:
            row: dict = dict.fromkeys(CONTRACT_COLUMNS[entity])
            for header, value in record.items():
                column = name(header)
                assert column is not None, f"{path.name}: header {header!r} maps to no contract column"
                if isinstance(value, datetime):
                    value = value.isoformat()
                row[column] = None if value == "" else value
            row["_file"], row["_day"] = path.name, day
            rows.append(row)
    return rows


def parse_ts(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def local(ts: datetime, tz: str = TZ) -> datetime:
    """Wall-clock time in the source zone: naive values already are."""
    return ts if ts.tzinfo is None else ts.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def as_int(value: object) -> int | None:
    if value is None:
        return None
    return int(value)


def content(row: dict) -> tuple:
    return tuple(str(v) for k, v in row.items() if not k.startswith("_"))


def defects(entity: str, rows: list[dict]) -> list[str | None]:
    """The contract rule each row breaks (the first found), or None for a valid row."""
    key = CONTRACT_COLUMNS[entity][0]
    seen: dict[str, tuple] = {}
    out: list[str | None] = []
    for row in rows:
        problem = None
        if row[key] is None:
            problem = f"missing_{key}"
        elif entity == "customers" and row["created_at"] is None:
            problem = "missing_created_at"
        elif entity in ("transactions", "outreach") and row["customer_id"] is None:
            problem = "missing_customer_id"
        else:
            timestamps = {"customers": "created_at", "transactions": "occurred_at", "outreach": "contacted_at"}
            stamp = row[timestamps.get(entity, "submitted_at")]
            if parse_ts(stamp) is None:
                problem = "unparseable_timestamp"
        if problem is None and entity == "transactions":
            try:
                amount = float(row["amount"])
            except ValueError:
                amount = math.nan
            if not math.isfinite(amount):
                problem = "amount_not_numeric"
            elif not re.fullmatch(r"[A-Z]{3}", str(row["currency"])):
                problem = "bad_currency"
            elif row["channel"] not in TRANSACTION_CHANNELS:
                problem = "unknown_channel"
        if problem is None and entity == "outreach":
            if row["channel"] not in OUTREACH_CHANNELS:
                problem = "unknown_channel"
            elif row["outcome"] not in OUTREACH_OUTCOMES:
                problem = "unknown_outcome"
        if problem is None and entity == "survey_responses":
            nps, csat, ces = as_int(row["nps"]), as_int(row["csat"]), as_int(row["ces"])
            dims = [as_int(row[d]) for d in DIMENSIONS]
            if row["channel"] not in SURVEY_CHANNELS:
                problem = "unknown_channel"
            elif nps is not None and not 0 <= nps <= 10:
                problem = "nps_out_of_range"
            elif csat is not None and not 1 <= csat <= 5:
                problem = "csat_out_of_range"
            elif ces is not None and not 1 <= ces <= 7:
                problem = "ces_out_of_range"
            elif any(d is not None and not 1 <= d <= 5 for d in dims):
                problem = "dimension_out_of_range"
            elif nps is None and csat is None and row["comment"] is None:
                problem = "no_nps_csat_or_comment"
        if problem is None:
            first = seen.setdefault(row[key], content(row))
            if first != content(row):
                problem = "duplicate_id_conflict"
        out.append(problem)
    return out


def file_bytes(landing: Path) -> dict[str, bytes]:
    return {str(p.relative_to(landing)): p.read_bytes() for p in sorted(landing.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------------------
# Fixtures: one small run and one pattern-sized run per module
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    landing = tmp_path_factory.mktemp("small") / "landing"
    return landing, generate_demo_sources(landing, SMALL["start"], SMALL["end"], n_customers=SMALL["n_customers"])


@pytest.fixture(scope="module")
def pattern(tmp_path_factory: pytest.TempPathFactory):
    landing = tmp_path_factory.mktemp("pattern") / "landing"
    summary = generate_demo_sources(landing, PATTERN["start"], PATTERN["end"], n_customers=PATTERN["n_customers"])
    return landing, summary, {e: read_rows(landing, e) for e in CONTRACT_COLUMNS}


# ---------------------------------------------------------------------------------------------------------
# Determinism, layout, encoding, formats
# ---------------------------------------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(tmp_path: Path, small) -> None:
    landing, summary = small
    again = generate_demo_sources(tmp_path / "again", SMALL["start"], SMALL["end"], n_customers=SMALL["n_customers"])
    assert again == summary
    first, second = file_bytes(landing), file_bytes(tmp_path / "again")
    assert list(first) == list(second)
    assert {k: hashlib.sha256(v).hexdigest() for k, v in first.items()} == {
        k: hashlib.sha256(v).hexdigest() for k, v in second.items()
    }
    other = generate_demo_sources(
        tmp_path / "other", SMALL["start"], SMALL["end"], n_customers=SMALL["n_customers"], seed=8
    )
    assert file_bytes(tmp_path / "other") != first
    assert other.rows != summary.rows or other.planted != summary.planted


def test_every_file_follows_the_drop_layout(small) -> None:
    landing, summary = small
    files = [p for p in landing.rglob("*") if p.is_file()]
    assert len(files) == summary.files > 0
    assert {p.name for p in landing.iterdir()} == set(CONTRACT_COLUMNS)
    for path in files:
        rel = path.relative_to(landing)
        assert len(rel.parts) == 2 and rel.parts[0] in CONTRACT_COLUMNS, rel
        match = FILE_NAME.match(rel.parts[1])
        assert match, rel
        assert SMALL["start"] <= date.fromisoformat(match.group(1)) <= SMALL["end"], rel
    kinds = {p.name[11:] for p in files}
    assert {k.split(".")[0] for k in kinds} == {"crm", "pos", "web", "voicebox", "callcentre", "cards", "relay"}
    assert summary.days == (SMALL["end"] - SMALL["start"]).days + 1
    written = {e: len(read_rows(landing, e)) for e in CONTRACT_COLUMNS}
    assert written == summary.rows


def test_text_files_are_utf8_and_parquet_is_typed(small) -> None:
    landing, _ = small
    non_ascii = 0
    for path in landing.rglob("*"):
        if path.suffix in (".csv", ".jsonl"):
            data = path.read_bytes()
            data.decode("utf-8", errors="strict")
            assert not data.startswith(b"\xef\xbb\xbf"), f"{path.name} has a byte order mark"
            non_ascii += any(b > 127 for b in data)
    assert non_ascii > 0, "expected some non-ASCII text (names, other languages, emoji)"
    parquet = sorted((landing / "transactions").glob("*_web.parquet"))
    assert parquet
    for path in parquet:
        schema = pq.read_schema(path)
        assert schema.names == list(CONTRACT_COLUMNS["transactions"])
        assert schema.field("amount").type == pa.float64()
        assert schema.field("occurred_at").type == pa.timestamp("us", tz="UTC")
        assert set(pq.read_table(path).column("channel").to_pylist()) == {"online"}


def test_vendor_headers_in_pos_csv_and_voicebox_jsonl(small) -> None:
    landing, _ = small
    assert {v: k for k, v in POS_HEADERS.items()} == MAPPING["transactions"]
    assert {v: k for k, v in VOICEBOX_KEYS.items()} == MAPPING["survey_responses"]
    pos = sorted((landing / "transactions").glob("*_pos.csv"))
    assert pos
    for path in pos:
        first_line = path.read_bytes().split(b"\r\n", 1)[0].decode()
        assert first_line == "txn_id,cust_id,txn_ts,amount_gross,ccy,sales_channel,store_region"
    keys: set[str] = set()
    for path in (landing / "survey_responses").glob("*_voicebox.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            keys |= set(json.loads(line))
    assert {"RespondentID", "CustomerRef", "SubmittedAt", "Source", "Q1_Recommend", "Verbatim"} <= keys
    assert keys <= set(VOICEBOX_KEYS.values())
    for kind, header in (("crm", "customer_id,created_at,region,segment,email"),):
        for path in (landing / "customers").glob(f"*_{kind}.csv"):
            assert path.read_text(encoding="utf-8").splitlines()[0] == header
    for path in (landing / "survey_responses").glob("*_cards.csv"):
        header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header == ["response_id", "customer_id", "submitted_at", "channel", "nps", "csat", "comment", "region"]


def test_channels_currencies_and_timestamp_forms(small) -> None:
    landing, _ = small
    responses = read_rows(landing, "survey_responses")
    transactions = read_rows(landing, "transactions")
    assert {r["channel"] for r in responses} >= SURVEY_CHANNELS
    assert {r["channel"] for r in transactions} >= TRANSACTION_CHANNELS
    assert {"GBP", "EUR"} <= {r["currency"] for r in transactions}
    pairs = {(r["channel"], r["_file"].split("_")[1]) for r in responses if r["channel"] in SURVEY_CHANNELS}
    assert pairs == {
        ("online", "voicebox.jsonl"),
        ("email", "voicebox.jsonl"),
        ("phone", "callcentre.csv"),
        ("in_store", "callcentre.csv"),
        ("comment_card", "cards.csv"),
    }
    cards = [r for r in responses if r["channel"] == "comment_card"]
    assert sum(r["customer_id"] is None for r in cards) > len(cards) / 3, "comment cards are often anonymous"
    # Naive and offset timestamps side by side in one file, and no naive time inside a DST fold or gap.
    forms_by_file: dict[str, set[str]] = {}
    zone = ZoneInfo(TZ)
    for row in transactions + responses:
        stamp = row.get("occurred_at") or row.get("submitted_at")
        ts = parse_ts(stamp)
        if ts is None:
            continue
        forms_by_file.setdefault(row["_file"], set()).add("naive" if ts.tzinfo is None else "offset")
        if ts.tzinfo is None:
            a, b = ts.replace(tzinfo=zone, fold=0), ts.replace(tzinfo=zone, fold=1)
            assert a.utcoffset() == b.utcoffset(), f"ambiguous naive time {stamp}"
    assert any(forms == {"naive", "offset"} for forms in forms_by_file.values())
    stamps = {str(r["occurred_at"]) for r in transactions} | {str(r["submitted_at"]) for r in responses}
    assert any(s.endswith("Z") for s in stamps) and any(s.endswith("+01:00") for s in stamps)
    assert any(s.endswith("+00:00") or s.endswith("Z") for s in stamps)


def test_other_source_zone_writes_its_offsets(tmp_path: Path) -> None:
    generate_demo_sources(
        tmp_path / "ny", date(2026, 10, 26), date(2026, 11, 8), n_customers=150, source_tz="America/New_York"
    )
    stamps = [str(r["occurred_at"]) for r in read_rows(tmp_path / "ny", "transactions")]
    assert any(s.endswith("-04:00") for s in stamps) and any(s.endswith("-05:00") for s in stamps)


# ---------------------------------------------------------------------------------------------------------
# Planted invalid rows, late rows, comments
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["small", "pattern"])
def test_planted_invalid_rows_are_in_the_files_as_counted(run: str, request: pytest.FixtureRequest) -> None:
    landing, summary = request.getfixturevalue(run)[:2]
    for entity in CONTRACT_COLUMNS:
        found = Counter(d for d in defects(entity, read_rows(landing, entity)) if d is not None)
        assert sum(found.values()) == summary.invalid_rows[entity] > 0, entity
        assert dict(found) == summary.invalid_kinds[entity], entity
    expected = {
        "customers": {"missing_customer_id", "missing_created_at", "unparseable_timestamp", "duplicate_id_conflict"},
        "transactions": {
            "amount_not_numeric",
            "bad_currency",
            "unknown_channel",
            "unparseable_timestamp",
            "missing_transaction_id",
            "missing_customer_id",
            "duplicate_id_conflict",
        },
        "survey_responses": {
            "nps_out_of_range",
            "csat_out_of_range",
            "ces_out_of_range",
            "dimension_out_of_range",
            "unknown_channel",
            "unparseable_timestamp",
            "missing_response_id",
            "no_nps_csat_or_comment",
            "duplicate_id_conflict",
        },
    }
    expected["outreach"] = {
        "unknown_channel",
        "unknown_outcome",
        "missing_customer_id",
        "unparseable_timestamp",
        "duplicate_id_conflict",
    }
    assert {e: set(k) for e, k in summary.invalid_kinds.items()} == expected


def test_invalid_values_cover_every_variant(small) -> None:
    landing, _ = small
    transactions = read_rows(landing, "transactions")
    responses = read_rows(landing, "survey_responses")
    assert {"NaN", "abc", "inf"} <= {r["amount"] for r in transactions}
    assert {"EURO", "£"} <= {r["currency"] for r in transactions}
    assert {"yesterday 3pm", "2026-13-45"} <= {r["occurred_at"] for r in transactions}
    assert {11, -1} <= {as_int(r["nps"]) for r in responses}
    assert 0 in {as_int(r["csat"]) for r in responses} and 9 in {as_int(r["ces"]) for r in responses}
    assert "fax" in {r["channel"] for r in responses} and "fax" in {r["channel"] for r in transactions}
    # A duplicate id with different content arrives in a LATER day's file.
    seen: dict[str, dict] = {}
    later = 0
    for row in responses:
        first = seen.setdefault(row["response_id"], row)
        if first is not row and content(first) != content(row):
            later += row["_day"] > first["_day"]
    assert later >= 1


def test_late_rows_arrive_in_later_files(small, pattern) -> None:
    def late(landing: Path, entity: str, column: str, first_day: date) -> int:
        """Rows dated before their file's day, leaving out the first day's files (the CRM's initial load)."""
        count = 0
        for row in read_rows(landing, entity):
            ts = parse_ts(row[column])
            if ts is not None and row["_day"] > first_day and local(ts).date() < row["_day"]:
                count += 1
        return count

    assert late(small[0], "transactions", "occurred_at", SMALL["start"]) > 0
    assert late(small[0], "survey_responses", "submitted_at", SMALL["start"]) > 0
    landing = pattern[0]
    for entity, column in (("customers", "created_at"), ("transactions", "occurred_at")):
        assert late(landing, entity, column, PATTERN["start"]) > 0, entity
    late_cards = [
        r
        for r in read_rows(landing, "survey_responses")
        if r["_file"].endswith("_cards.csv") and parse_ts(r["submitted_at"])
    ]
    assert sum(local(parse_ts(r["submitted_at"])).date() < r["_day"] for r in late_cards) > len(late_cards) / 3


def test_comments_include_hostile_foreign_and_markup_text_verbatim(small) -> None:
    landing, summary = small
    comments = [r["comment"] for r in read_rows(landing, "survey_responses") if r["comment"]]
    text = "\n".join(comments)
    for needle in (
        "<script>alert('x')</script>",
        '<img src="file:///etc/passwd">',
        "'; DROP TABLE survey_responses; --",
        "http://",
        "<br />",
        "Très",
        "llegó",
        "nächsten",
        "😊",
    ):
        assert needle in text, needle
    assert any(len(c) > 2000 for c in comments)
    assert any("\n" in c for c in comments)
    assert "@" not in text.replace("@example.com", ""), "comments carry no email addresses"
    emails = [r["email"] for r in read_rows(landing, "customers") if r["email"]]
    assert emails and all(e.endswith("@example.com") for e in emails)


def test_landing_must_be_empty(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "transactions").mkdir(parents=True)
    (landing / "transactions" / "keep.txt").write_text("not mine", encoding="utf-8")
    with pytest.raises(ValueError, match="already holds files"):
        generate_demo_sources(landing, date(2026, 11, 2), date(2026, 11, 8), n_customers=20)
    assert [p.name for p in landing.rglob("*") if p.is_file()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert generate_demo_sources(empty, date(2026, 11, 2), date(2026, 11, 8), n_customers=20).files > 0
    nested = tmp_path / "a" / "b" / "landing"
    assert generate_demo_sources(nested, date(2026, 11, 2), date(2026, 11, 8), n_customers=20).files > 0


@pytest.mark.parametrize(
    ("start", "end", "n_customers"),
    [(date(2026, 11, 8), date(2026, 11, 2), 10), (date(2026, 11, 2), date(2026, 11, 8), 0)],
)
def test_bad_arguments_are_refused(tmp_path: Path, start: date, end: date, n_customers: int) -> None:
    with pytest.raises(ValueError):
        generate_demo_sources(tmp_path / "x", start, end, n_customers=n_customers)
    assert not (tmp_path / "x").exists()


def test_frames_carry_contract_and_helper_columns_and_write_the_same_files(tmp_path: Path, small) -> None:
    frames = add_outreach(
        build_demo_frames(SMALL["start"], SMALL["end"], n_customers=SMALL["n_customers"]), SMALL["start"], SMALL["end"]
    )
    for entity, frame in frames.items():
        assert list(frame.columns) == [*CONTRACT_COLUMNS[entity], *HELPER_COLUMNS]
        assert frame["delivery_day"].between(SMALL["start"], SMALL["end"]).all()
    write_demo_files(frames, tmp_path / "again")
    assert file_bytes(tmp_path / "again") == file_bytes(small[0])


# ---------------------------------------------------------------------------------------------------------
# The planted patterns are findable from the files
# ---------------------------------------------------------------------------------------------------------


def _valid(entity: str, rows: list[dict]) -> list[dict]:
    return [r for r, d in zip(rows, defects(entity, rows), strict=True) if d is None]


def test_theme_grows_in_the_last_three_iso_weeks_with_lower_nps(pattern) -> None:
    _, summary, rows = pattern
    weeks = theme_weeks(PATTERN["start"], PATTERN["end"])
    assert weeks == ["2026-W45", "2026-W46", "2026-W47"]
    assert summary.planted["theme_weeks"] == ", ".join(weeks)
    assert all(term in summary.planted["theme_terms"] for term in THEME_TERMS)
    share = {True: [0, 0], False: [0, 0]}
    theme_nps, other_nps = [], []
    for row in _valid("survey_responses", rows["survey_responses"]):
        if not row["comment"]:
            continue
        iso = local(parse_ts(row["submitted_at"])).isocalendar()
        in_weeks = f"{iso.year}-W{iso.week:02d}" in weeks
        text = row["comment"].lower()
        is_theme = "checkout" in text and "crash" in text
        share[in_weeks][0] += is_theme
        share[in_weeks][1] += 1
        if row["nps"] is not None:
            (theme_nps if is_theme else other_nps).append(as_int(row["nps"]))
    before, during = share[False][0] / share[False][1], share[True][0] / share[True][1]
    assert before < 0.03 and 0.12 < during < 0.30, (before, during)
    assert np.mean(theme_nps) < np.mean(other_nps) - 2


def test_reliability_and_responsiveness_drive_nps(pattern) -> None:
    rows = [
        r
        for r in _valid("survey_responses", pattern[2]["survey_responses"])
        if r["nps"] is not None and all(r[d] is not None for d in DIMENSIONS)
    ]
    x = np.array([[as_int(r[d]) for d in DIMENSIONS] for r in rows], dtype=float)
    y = np.array([as_int(r["nps"]) for r in rows], dtype=float)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    beta = np.linalg.lstsq(np.c_[np.ones(len(y)), x], y, rcond=None)[0][1:]
    ranked = [DIMENSIONS[i] for i in np.argsort(-beta)]
    assert set(ranked[:2]) == {"reliability", "responsiveness"}, dict(zip(DIMENSIONS, beta.round(2), strict=True))
    assert min(beta[:2]) > 1.5 * max(beta[2:])
    assert (np.corrcoef(x.T)[np.triu_indices(5, 1)] > 0.2).all(), "the dimensions correlate with each other"


def test_detractors_buy_less_after_their_response(pattern) -> None:
    _, _, rows = pattern
    start = datetime.combine(PATTERN["start"], datetime.min.time())
    end = datetime.combine(PATTERN["end"] + timedelta(days=1), datetime.min.time())
    purchases: dict[str, list[datetime]] = {}
    for row in _valid("transactions", rows["transactions"]):
        if float(row["amount"]) > 0:
            purchases.setdefault(row["customer_id"], []).append(local(parse_ts(row["occurred_at"])))
    first_response: dict[str, tuple[datetime, int]] = {}
    for row in _valid("survey_responses", rows["survey_responses"]):
        if row["customer_id"] and row["nps"] is not None:
            at = local(parse_ts(row["submitted_at"]))
            if row["customer_id"] not in first_response or at < first_response[row["customer_id"]][0]:
                first_response[row["customer_id"]] = (at, as_int(row["nps"]))
    rates: dict[str, list[tuple[float, float]]] = {"detractor": [], "promoter": []}
    for customer, (at, nps) in first_response.items():
        if 7 <= nps <= 8 or at - start < timedelta(days=30) or end - at < timedelta(days=30):
            continue
        times = purchases.get(customer, [])
        before = sum(t < at for t in times) / (at - start).days
        after = sum(t > at + timedelta(days=1) for t in times) / (end - at).days
        rates["detractor" if nps <= 6 else "promoter"].append((before, after))
    ratio = {k: np.mean([a for _, a in v]) / np.mean([b for b, _ in v]) for k, v in rates.items()}
    assert len(rates["detractor"]) > 50 and len(rates["promoter"]) > 50
    assert ratio["detractor"] < 0.45 and ratio["promoter"] > 0.7, ratio


def test_comment_share_and_refunds_are_realistic(pattern) -> None:
    _, summary, rows = pattern
    responses = _valid("survey_responses", rows["survey_responses"])
    transactions = _valid("transactions", rows["transactions"])
    assert 0.38 < np.mean([bool(r["comment"]) for r in responses]) < 0.52
    amounts = np.array([float(r["amount"]) for r in transactions])
    assert 0.02 < (amounts < 0).mean() < 0.04
    positive = amounts[amounts > 0]
    assert 20 < np.median(positive) < 120 and np.quantile(positive, 0.95) < 400
    refunds = {(r["customer_id"], -float(r["amount"])) for r in transactions if float(r["amount"]) < 0}
    bought = {(r["customer_id"], float(r["amount"])) for r in transactions if float(r["amount"]) > 0}
    assert refunds <= bought, "every refund negates one of the customer's purchases"
    purchase_count = int((amounts > 0).sum())
    assert 0.2 < len(responses) / purchase_count < 0.3
    hours = Counter(local(parse_ts(r["occurred_at"])).hour for r in transactions if r["channel"] == "in_store")
    assert set(hours) <= set(range(8, 20)), sorted(hours)
