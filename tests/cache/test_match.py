"""The exact key and the near-duplicate rule (workbench.cache.match)."""

from __future__ import annotations

import pytest

from bench.cost_paraphrases import NEAR_MISSES
from workbench.cache import (
    NearDupRule,
    conversation_text,
    exact_key,
    normalize_request,
    scope_key,
    second_stage,
    signature,
    uses_tools,
)

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
ID = {"model": "gpt-4o", "workspace": "ws", "policy_hash": "p", "endpoint": "/v1/chat/completions"}


def test_exact_key_ignores_only_non_answer_fields() -> None:
    base = exact_key(BODY, **ID)
    same = {
        **BODY,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "u",
        "metadata": {"a": 1},
        "model": "alias",
    }
    assert exact_key(same, **ID) == base
    assert exact_key(dict(reversed(list(BODY.items()))), **ID) == base  # key order
    assert exact_key({**BODY, "seed": None}, **ID) == base  # null == absent
    for change in (
        {"temperature": 0.5},
        {"top_p": 0.9},
        {"seed": 1},
        {"stop": ["x"]},
        {"max_tokens": 5},
        {"tools": [{"type": "function"}]},
        {"n": 2},
        {"response_format": {"type": "json_object"}},
        {"logit_bias": {"1": 2}},
        {"messages": [{"role": "user", "content": "hi!"}]},
    ):
        assert exact_key({**BODY, **change}, **ID) != base, change
    for ident in ({"workspace": "other"}, {"policy_hash": "p2"}, {"model": "gpt-4o-mini"}):
        assert exact_key(BODY, **{**ID, **ident}) != base, ident


def test_exact_key_aliases() -> None:
    assert exact_key({**BODY, "max_completion_tokens": 9}, **ID) == exact_key(
        {**BODY, "max_tokens": 9}, **ID
    )
    assert exact_key({**BODY, "stop": "x"}, **ID) == exact_key({**BODY, "stop": ["x"]}, **ID)
    assert normalize_request({"model": "m", "stream": True, "n": 1}) == {"n": 1}


def test_scope_key_ignores_only_the_conversation() -> None:
    other = {**BODY, "messages": [{"role": "user", "content": "hello"}]}
    assert scope_key(other, **ID) == scope_key(BODY, **ID)
    assert scope_key({**BODY, "temperature": 0.2}, **ID) != scope_key(BODY, **ID)
    assert scope_key(BODY, **{**ID, "workspace": "w2"}) != scope_key(BODY, **ID)


def test_conversation_text_puts_the_last_question_first() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be  brief."},
            {"role": "user", "content": [{"type": "text", "text": "first"}]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second\nquestion"},
        ]
    }
    assert conversation_text(body) == (
        "user: second question\nsystem: Be brief.\nuser: first\nassistant: ok"
    )
    assert conversation_text({"prompt": " a  b "}) == "a b"
    assert conversation_text({"input": "x"}) is None


def test_eligibility() -> None:
    rule = NearDupRule(max_temperature=0.3)
    assert rule.eligible(BODY)
    assert not rule.eligible({**BODY, "temperature": 0.7})
    assert not rule.eligible({k: v for k, v in BODY.items() if k != "temperature"})
    tool_msg = {**BODY, "messages": [*BODY["messages"], {"role": "tool", "content": "r"}]}
    assert uses_tools(tool_msg) and not rule.eligible(tool_msg)
    assert not rule.eligible({**BODY, "tools": [{"type": "function"}]})
    assert NearDupRule(allow_tools=True).eligible({**BODY, "tools": [{"type": "function"}]})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is the capital of France?", "whats the capital city of france"),
        ("Convert 5 km to miles.", "How many miles is 5 kilometers?"),
        ("Is $5 enough?", "Is 5 dollars enough?"),
        ("Give me three tips.", "Give me 3 tips."),
        ("Why isn't it working?", "Why is it not working?"),
        ("Order 1,234 arrived", "order 1234 arrived"),
    ],
)
def test_second_stage_keeps_paraphrases(a: str, b: str) -> None:
    assert second_stage(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("refund order 1234", "refund order 1235"),  # number
        ("What is the capital of France?", "What is the capital of Spain?"),  # name
        ("Is it safe to swim?", "Is it not safe to swim?"),  # negation
        ("Meet on Monday", "Meet on Tuesday"),  # date
        ("Schedule it for January 10", "Schedule it for February 10"),  # date
        ("Convert 5 km to miles", "Convert 5 miles to km"),  # unit order
        ("Add 3 kg of flour", "Add 3 lb of flour"),  # unit
        (
            "How do I reset my password quickly?",
            "¿Cómo restablezco mi contraseña rápidamente?",
        ),  # language
    ],
)
def test_second_stage_rejects_near_misses(a: str, b: str) -> None:
    assert not second_stage(a, b)


def test_near_miss_set_kinds_caught_by_rules() -> None:
    # every near miss whose difference is a number, date, unit or negation is caught
    for a, b, kind in NEAR_MISSES:
        if kind in ("number", "date", "unit", "negation"):
            assert not second_stage(a, b), (a, b)


def test_signature_fields() -> None:
    s = signature("Please send 2 kg to Alice on Friday, not $30")
    assert s.numbers == {"2", "30"} and s.units == {"kg", "usd"}
    assert s.quantities == {"2 kg", "30 usd"} and s.dates == {"friday"}
    assert s.negations == 1 and s.names == {"alice"}


def test_rule_threshold() -> None:
    rule = NearDupRule(threshold=0.9)
    assert not rule.matches(0.89, "same text", "same text")
    assert rule.matches(0.95, "same text", "same text")
    assert not rule.matches(0.99, "order 1", "order 2")
    assert NearDupRule(threshold=0.9, use_second_stage=False).matches(0.99, "order 1", "order 2")
