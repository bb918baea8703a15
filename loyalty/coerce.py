"""Turn raw source values into the contract's types, noting every value that will not parse.

Pure: no I/O. Raw frames hold whatever a file or a database gave (strings from CSV and JSON, typed values
from Parquet or SQL). The result is a typed frame plus one boolean mask per parse problem, named by a reason
code such as ``unparseable_timestamp:submitted_at``. A value that does not parse becomes null in the typed
frame and is never replaced by a default: the row is quarantined by the caller.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from loyalty.contract import Entity

# An ISO 8601 timestamp that carries its own offset: a time part (extended "12:00:00", basic "120000", or
# reduced "12") followed by Z or +hh[:mm].
_OFFSET_PATTERN = r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
# NUL (PostgreSQL refuses it in text) and lone surrogates (UTF-8 cannot encode them): contract violations.
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
# Free text is stored exactly as sent, surrounding whitespace included (ids and codes are trimmed).
VERBATIM_COLUMNS = frozenset({"comment", "note"})
# Ids, codes, regions and other short text are keys and index entries; PostgreSQL cannot index a value over
# 2,704 bytes, so one huge id would fail the whole entity-day. 500 characters is at most 2,000 bytes of UTF-8.
# Free text has no limit.
MAX_SHORT_TEXT_CHARS = 500
# Whatever the window, a timestamp outside this range cannot be placed on a calendar in every time zone
# (0001-01-01T00:00Z is year 0 in a zone west of UTC): it is always out of range.
CALENDAR_LIMITS = (pd.Timestamp("0002-01-01", tz="UTC"), pd.Timestamp("9999-01-01", tz="UTC"))


@dataclass
class Coerced:
    """A typed frame (same index as the raw frame) and the parse problems found on its rows."""

    frame: pd.DataFrame
    problems: dict[str, np.ndarray] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)


def _as_text(values: pd.Series) -> pd.Series:
    """Strings with surrounding whitespace removed; empty and missing become <NA>."""
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def parse_text(values: pd.Series, *, verbatim: bool = False) -> pd.Series:
    """Text values; ``verbatim`` keeps surrounding whitespace (a value of only whitespace is still missing)."""
    if not verbatim:
        return _as_text(values).astype(object).where(lambda s: s.notna(), None)
    text = values.astype("string")
    text = text.mask(text.str.strip() == "")
    return text.astype(object).where(lambda s: s.notna(), None)


def check_scalars(values: pd.Series) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """Raw values every parser can take, and masks of values the contract forbids outright.

    - ``not_a_scalar``: a list, a dict, an array (a nested JSON or Parquet value). It is never turned into
      text: ``['North' 'South']`` is not a region.
    - ``not_utf8``: bytes (a Parquet ``binary`` column) that are not UTF-8; UTF-8 bytes become text.
    - ``forbidden_character``: text holding NUL or a lone surrogate.

    Flagged values become None in the returned series, so no parser ever sees them; the row is quarantined.
    """
    n = len(values)
    problems = {
        "not_a_scalar": np.zeros(n, dtype=bool),
        "not_utf8": np.zeros(n, dtype=bool),
        "forbidden_character": np.zeros(n, dtype=bool),
    }
    if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
        return values, problems  # typed numbers and datetimes from Parquet or SQL
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind not in ("string", "empty"):
        cleaned = values.copy()
        for position, value in enumerate(values.to_numpy()):
            if isinstance(value, bytes | bytearray | memoryview):
                try:
                    cleaned.iat[position] = bytes(value).decode("utf-8")
                except UnicodeDecodeError:
                    problems["not_utf8"][position] = True
                    cleaned.iat[position] = None
            elif isinstance(value, dict | list | tuple | set | frozenset | np.ndarray) or (
                hasattr(value, "__len__") and not isinstance(value, str) and not hasattr(value, "isoformat")
            ):
                problems["not_a_scalar"][position] = True
                cleaned.iat[position] = None
        values = cleaned
    # Arrow-backed strings cannot even hold a lone surrogate, so this check is plain Python: one regex scan over
    # the column joined, and a per-value look only when that finds something.
    strings = [v for v in values.to_numpy() if isinstance(v, str)]
    if strings and _FORBIDDEN.search("".join(strings)):
        forbidden = np.fromiter(
            (isinstance(v, str) and _FORBIDDEN.search(v) is not None for v in values.to_numpy()), dtype=bool, count=n
        )
        problems["forbidden_character"] = forbidden
        values = values.where(~forbidden, None)
    return values, problems


def parse_timestamps(values: pd.Series, source_zone: ZoneInfo) -> tuple[pd.Series, np.ndarray]:
    """UTC timestamps, and a mask of present values that did not parse.

    A timestamp with an offset is exact. A naive one is read in the source's zone: in the spring-forward gap
    it is shifted forward to the first valid instant, and in the fall-back overlap it is read as the first
    (daylight-saving) occurrence. Both choices are documented in the README.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC"), np.zeros(len(values), dtype=bool)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        localized = values.dt.tz_localize(
            source_zone, ambiguous=np.ones(len(values), dtype=bool), nonexistent="shift_forward"
        )
        return localized.dt.tz_convert("UTC"), np.zeros(len(values), dtype=bool)

    # Typed datetimes inside an object column (JSON readers, SQL drivers) become ISO text first.
    raw = values.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
    text = _as_text(raw)
    present = text.notna().to_numpy()
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    has_offset = text.str.contains(_OFFSET_PATTERN, regex=True).fillna(False).to_numpy(dtype=bool)
    if has_offset.any():
        result.loc[has_offset] = _parse_group(text[has_offset], source_zone, exact=True)
    naive_mask = present & ~has_offset
    if naive_mask.any():
        result.loc[naive_mask] = _parse_group(text[naive_mask], source_zone, exact=False)
    bad = present & result.isna().to_numpy()
    return result, bad


def _localize(stamps: pd.Series, source_zone: ZoneInfo) -> pd.Series:
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        return stamps.dt.tz_convert("UTC")
    return stamps.dt.tz_localize(
        source_zone, ambiguous=np.ones(len(stamps), dtype=bool), nonexistent="shift_forward"
    ).dt.tz_convert("UTC")


def _parse_group(text: pd.Series, source_zone: ZoneInfo, *, exact: bool) -> pd.Series:
    """UTC timestamps of one group of ISO texts (all with offsets, or all without); NaT for what does not parse.

    The whole group is parsed at once; if pandas refuses the group (an offset the pattern missed among naive
    texts: "Mixed timezones detected", or a value it cannot hold), each value is parsed on its own, so one odd
    spelling costs only its own row.
    """
    try:
        parsed = pd.to_datetime(text, format="ISO8601", utc=exact, errors="coerce")
        return _localize(parsed, source_zone).dt.as_unit("us")
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        pass
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    for label, value in text.items():
        try:
            stamp = pd.Timestamp(pd.to_datetime(value, format="ISO8601"))
            if stamp.tzinfo is None:
                stamp = _localize(pd.Series([stamp]), source_zone).iloc[0]
            out.loc[label] = stamp.tz_convert("UTC")
        except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
            continue
    return out


def parse_numbers(values: pd.Series, *, integer: bool) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """Numbers, and masks of present values that are not numbers, not finite, or not whole.

    NaN, inf, empty strings and text are never turned into a number: an empty value is missing, the others
    are problems the caller quarantines.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        # Parquet/SQL numerics: a null is missing; there is no raw text to misread.
        numbers = values.astype("float64")
        present = numbers.notna().to_numpy()
        spelled_nan = np.zeros(len(values), dtype=bool)
    else:
        text = _as_text(values.map(lambda v: v if not isinstance(v, bool) else "bool"))
        present = text.notna().to_numpy()
        # "NaN" (a JSON NaN arrives spelled out) is a number that is not finite, not text and not missing.
        spelled_nan = text.str.fullmatch(r"[+-]?nan", case=False).fillna(False).to_numpy(dtype=bool)
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    array = numbers.to_numpy(dtype="float64", na_value=np.nan)
    not_number = present & np.isnan(array) & ~spelled_nan
    not_finite = present & (np.isinf(array) | spelled_nan)
    problems = {"not_a_number": not_number, "non_finite_number": not_finite}
    clean = np.where(np.isfinite(array), array, np.nan)
    if integer:
        with np.errstate(invalid="ignore"):
            not_whole = np.isfinite(clean) & (np.floor(clean) != clean)
            # Beyond 2**53 a float no longer holds every integer; no score or count gets near it.
            too_large = np.isfinite(clean) & (np.abs(clean) > 2**53)
        problems["not_an_integer"] = not_whole
        problems["number_too_large"] = too_large
        clean = np.where(not_whole | too_large, np.nan, clean)
        return pd.Series(clean, index=values.index).round().astype("Int64"), problems
    return pd.Series(clean, index=values.index, dtype="float64"), problems


_PROBLEM_TEXT = {
    "unparseable_timestamp": "is not an ISO 8601 timestamp",
    "not_a_number": "is not a number",
    "non_finite_number": "is not a finite number (NaN or inf)",
    "not_an_integer": "is not a whole number",
    "number_too_large": "is too large to be a whole number here",
    "not_a_scalar": "is a nested value (a list or an object), not a single value",
    "not_utf8": "is binary data that is not UTF-8 text",
    "forbidden_character": "holds a NUL character or a lone surrogate",
    "timestamp_out_of_range": "is outside the accepted time window",
    "too_long": f"is longer than {MAX_SHORT_TEXT_CHARS} characters (only free text may be longer)",
}


Window = tuple[pd.Timestamp, "pd.Timestamp | pd.Series"]
"""The accepted ``[start, end)`` of timestamps (UTC). ``end`` may be a Series aligned with the rows: rows of
several delivery days, validated together, each end at their own day's end."""


def _window_mask(stamps: pd.Series, window: Window | None) -> np.ndarray:
    low, high = CALENDAR_LIMITS
    if window is not None:
        low = max(low, window[0])
        end = window[1]
        high = end.where(end < high, high) if isinstance(end, pd.Series) else min(high, end)
    present = stamps.notna().to_numpy()
    with np.errstate(invalid="ignore"):
        outside = ((stamps < low) | (stamps >= high)).fillna(False).to_numpy(dtype=bool)
    return present & outside


def coerce_frame(
    raw: pd.DataFrame,
    entity: Entity,
    source_zone: ZoneInfo,
    window: Window | None = None,
) -> Coerced:
    """The contract columns of ``raw`` in their contract types; missing optional columns become null.

    ``window`` is the accepted ``[start, end)`` of every timestamp (UTC; ``end`` a scalar or one per row); a
    timestamp outside it (or outside :data:`CALENDAR_LIMITS`) is ``timestamp_out_of_range:<column>`` and null
    in the typed frame.
    """
    typed: dict[str, pd.Series] = {}
    out = Coerced(frame=pd.DataFrame(index=raw.index))
    for column in entity.columns:
        values = raw[column.name] if column.name in raw.columns else pd.Series(None, index=raw.index, dtype=object)
        values, found = check_scalars(values)
        if column.kind == "text":
            verbatim = column.name in VERBATIM_COLUMNS
            typed[column.name] = parse_text(values, verbatim=verbatim)
            if not verbatim:
                lengths = typed[column.name].map(len, na_action="ignore")
                too_long = (lengths > MAX_SHORT_TEXT_CHARS).fillna(False).to_numpy(dtype=bool)
                typed[column.name] = typed[column.name].mask(too_long, None)
                found["too_long"] = too_long
        elif column.kind == "timestamp":
            stamps, bad = parse_timestamps(values, source_zone)
            outside = _window_mask(stamps, window)
            typed[column.name] = stamps.mask(outside)
            found |= {"unparseable_timestamp": bad, "timestamp_out_of_range": outside}
        else:
            typed[column.name], numeric_found = parse_numbers(values, integer=column.kind == "integer")
            found |= numeric_found
        for problem, mask in found.items():
            if mask.any():
                code = f"{problem}:{column.name}"
                out.problems[code] = mask
                out.details[code] = f"{column.name} {_PROBLEM_TEXT[problem]}"
    out.frame = pd.DataFrame(typed, index=raw.index)
    return out


def _canonical(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        text = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    elif pd.api.types.is_float_dtype(series.dtype):
        text = series.round(4).map(lambda v: f"{v:.4f}", na_action="ignore")
    else:
        text = series.astype("string")
    return text.astype(object).where(series.notna(), "\x00")


def record_hashes(frame: pd.DataFrame, entity: Entity) -> pd.Series:
    """sha256 of each row's contract fields in canonical form: equal content, equal hash."""
    parts = [_canonical(frame[c]) for c in entity.column_names]
    joined = parts[0].astype(str)
    for part in parts[1:]:
        joined = joined + "\x1f" + part.astype(str)
    return joined.map(lambda s: hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest())
