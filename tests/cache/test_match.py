"""The exact key and the near-duplicate rule (workbench.cache.match)."""

from __future__ import annotations

from typing import Any

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
from workbench.cache.match import RULES, rejecting_rule

BODY: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "hi"}],
    "temperature": 0,
}
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
        ("How many days does a cold last?", "How long does a cold usually last?"),  # bare unit
        ("Can I recover a file I deleted?", "How do I restore a deleted file?"),  # reordered
        ("Why am I not receiving emails?", "Why are emails not reaching me?"),  # 'am' no date
        ("Explain `df.groupby` please", "Please explain `df.groupby`"),  # same identifier
        ("How do I install numpy?", "What is the way to install numpy?"),  # in+stall: no
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


@pytest.mark.parametrize(
    ("a", "b", "rule"),
    [
        (
            "Why does it run 9 times instead of 10?",
            "Why does it run 10 times instead of 9?",
            "number_order",
        ),
        ("Book a table for 2 at 7", "Book a table for 2 at 2", "numbers"),  # multiset
        ("Call me at 5 pm", "Call me at 5 am", "units"),  # time of day after a number
        ("Meet me in the morning", "Meet me in the evening", "dates"),
        ("Flights in March", "Flights in autumn", "dates"),
        ("What causes pain in the left arm?", "What causes pain in the right arm?", "opposites"),
        ("Should I buy Tesla stock now?", "Should I sell Tesla stock now?", "opposites"),
        ("How do I enable two-factor login?", "How do I disable two-factor login?", "opposites"),
        ("Wash it before cooking", "Wash it after cooking", "opposites"),
        ("Is it legal to park here overnight?", "Is parking here overnight illegal?", "opposites"),
        ("Is the charger available?", "Why is the charger unavailable?", "opposites"),
        ("Add the red sweater to my cart.", "Add the blue sweater to my cart.", "colours"),
        ("Ask Jane about the report", "Ask Mark about the report", "names"),
        ("What does `os.path.join` do?", "What does `os.path.split` do?", "identifiers"),
        (
            "What does the parse_args function do?",
            "What does the parse_argv function do?",
            "identifiers",
        ),
        ("Is https://example.com/a safe?", "Is https://example.com/b safe?", "identifiers"),
        ("Email bob@example.com the invoice", "Email ann@example.com the invoice", "identifiers"),
        ('Translate "good night" to German', 'Translate "good morning" to German', "identifiers"),
        (
            "Can I substitute honey for agave syrup?",
            "Can I substitute honey for maple syrup?",
            "slot",
        ),
        ("Give me a recipe for pancakes.", "Give me a recipe for pancakes with eggs.", "slot"),
        ("Is it safe to swim?", "Is it not safe to swim?", "negation"),
    ],
)
def test_each_rule_rejects_its_near_miss(a: str, b: str, rule: str) -> None:
    assert not second_stage(a, b)
    assert rejecting_rule(a, b, [rule]) == rule  # that rule alone rejects it
    assert rejecting_rule(b, a, [rule]) == rule  # either way round
    assert second_stage(a, a, RULES) and second_stage(b, b, RULES)


def test_numbers_in_another_order_never_match() -> None:
    # conservative: with two or more numbers the order always counts
    assert rejecting_rule("Ship 2 boxes and 5 bags", "Ship 5 bags and 2 boxes") == "number_order"
    assert rejecting_rule("from 3 to 5 pm", "from 5 to 3 pm") == "number_order"


def test_rules_can_be_chosen() -> None:
    assert rejecting_rule("order 1", "order 2", rules=[]) is None
    assert rejecting_rule("order 1", "order 2", rules=["names", "numbers"]) == "numbers"
    with pytest.raises(ValueError, match="unknown second-stage rule"):
        rejecting_rule("a", "b", rules=["nope"])


def test_near_miss_set_kinds_caught_by_rules() -> None:
    # every near miss whose difference is a number, date, unit or negation is caught
    for a, b, kind in NEAR_MISSES:
        if kind in ("number", "date", "unit", "negation"):
            assert not second_stage(a, b), (a, b)


def test_signature_fields() -> None:
    s = signature("Please send 2 kg to Alice on Friday, not $30")
    assert s.numbers == ("2", "30") and s.units == {"kg", "usd"}
    assert s.quantities == {"2 kg", "30 usd"} and s.dates == {"friday"}
    assert s.negations == 1 and s.names == {"alice"}


def test_rule_threshold() -> None:
    rule = NearDupRule(threshold=0.9)
    assert not rule.matches(0.89, "same text", "same text")
    assert rule.matches(0.95, "same text", "same text")
    assert not rule.matches(0.99, "order 1", "order 2")
    assert NearDupRule(threshold=0.9, use_second_stage=False).matches(0.99, "order 1", "order 2")
