"""Turn raw source values into the contract's types, noting every value that will not parse.

Pure: no I/O. Raw frames hold whatever a file or a database gave (strings from CSV and JSON, typed values
from Parquet or SQL). The result is a typed frame plus one boolean mask per parse problem, named by a reason
code such as ``unparseable_timestamp:submitted_at``. A value that does not parse becomes null in the typed
frame and is never replaced by a default: the row is quarantined by the caller.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from loyalty.contract import Entity

# An ISO 8601 timestamp that carries its own offset: a time part followed by Z or +hh[:mm].
_OFFSET_PATTERN = r"[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


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


def parse_text(values: pd.Series) -> pd.Series:
    return _as_text(values).astype(object).where(lambda s: s.notna(), None)


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
        exact = pd.to_datetime(text[has_offset], format="ISO8601", utc=True, errors="coerce")
        result.loc[has_offset] = exact.dt.as_unit("us")
    naive_mask = present & ~has_offset
    if naive_mask.any():
        naive = pd.to_datetime(text[naive_mask], format="ISO8601", errors="coerce")
        if isinstance(naive.dtype, pd.DatetimeTZDtype):  # pragma: no cover - guarded by the pattern
            naive = naive.dt.tz_convert("UTC")
        else:
            naive = naive.dt.tz_localize(
                source_zone, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
            ).dt.tz_convert("UTC")
        result.loc[naive_mask] = naive.dt.as_unit("us")
    bad = present & result.isna().to_numpy()
    return result, bad


def parse_numbers(values: pd.Series, *, integer: bool) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """Numbers, and masks of present values that are not numbers, not finite, or not whole.

    NaN, inf, empty strings and text are never turned into a number: an empty value is missing, the others
    are problems the caller quarantines.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        # Parquet/SQL numerics: a null is missing; there is no raw text to misread.
        numbers = values.astype("float64")
        present = numbers.notna().to_numpy()
    else:
        text = _as_text(values.map(lambda v: v if not isinstance(v, bool) else "bool"))
        present = text.notna().to_numpy()
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    array = numbers.to_numpy(dtype="float64", na_value=np.nan)
    not_number = present & np.isnan(array)
    not_finite = present & np.isinf(array)
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
    "non_finite_number": "is not a finite number (inf)",
    "not_an_integer": "is not a whole number",
    "number_too_large": "is too large to be a whole number here",
}


def coerce_frame(raw: pd.DataFrame, entity: Entity, source_zone: ZoneInfo) -> Coerced:
    """The contract columns of ``raw`` in their contract types; missing optional columns become null."""
    typed: dict[str, pd.Series] = {}
    out = Coerced(frame=pd.DataFrame(index=raw.index))
    for column in entity.columns:
        values = raw[column.name] if column.name in raw.columns else pd.Series(None, index=raw.index, dtype=object)
        if column.kind == "text":
            typed[column.name] = parse_text(values)
            continue
        if column.kind == "timestamp":
            typed[column.name], bad = parse_timestamps(values, source_zone)
            found = {"unparseable_timestamp": bad}
        else:
            typed[column.name], found = parse_numbers(values, integer=column.kind == "integer")
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
