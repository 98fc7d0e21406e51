"""Turn a gateway record dict into a strictly typed v1 record (or fail loudly)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from .schema import FIELD_NAMES, FIELDS, PARTITION_COLUMNS, SCHEMA_VERSION

_INT_BOUNDS = {
    pa.int16(): (-(2**15), 2**15 - 1),
    pa.int32(): (-(2**31), 2**31 - 1),
    pa.int64(): (-(2**63), 2**63 - 1),
}
_JSON_FIELDS = frozenset({"metadata", "guardrail_verdicts", "routing_attempts"})
_STATUSES = frozenset({"ok", "error", "rejected"})
_TYPES: dict[str, pa.DataType] = {f.name: f.type for f in FIELDS}
_KNOWN = frozenset(FIELD_NAMES) | frozenset(PARTITION_COLUMNS)


def to_utc(value: Any, name: str = "timestamp") -> datetime:
    """Parse a datetime, epoch seconds (int/float) or ISO-8601 string into an aware UTC datetime.

    Naive datetimes and ISO strings without an offset are taken to be UTC.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"{name}: not a finite epoch time: {value!r}")
        return datetime.fromtimestamp(value, tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{name}: not an ISO-8601 timestamp: {value!r}") from exc
    else:
        raise ValueError(f"{name}: expected datetime, epoch seconds or ISO string, got {value!r}")
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _coerce(name: str, value: Any) -> Any:
    typ = _TYPES[name]
    if value is None:
        return None
    if pa.types.is_timestamp(typ):
        return to_utc(value, name)
    if name in _JSON_FIELDS:
        if isinstance(value, str):
            return value
        try:
            return json.dumps(value, separators=(",", ":"), default=str)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: not JSON-serialisable: {exc}") from exc
    if pa.types.is_string(typ):
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected str, got {type(value).__name__}")
        return value
    if pa.types.is_boolean(typ):
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected bool, got {type(value).__name__}")
        return value
    if pa.types.is_integer(typ):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name}: expected int, got {value!r}")
        low, high = _INT_BOUNDS[typ]
        if not low <= value <= high:
            raise ValueError(f"{name}: {value} out of range for {typ}")
        return value
    if pa.types.is_floating(typ):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name}: expected a number, got {value!r}")
        return float(value)
    if pa.types.is_list(typ):
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ValueError(f"{name}: expected a list of str, got {value!r}")
        if not all(isinstance(item, str) for item in value):
            raise ValueError(f"{name}: every item must be a str")
        return list(value)
    raise AssertionError(f"unhandled type {typ} for {name}")  # pragma: no cover


def normalize_record(d: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise one gateway record into a complete v1 record dict.

    - timestamps may be ``datetime``, epoch seconds or ISO strings; they become aware
      UTC datetimes;
    - ``metadata``, ``guardrail_verdicts`` and ``routing_attempts`` may be dicts/lists;
      they become compact JSON text (a str is kept as given);
    - missing fields are filled with ``None``; ``schema_version`` defaults to the current
      version; the derived partition columns ``date``/``hour`` are accepted and dropped;
    - unknown keys, wrong types, out-of-range integers and a ``status`` other than
      ok/error/rejected raise ``ValueError``; ``request_id`` and ``received_at`` are
      required.

    Strictness here is deliberate: whatever passes is guaranteed to convert to the
    Arrow schema, so a bad record can never wedge the spool at flush time.
    """
    unknown = sorted(set(d) - _KNOWN)
    if unknown:
        raise ValueError(f"unknown log record field(s): {', '.join(unknown)}")
    out = dict.fromkeys(FIELD_NAMES)
    for name, value in d.items():
        if value is not None and name not in PARTITION_COLUMNS:
            out[name] = _coerce(name, value)
    if not out["request_id"]:
        raise ValueError("log record needs a non-empty request_id")
    if out["received_at"] is None:
        raise ValueError("log record needs received_at")
    if out["schema_version"] is None:
        out["schema_version"] = SCHEMA_VERSION
    if out["status"] is not None and out["status"] not in _STATUSES:
        raise ValueError(f"status: must be one of ok, error, rejected; got {out['status']!r}")
    return out
