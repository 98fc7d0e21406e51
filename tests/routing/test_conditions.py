"""The condition language of conditional routes: every operator, fields, static checks."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.routing.conditions import (
    always_true,
    condition_problems,
    matches,
    never_true,
)
from workbench.routing.types import RouteRequest

REQ = RouteRequest(
    model="smart",
    workspace="finance",
    user="alice",
    metadata={"tier": "pro", "seats": "42", "region": "eu-west-1"},
    prompt_tokens=2500,
    stream=True,
)
ANON = RouteRequest(model="smart")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"metadata.tier": {"$eq": "pro"}}, True),
        ({"metadata.tier": {"$eq": "free"}}, False),
        ({"metadata.tier": "pro"}, True),  # bare value means $eq
        ({"metadata.tier": {"$ne": "free"}}, True),
        ({"metadata.tier": {"$ne": "pro"}}, False),
        ({"prompt_tokens": {"$gt": 2000}}, True),
        ({"prompt_tokens": {"$gt": 2500}}, False),
        ({"prompt_tokens": {"$gte": 2500}}, True),
        ({"prompt_tokens": {"$lt": 2500}}, False),
        ({"prompt_tokens": {"$lte": 2500}}, True),
        ({"metadata.seats": {"$gt": 9}}, True),  # numeric, not "42" < "9"
        ({"metadata.seats": {"$lt": "100"}}, True),
        ({"workspace": {"$gt": "alpha"}}, True),  # string comparison
        ({"workspace": {"$gt": 3}}, False),  # a string is not comparable to a number
        ({"workspace": {"$in": ["a", "finance"]}}, True),
        ({"workspace": {"$in": ["a", "b"]}}, False),
        ({"workspace": {"$nin": ["a", "b"]}}, True),
        ({"workspace": {"$nin": ["finance"]}}, False),
        ({"metadata.seats": {"$in": [42]}}, True),
        ({"metadata.region": {"$regex": "^eu-"}}, True),
        ({"metadata.region": {"$regex": "^us-"}}, False),
        ({"user": {"$regex": "ali"}}, True),  # search, not full match
        ({"model": "smart"}, True),
        ({"stream": True}, True),
        ({"stream": {"$eq": False}}, False),
        ({"prompt_tokens": {"$gt": 2000, "$lt": 3000}}, True),  # all tests of a field
        ({"prompt_tokens": {"$gt": 2000, "$lt": 2100}}, False),
        ({"workspace": "finance", "user": "bob"}, False),  # all keys must hold
        ({"$and": [{"prompt_tokens": {"$gt": 2000}}, {"workspace": {"$in": ["finance"]}}]}, True),
        ({"$and": [{"prompt_tokens": {"$gt": 2000}}, {"workspace": "x"}]}, False),
        ({"$or": [{"workspace": "x"}, {"user": "alice"}]}, True),
        ({"$or": [{"workspace": "x"}, {"user": "bob"}]}, False),
        ({"$or": [{"$and": [{"user": "alice"}, {"metadata.tier": "pro"}]}]}, True),
        ({}, True),
    ],
)
def test_operator(condition: dict[str, Any], expected: bool) -> None:
    assert condition_problems(condition) == []
    assert matches(condition, REQ) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"user": {"$eq": "alice"}}, False),
        ({"user": {"$ne": "alice"}}, True),
        ({"user": {"$in": ["alice"]}}, False),
        ({"user": {"$nin": ["alice"]}}, True),
        ({"metadata.tier": {"$regex": "."}}, False),
        ({"metadata.tier": {"$gt": 0}}, False),
        ({"workspace": {"$lte": "zzz"}}, False),
    ],
)
def test_missing_fields_match_only_negative_tests(
    condition: dict[str, Any], expected: bool
) -> None:
    assert matches(condition, ANON) is expected


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ({"tier": "pro"}, "unknown field 'tier'"),
        ({"metadata.": "x"}, "unknown field"),
        ({"user": {"$like": "a"}}, "unknown operator '$like'"),
        ({"$not": [{"user": "a"}]}, "unknown combinator '$not'"),
        ({"$and": {"user": "a"}}, "$and takes a list"),
        ({"user": {"$in": "alice"}}, "$in takes a list"),
        ({"user": {"$in": []}}, "never matches"),
        ({"user": {"$regex": "("}}, "invalid regular expression"),
        ({"user": {"$regex": 3}}, "$regex takes a string"),
        ({"user": {"$eq": ["a"]}}, "$eq takes a single value"),
        ({"prompt_tokens": {"$gt": None}}, "$gt takes a number or a string"),
        ({"user": ["a", "b"]}, "operator mapping"),
        ({"$or": [3]}, "a condition must be a mapping"),
    ],
)
def test_static_problems(condition: dict[str, Any], fragment: str) -> None:
    problems = condition_problems(condition, ("when",))
    assert problems, condition
    assert any(fragment in msg for _, msg in problems), problems
    assert all(loc[0] == "when" for loc, _ in problems)


def test_problem_locations_point_into_the_condition() -> None:
    problems = condition_problems({"$and": [{"user": "a"}, {"user": {"$bad": 1}}]}, ("when",))
    assert problems == [
        (("when", "$and", 1, "user", "$bad"), problems[0][1]),
    ]


@pytest.mark.parametrize(
    "condition",
    [{}, {"user": {"$nin": []}}, {"$and": []}, {"$or": [{"user": "x"}, {}]}],
)
def test_always_true(condition: dict[str, Any]) -> None:
    assert always_true(condition)
    assert matches(condition, REQ) and matches(condition, ANON)


@pytest.mark.parametrize(
    "condition",
    [
        {"user": {"$in": []}},
        {"$or": []},
        {"$and": [{"user": "a"}, {"workspace": {"$in": []}}]},
        {"$or": [{"user": {"$in": []}}]},
    ],
)
def test_never_true(condition: dict[str, Any]) -> None:
    assert never_true(condition)
    assert not matches(condition, REQ) and not matches(condition, ANON)


def test_ordinary_conditions_are_neither_always_nor_never_true() -> None:
    cond = {"user": "alice"}
    assert not always_true(cond) and not never_true(cond)
