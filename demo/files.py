"""The demo's file drops: which file kind carries which entity, in which headers, and the writers.

Every column name comes from :mod:`loyalty.contract`; the vendor names are the ones
``config/column_mapping.yaml`` maps back (a test checks).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loyalty.contract import CONTRACT_COLUMNS, ENTITIES

CUSTOMER_COLUMNS = CONTRACT_COLUMNS["customers"]
TRANSACTION_COLUMNS = CONTRACT_COLUMNS["transactions"]
SURVEY_COLUMNS = CONTRACT_COLUMNS["survey_responses"]
OUTREACH_COLUMNS = CONTRACT_COLUMNS["outreach"]

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
# The "Relay" CRM's contact-log export (demo/outreach.py).
RELAY_HEADERS = {
    "outreach_id": "ActivityID",
    "customer_id": "ContactRef",
    "contacted_at": "ActivityDateTime",
    "channel": "Medium",
    "team": "OwnerTeam",
    "outcome": "Disposition",
    "note": "Notes",
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
    "relay": ("outreach", "csv", OUTREACH_COLUMNS, tuple(RELAY_HEADERS[c] for c in OUTREACH_COLUMNS)),
}
KIND_ORDER = {kind: i for i, kind in enumerate(FILE_KINDS)}


def write_demo_files(frames: dict[str, pd.DataFrame], landing: Path) -> list[Path]:
    """Split frames from :func:`build_demo_frames` into their delivery files; return the paths written."""
    landing = Path(landing)
    written: list[Path] = []
    for entity in ENTITIES:
        df = frames.get(entity, pd.DataFrame())  # outreach only when demo/outreach.py added it
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
