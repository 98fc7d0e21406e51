"""Turn a gateway record dict into a strictly typed v1 record.

Two entry points share one set of per-field coercions:

- :func:`normalize_record` is strict: the first value that does not fit its schema type
  raises ``ValueError`` naming the field.
- :func:`salvage_record` never raises: it returns the record with every field that does
  not fit set to null (lone surrogates in text are escaped instead), plus the list of
  problems, or ``None`` when the record cannot be kept at all (not an object, no usable
  ``request_id`` or ``received_at``). The writer uses it so that one poison record never
  takes down a batch.

Whatever either returns is guaranteed to convert to the Arrow schema.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from .schema import FIELD_NAMES, FIELDS, PARTITION_COLUMNS, REQUIRED, SCHEMA_VERSION

_INT_BOUNDS = {
    pa.int16(): (-(2**15), 2**15 - 1),
    pa.int32(): (-(2**31), 2**31 - 1),
    pa.int64(): (-(2**63), 2**63 - 1),
}
_JSON_FIELDS = frozenset({"metadata", "guardrail_verdicts", "routing_attempts"})
_STATUSES = frozenset({"ok", "error", "rejected"})
_TYPES: dict[str, pa.DataType] = {f.name: f.type for f in FIELDS}
_KNOWN = frozenset(FIELD_NAMES) | frozenset(PARTITION_COLUMNS)
_MAX_SHOWN = 60  # characters of an offending value quoted in a problem message


def _show(value: Any) -> str:
    """A short, safe rendering of an offending value for a problem message."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not break logging
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _valid_text(value: str) -> bool:
    """Whether ``value`` encodes to UTF-8 (Python str may hold lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escape_text(value: str) -> str:
    """``value`` with every character UTF-8 cannot hold written as a ``\\uXXXX`` escape."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def to_utc(value: Any, name: str = "timestamp") -> datetime:
    """Parse a datetime, epoch seconds (int/float) or ISO-8601 string into an aware UTC datetime.

    Naive datetimes and ISO strings without an offset are taken to be UTC.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"{name}: not a finite epoch time: {value!r}")
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"{name}: epoch time out of range: {_show(value)}") from exc
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{name}: not an ISO-8601 timestamp: {_show(value)}") from exc
    else:
        raise ValueError(
            f"{name}: expected datetime, epoch seconds or ISO string, got {_show(value)}"
        )
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"{name}: timestamp out of range: {_show(value)}") from exc


def _coerce_json(name: str, value: Any) -> str:
    if isinstance(value, str):
        if not _valid_text(value):
            raise ValueError(f"{name}: text is not valid UTF-8")
        return value
    try:  # ensure_ascii (the default) makes the text valid UTF-8 whatever it holds
        return json.dumps(value, separators=(",", ":"), default=str)
    except Exception as exc:  # TypeError, ValueError (cycles), RecursionError, broken __str__
        raise ValueError(f"{name}: not JSON-serialisable: {type(exc).__name__}") from exc


def _coerce_int(name: str, typ: pa.DataType, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected int, got {_show(value)}")
    low, high = _INT_BOUNDS[typ]
    if not low <= value <= high:
        raise ValueError(f"{name}: {_show(value)} out of range for {typ}")
    return value


def _coerce(name: str, value: Any) -> Any:
    typ = _TYPES[name]
    if pa.types.is_timestamp(typ):
        return to_utc(value, name)
    if name in _JSON_FIELDS:
        return _coerce_json(name, value)
    if pa.types.is_string(typ):
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected str, got {type(value).__name__}")
        if not _valid_text(value):
            raise ValueError(f"{name}: text is not valid UTF-8")
        return value
    if pa.types.is_boolean(typ):
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected bool, got {type(value).__name__}")
        return value
    if pa.types.is_integer(typ):
        return _coerce_int(name, typ, value)
    if pa.types.is_floating(typ):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name}: expected a number, got {_show(value)}")
        try:
            return float(value)
        except OverflowError as exc:
            raise ValueError(f"{name}: {_show(value)} out of range for a float") from exc
    if pa.types.is_list(typ):
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ValueError(f"{name}: expected a list of str, got {_show(value)}")
        if not all(isinstance(item, str) and _valid_text(item) for item in value):
            raise ValueError(f"{name}: every item must be a valid UTF-8 str")
        return list(value)
    raise AssertionError(f"unhandled type {typ} for {name}")  # pragma: no cover


def _repair(name: str, value: Any) -> Any:
    """A value that fits ``name`` built from a rejected one, or ``None`` (null)."""
    typ = _TYPES[name]
    if isinstance(value, str) and (pa.types.is_string(typ) or name in _JSON_FIELDS):
        return _escape_text(value)
    if pa.types.is_list(typ) and isinstance(value, list | tuple):
        if all(isinstance(item, str) for item in value):
            return [_escape_text(item) for item in value]
    return None


def _normalize(d: Any, strict: bool) -> tuple[dict[str, Any] | None, list[str]]:
    if not isinstance(d, Mapping):
        problem = f"log record must be an object, got {type(d).__name__}"
        if strict:
            raise ValueError(problem)
        return None, [problem]
    problems: list[str] = []
    unknown = sorted(str(k) for k in d if k not in _KNOWN)
    if unknown:
        problem = f"unknown log record field(s): {', '.join(unknown)}"
        if strict:
            raise ValueError(problem)
        problems.append(problem)
    out: dict[str, Any] = dict.fromkeys(FIELD_NAMES)
    for name, value in d.items():
        if value is None or name not in _KNOWN or name in PARTITION_COLUMNS:
            continue
        try:
            out[name] = _coerce(name, value)
        except ValueError as exc:
            if strict:
                raise
            problems.append(str(exc))
            out[name] = _repair(name, value)
    for name in sorted(REQUIRED):
        if not out[name]:
            problem = f"log record needs a valid {name}"
            if strict:
                raise ValueError(problem)
            return None, [*problems, problem]
    if out["schema_version"] is None:
        out["schema_version"] = SCHEMA_VERSION
    if out["status"] is not None and out["status"] not in _STATUSES:
        problem = f"status: must be one of ok, error, rejected; got {_show(out['status'])}"
        if strict:
            raise ValueError(problem)
        problems.append(problem)
        out["status"] = None
    return out, problems


def normalize_record(d: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise one gateway record into a complete v1 record dict.

    - timestamps may be ``datetime``, epoch seconds or ISO strings; they become aware
      UTC datetimes;
    - ``metadata``, ``guardrail_verdicts`` and ``routing_attempts`` may be dicts/lists;
      they become compact JSON text (a str is kept as given);
    - missing fields are filled with ``None``; ``schema_version`` defaults to the current
      version; the derived partition columns ``date``/``hour`` are accepted and dropped;
    - unknown keys, wrong types, out-of-range numbers, text that is not valid UTF-8 and a
      ``status`` other than ok/error/rejected raise ``ValueError``; ``request_id`` and
      ``received_at`` are required.
    """
    out, _ = _normalize(d, strict=True)
    assert out is not None
    return out


def salvage_record(d: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """Normalise ``d`` keeping every field that fits: ``(record or None, problems)``.

    A field that does not fit its type becomes null (text with lone surrogates is kept
    with them escaped), unknown keys are dropped, a bad ``status`` becomes null; each of
    those adds a problem message. The record is ``None`` (rejected) only when it is not
    a mapping or lacks a usable ``request_id``/``received_at``. No problems means the
    result equals :func:`normalize_record`'s.
    """
    return _normalize(d, strict=False)
