"""Reading one delivered file into raw rows, and mapping vendor headers onto contract names.

Whole-file faults (an encoding other than UTF-8, an unreadable file, a missing required column) raise
:class:`FileRejected` with a reason code; row faults a parser can see (a CSV line with the wrong number of
fields, a JSON line that does not parse) come back as malformed rows, with their line numbers, for the
quarantine. Nothing here writes anywhere.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from loyalty.contract import Entity

SUPPORTED_FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}


class FileRejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class ParsedFile:
    """Rows of one file with contract column names, ``_source`` and ``_source_row`` (1-based line)."""

    rows: pd.DataFrame
    malformed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_column_mapping(path: Path) -> dict[str, dict[str, str]]:
    """Per entity, casefolded vendor header -> contract name."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"column mapping {path} must be a mapping of entity -> {{header: contract_name}}")
    return {
        entity: {str(k).strip().casefold(): str(v).strip() for k, v in (headers or {}).items()}
        for entity, headers in data.items()
    }


def map_columns(headers: list[str], entity: Entity, mapping: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Which source header feeds which contract column, and warnings for headers that feed none."""
    contract = {name.casefold(): name for name in entity.column_names}
    chosen: dict[str, str] = {}
    warnings: list[str] = []
    for header in headers:
        folded = str(header).strip().casefold()
        target = mapping.get(folded) or contract.get(folded)
        if target is None or target not in entity.column_names:
            warnings.append(f"ignored column {str(header)[:80]!r}")
            continue
        if target in chosen.values():
            raise FileRejected("ambiguous_column", f"two columns map onto {target}")
        chosen[header] = target
    missing = [c for c in entity.required_columns if c not in chosen.values()]
    if missing:
        raise FileRejected(f"missing_required_column:{missing[0]}", f"missing required column(s): {', '.join(missing)}")
    return chosen, warnings


def _decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected("not_utf8", f"not valid UTF-8 at byte {exc.start}") from None


def _csv_rows(text: str, source: str) -> tuple[list[str], list[tuple[int, list[str]]], list[dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    malformed: list[dict[str, Any]] = []
    last_line = 0
    while True:
        start_line = last_line + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # An unterminated quote swallows the rest of the file: everything after start_line is one bad row.
            malformed.append(
                {
                    "source": source,
                    "source_row": start_line,
                    "reason": "csv_malformed",
                    "detail": f"CSV parse error from line {start_line}: {exc}",
                    "raw_record": {"text": "\n".join(text.splitlines()[start_line - 1 :])[:10000]},
                }
            )
            break
        last_line = reader.line_num
        if not fields or all(f == "" for f in fields) and len(fields) <= 1:
            continue
        if header is None:
            header = fields
            continue
        if len(fields) != len(header):
            malformed.append(
                {
                    "source": source,
                    "source_row": start_line,
                    "reason": "csv_wrong_field_count",
                    "detail": f"line {start_line} has {len(fields)} fields, the header has {len(header)}",
                    "raw_record": {"fields": fields},
                }
            )
            continue
        rows.append((start_line, fields))
    if header is None:
        raise FileRejected("empty_file", "no header row")
    return header, rows, malformed


def _jsonl_rows(text: str, source: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    malformed: list[dict[str, Any]] = []
    headers: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            malformed.append(
                {
                    "source": source,
                    "source_row": number,
                    "reason": "jsonl_unparseable",
                    "detail": f"line {number} is not JSON: {exc.msg}",
                    "raw_record": {"text": line[:10000]},
                }
            )
            continue
        if not isinstance(record, dict):
            malformed.append(
                {
                    "source": source,
                    "source_row": number,
                    "reason": "jsonl_not_an_object",
                    "detail": f"line {number} is JSON but not an object",
                    "raw_record": {"text": line[:10000]},
                }
            )
            continue
        for key in record:
            headers.setdefault(key, None)
        rows.append((number, record))
    return list(headers), rows, malformed


def _scalar(value: Any) -> Any:
    # Nested JSON values are kept as their JSON text so nothing is lost; validation then rejects them.
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def parse_file(data: bytes, file_format: str, source: str, entity: Entity, mapping: dict[str, str]) -> ParsedFile:
    """Raw rows of one file, with contract column names, or :class:`FileRejected`."""
    if file_format == "parquet":
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:
            raise FileRejected("unreadable_file", f"not a readable Parquet file ({type(exc).__name__})") from None
        chosen, warnings = map_columns(list(frame.columns), entity, mapping)
        rows = frame[list(chosen)].rename(columns=chosen).reset_index(drop=True)
        rows["_source_row"] = range(1, len(rows) + 1)
        rows["_source"] = source
        return ParsedFile(rows=rows, warnings=warnings)

    text = _decode_utf8(data)
    if file_format == "csv":
        header, csv_rows, malformed = _csv_rows(text, source)
        chosen, warnings = map_columns(header, entity, mapping)
        positions = [header.index(h) for h in chosen]
        frame = pd.DataFrame(
            [[fields[i] for i in positions] for _, fields in csv_rows],
            columns=list(chosen.values()),
            dtype=object,
        )
        frame["_source_row"] = [line for line, _ in csv_rows]
    elif file_format == "jsonl":
        headers, json_rows, malformed = _jsonl_rows(text, source)
        if not json_rows and not malformed:
            raise FileRejected("empty_file", "no JSON lines")
        chosen, warnings = map_columns(headers, entity, mapping) if json_rows else ({}, [])
        frame = pd.DataFrame(
            [[_scalar(record.get(h)) for h in chosen] for _, record in json_rows],
            columns=list(chosen.values()),
            dtype=object,
        )
        frame["_source_row"] = [line for line, _ in json_rows]
    else:
        raise FileRejected("unsupported_format", f"unsupported file format {file_format!r}")
    frame["_source"] = source
    return ParsedFile(rows=frame, malformed=malformed, warnings=warnings)
