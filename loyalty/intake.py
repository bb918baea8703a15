"""Reading one delivered file into raw rows, and mapping vendor headers onto contract names.

Whole-file faults (an encoding other than UTF-8, an unreadable file, a missing required column, an entry
that is not a regular file inside the landing folder, a file over the size limit) raise :class:`FileRejected`
with a reason code; row faults a parser can see (a CSV line with the wrong number of fields or an unterminated
quote, a JSON line that does not parse or nests too deep) come back as malformed rows, with their line
numbers, for the quarantine: one bad line costs that line only. Nothing here writes anywhere.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from loyalty.contract import Entity

SUPPORTED_FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}

# The contract allows comments of any length; the csv module's default cap (131,072 characters) would turn a
# long one into a parse error. The file size guard (LOYALTY_MAX_FILE_BYTES) bounds a field instead.
csv.field_size_limit(2**31 - 1)
# A JSON line nested deeper than this is refused before the parser recurses (Python's own limit is ~1,000
# frames, and a RecursionError must never escape); no contract value nests at all.
MAX_JSON_DEPTH = 64


class FileRejected(Exception):
    def __init__(self, reason: str, detail: str, size_bytes: int = 0) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.size_bytes = size_bytes


def list_landing_entries(landing: Path, entity: str, day: date) -> list[Path]:
    """Every entry named ``<landing>/<entity>/<YYYY-MM-DD>*``, in name order, whatever its kind.

    Directories, FIFOs, sockets and symlinks are listed too, so that the caller records them (as
    ``not_a_regular_file``) instead of skipping them silently; :func:`read_landing_file` refuses them.
    """
    folder = landing / entity
    if not folder.is_dir():
        return []
    prefix = day.isoformat()
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if e.name.startswith(prefix))


def landing_name(path: Path, landing: Path) -> str:
    """The entry's path relative to the landing folder, as storable text.

    A file name is bytes to the OS: one that is not UTF-8 is shown with ``\\xNN`` escapes (Python's surrogate
    escapes would be refused by every database driver).
    """
    relative = os.fsencode(path.relative_to(landing).as_posix())
    return relative.decode("utf-8", "backslashreplace")


def landing_format(path: Path) -> str:
    """The file format from the suffix (``csv``, ``parquet``, ``jsonl``), else the suffix itself, cut to fit."""
    suffix = os.fsencode(path.suffix.lower()).decode("utf-8", "backslashreplace")
    return SUPPORTED_FORMATS.get(suffix, suffix.lstrip(".")[:16] or "none")


def read_landing_file(path: Path, landing: Path, max_bytes: int) -> bytes:
    """The bytes of one landing file, or :class:`FileRejected`.

    Only a regular file whose real location is inside the landing folder is read: a symlink (to
    ``/etc/shadow``, or to a CSV elsewhere), a directory, a FIFO or a device is ``not_a_regular_file``. The
    file is opened without following symlinks and checked on the open descriptor, so it cannot be swapped
    between the check and the read. A file over ``max_bytes`` (0: no limit) is ``file_too_large`` and is not
    read at all; an I/O error is ``unreadable_file``.
    """
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise FileRejected("unreadable_file", f"cannot be examined ({exc.strerror or type(exc).__name__})") from None
    inside = Path(os.path.realpath(path.parent)).is_relative_to(os.path.realpath(landing))
    if not stat.S_ISREG(info.st_mode) or not inside:
        kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        where = "" if inside else " outside the landing folder"
        raise FileRejected("not_a_regular_file", f"{kind}{where}; only regular files are read", info.st_size)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileRejected("unreadable_file", f"cannot be opened ({exc.strerror or type(exc).__name__})") from None
    with os.fdopen(fd, "rb") as handle:
        try:
            opened = os.fstat(handle.fileno())
            if not stat.S_ISREG(opened.st_mode):
                raise FileRejected("not_a_regular_file", "not a regular file; only regular files are read")
            if max_bytes and opened.st_size > max_bytes:
                raise FileRejected(
                    "file_too_large",
                    f"{opened.st_size:,} bytes, over the limit of {max_bytes:,} (LOYALTY_MAX_FILE_BYTES)",
                    opened.st_size,
                )
            data = handle.read(max_bytes + 1) if max_bytes else handle.read()
        except OSError as exc:
            raise FileRejected("unreadable_file", f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if max_bytes and len(data) > max_bytes:  # it grew after the size check
        raise FileRejected("file_too_large", f"over the limit of {max_bytes:,} bytes (LOYALTY_MAX_FILE_BYTES)")
    return data


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


class _Lines:
    """The physical lines of a text, handed to ``csv.reader`` one at a time, with the position of the next one.

    After a parse error the caller moves ``position`` back to the line after the one where the bad record
    began, so a stray quote costs that line only, not every line the parser swallowed looking for its end.
    """

    def __init__(self, text: str) -> None:
        self.lines = io.StringIO(text, newline="").readlines()
        self.position = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


def _lines_are_records(tail: list[str], width: int) -> bool:
    """Whether the lines a quoted field swallowed read, on their own, as clean records of the header's width.

    Tells a stray quote (it joined whole records) from a legitimate multi-line field whose record has the wrong
    field count (the rest of that field is no record): the latter is quarantined once, as one record.
    """
    try:
        records = [r for r in csv.reader(tail, strict=True) if r and not (len(r) == 1 and r[0] == "")]
    except csv.Error:
        return False
    return bool(records) and all(len(r) == width for r in records)


def _csv_rows(text: str, source: str) -> tuple[list[str], list[tuple[int, list[str]]], list[dict[str, Any]]]:
    lines = _Lines(text)
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    malformed: list[dict[str, Any]] = []

    def reject(line_index: int, reason: str, detail: str) -> None:
        # Only the line the bad record started on is quarantined; parsing resumes on the next line.
        malformed.append(
            {
                "source": source,
                "source_row": line_index + 1,
                "reason": reason,
                "detail": detail,
                "raw_record": {"text": lines.lines[line_index]},
            }
        )
        lines.position = line_index + 1

    while True:
        first = lines.position  # 0-based index of the line this record starts on
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            reason = "csv_malformed"
            reject(first, reason, f"line {first + 1} does not parse as CSV ({str(exc).split(':')[0][:80]})")
            reader = csv.reader(lines, strict=True)
            continue
        spans_lines = lines.position - first > 1
        if not fields or all(f == "" for f in fields) and len(fields) <= 1:
            continue
        if header is None:
            header = fields
            continue
        if len(fields) != len(header):
            detail = f"line {first + 1} has {len(fields)} fields, the header has {len(header)}"
            if spans_lines and _lines_are_records(lines.lines[first + 1 : lines.position], len(header)):
                # A stray quote joined whole records: quarantine the first line, read the others again.
                reject(first, "csv_wrong_field_count", detail)
                reader = csv.reader(lines, strict=True)
                continue
            malformed.append(
                {
                    "source": source,
                    "source_row": first + 1,
                    "reason": "csv_wrong_field_count",
                    "detail": detail,
                    "raw_record": {"fields": fields},
                }
            )
            continue
        rows.append((first + 1, fields))
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
            if _json_depth_exceeds(line, MAX_JSON_DEPTH):
                raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
            # NaN and Infinity stay spelled out: a NaN is a non-finite number, never a missing value.
            record = json.loads(line, parse_constant=str)
        except (ValueError, RecursionError) as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80]
            malformed.append(
                {
                    "source": source,
                    "source_row": number,
                    "reason": "jsonl_unparseable",
                    "detail": f"line {number} is not JSON: {message}",
                    "raw_record": {"text": line},
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
                    "raw_record": {"text": line},
                }
            )
            continue
        for key in record:
            headers.setdefault(key, None)
        rows.append((number, record))
    return list(headers), rows, malformed


def _json_depth_exceeds(line: str, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (a linear scan; no recursion)."""
    if line.count("[") + line.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for char in line:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


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
            # Nested values stay lists and dicts: validation quarantines them as not_a_scalar:<column>.
            [[record.get(h) for h in chosen] for _, record in json_rows],
            columns=list(chosen.values()),
            dtype=object,
        )
        frame["_source_row"] = [line for line, _ in json_rows]
    else:
        raise FileRejected("unsupported_format", f"unsupported file format {file_format!r}")
    frame["_source"] = source
    return ParsedFile(rows=frame, malformed=malformed, warnings=warnings)
