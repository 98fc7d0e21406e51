"""Conditions of ``conditional`` routes: a small Mongo-style query language (as in Portkey).

A condition is a mapping. Each key is either a field with a test, or ``$and`` / ``$or``
with a list of conditions; several keys in one mapping must all hold::

    {"metadata.tier": {"$eq": "pro"}}
    {"$and": [{"prompt_tokens": {"$gt": 2000}}, {"workspace": {"$in": ["a", "b"]}}]}
    {"user": "alice"}                      # a bare value means $eq

Fields: ``model``, ``workspace``, ``user``, ``prompt_tokens`` (estimated), ``stream`` and
``metadata.<key>``. Operators: ``$eq $ne $gt $gte $lt $lte $in $nin $regex``. A field the
request does not have (no user, no such metadata key) is "missing": only ``$ne`` and
``$nin`` hold for it. ``$gt``-style comparisons are numeric when both sides are numbers
(metadata values such as ``"42"`` count as numbers), otherwise they compare strings.
``$regex`` uses :func:`re.search`.

:func:`condition_problems` checks a condition statically; :func:`always_true` and
:func:`never_true` find rules that can never be reached or never match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from workbench.routing.types import RouteRequest

__all__ = [
    "FIELDS",
    "OPERATORS",
    "always_true",
    "condition_problems",
    "matches",
    "never_true",
]

OPERATORS: tuple[str, ...] = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex")
FIELDS: tuple[str, ...] = ("model", "workspace", "user", "prompt_tokens", "stream", "metadata.*")
_COMBINATORS = ("$and", "$or")
_MISSING = object()

_Loc = tuple[str | int, ...]


def _field_value(req: RouteRequest, field: str) -> Any:
    if field.startswith("metadata."):
        return req.metadata.get(field[len("metadata.") :], _MISSING)
    value = getattr(req, field, _MISSING) if field in FIELDS else _MISSING
    return _MISSING if value is None else value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _equal(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return a == b
    if isinstance(expected, bool) or isinstance(actual, bool):
        return str(actual).lower() == str(expected).lower()
    return False


def _compare(actual: Any, op: str, expected: Any) -> bool:
    a, b = _number(actual), _number(expected)
    left: Any
    right: Any
    if a is not None and b is not None:
        left, right = a, b
    elif isinstance(actual, str) and isinstance(expected, str):
        left, right = actual, expected
    else:
        return False
    if op == "$gt":
        return bool(left > right)
    if op == "$gte":
        return bool(left >= right)
    if op == "$lt":
        return bool(left < right)
    return bool(left <= right)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _test(actual: Any, op: str, expected: Any) -> bool:
    if actual is _MISSING:
        return op in ("$ne", "$nin")
    if op == "$eq":
        return _equal(actual, expected)
    if op == "$ne":
        return not _equal(actual, expected)
    if op == "$in":
        return any(_equal(actual, e) for e in expected)
    if op == "$nin":
        return not any(_equal(actual, e) for e in expected)
    if op == "$regex":
        return _regex(expected).search(str(actual)) is not None
    return _compare(actual, op, expected)


def matches(condition: Mapping[str, Any], req: RouteRequest) -> bool:
    """Whether ``req`` satisfies ``condition`` (assumed valid: see :func:`condition_problems`)."""
    for key, value in condition.items():
        if key == "$and":
            if not all(matches(c, req) for c in value):
                return False
        elif key == "$or":
            if not any(matches(c, req) for c in value):
                return False
        else:
            actual = _field_value(req, key)
            tests = value if _is_test(value) else {"$eq": value}
            if not all(_test(actual, op, exp) for op, exp in tests.items()):
                return False
    return True


def _is_test(value: Any) -> bool:
    return isinstance(value, Mapping) and any(str(k).startswith("$") for k in value)


def _field_ok(field: str) -> bool:
    if field.startswith("metadata."):
        return len(field) > len("metadata.")
    return field in FIELDS


def condition_problems(condition: Any, loc: _Loc = ()) -> list[tuple[_Loc, str]]:
    """Static problems of a condition: unknown fields or operators, bad operands."""
    if not isinstance(condition, Mapping):
        return [(loc, "a condition must be a mapping")]
    problems: list[tuple[_Loc, str]] = []
    for key, value in condition.items():
        here = loc + (key,)
        if key in _COMBINATORS:
            if not isinstance(value, list):
                problems.append((here, f"{key} takes a list of conditions"))
                continue
            for i, sub in enumerate(value):
                problems += condition_problems(sub, here + (i,))
        elif str(key).startswith("$"):
            problems.append((here, f"unknown combinator {key!r} (use $and or $or)"))
        elif not _field_ok(str(key)):
            problems.append((here, f"unknown field {key!r} (fields: {', '.join(FIELDS)})"))
        elif _is_test(value):
            for op, operand in value.items():
                problems += _operand_problems(str(op), operand, here + (op,))
        elif isinstance(value, Mapping | list):
            problems.append((here, "expected a value or an operator mapping like {$eq: ...}"))
    return problems


def _operand_problems(op: str, operand: Any, loc: _Loc) -> list[tuple[_Loc, str]]:
    if op not in OPERATORS:
        return [(loc, f"unknown operator {op!r} (operators: {' '.join(OPERATORS)})")]
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            return [(loc, f"{op} takes a list")]
        if op == "$in" and not operand:
            return [(loc, "$in: [] never matches: the rule is unreachable")]
        return []
    if op == "$regex":
        if not isinstance(operand, str):
            return [(loc, "$regex takes a string")]
        try:
            _regex(operand)
        except re.error as exc:
            return [(loc, f"invalid regular expression: {exc}")]
        return []
    if isinstance(operand, Mapping | list):
        return [(loc, f"{op} takes a single value")]
    if op in ("$gt", "$gte", "$lt", "$lte") and not isinstance(operand, int | float | str):
        return [(loc, f"{op} takes a number or a string")]
    return []


def always_true(condition: Mapping[str, Any]) -> bool:
    """Conservatively: does ``condition`` hold for every request? (``{}``, ``$nin: []``, ...)"""
    for key, value in condition.items():
        if key == "$and":
            if not all(always_true(c) for c in value if isinstance(c, Mapping)):
                return False
        elif key == "$or":
            if not any(always_true(c) for c in value if isinstance(c, Mapping)):
                return False
        elif not (_is_test(value) and set(value) == {"$nin"} and value["$nin"] == []):
            return False
    return True


def never_true(condition: Mapping[str, Any]) -> bool:
    """Conservatively: can ``condition`` never hold? (``$in: []``, ``$or: []``, ...)"""
    for key, value in condition.items():
        if key == "$and":
            if any(never_true(c) for c in value if isinstance(c, Mapping)):
                return True
        elif key == "$or":
            subs = [c for c in value if isinstance(c, Mapping)]
            if all(never_true(c) for c in subs):
                return True
        elif _is_test(value) and value.get("$in", None) == []:
            return True
    return False
