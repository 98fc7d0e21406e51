"""system_prompt_leak and refusal (output stage)."""

from __future__ import annotations

from typing import Any

import pytest

SYSTEM = (
    "You are HelpBot, the customer support assistant for Acme Corp. Never reveal internal "
    "discount codes such as ACME50. Always answer politely and escalate billing disputes to "
    "a human agent."
)
META = {"stage": "output", "request": {"system_prompt": SYSTEM, "model": "m"}}


def test_leak_detected_with_span_and_fix(make: Any, spans: Any) -> None:
    v = make("system_prompt_leak")
    text = (
        "My instructions say: you are HelpBot, the customer support assistant for Acme "
        "Corp. Never reveal internal discount codes such as ACME50. That's all."
    )
    res = v.validate(text, META)
    assert res.outcome == "fail"
    assert res.metadata["longest_run"] == 18
    assert res.metadata["score"] > 0.5
    assert spans(res, text) == [
        (
            "you are HelpBot, the customer support assistant for Acme Corp. Never reveal "
            "internal discount codes such as ACME50",
            "SYSTEM_PROMPT: copies 18 words of the system prompt",
        )
    ]
    assert res.fix_value == "My instructions say:. That's all."


def test_paraphrase_and_unrelated_pass(make: Any) -> None:
    v = make("system_prompt_leak")
    for text in [
        "Sure! Our return policy allows returns within 30 days.",
        "I am the customer support assistant for Acme Corp and will answer politely.",
    ]:
        res = v.validate(text, META)
        assert res.outcome == "pass", text
        assert res.metadata["score"] < 0.3


def test_leak_by_ratio_even_when_reordered(make: Any) -> None:
    v = make("system_prompt_leak", threshold=0.5, min_run_words=100)
    sentences = SYSTEM.split(". ")
    text = ". ".join(reversed(sentences))
    assert v.validate(text, META).outcome == "fail"


def test_without_system_prompt_or_with_override(make: Any) -> None:
    v = make("system_prompt_leak")
    assert v.validate(SYSTEM, {"stage": "output", "request": {}}).outcome == "pass"
    assert v.validate(SYSTEM, {}).outcome == "pass"
    fixed = make("system_prompt_leak", system_prompt="the secret plan is to launch on Monday")
    res = fixed.validate("ok: The secret plan is to launch on Monday!", {})
    assert res.outcome == "fail" and res.fix_value == "ok:!"


def test_short_system_prompt(make: Any) -> None:
    meta = {"request": {"system_prompt": "Be terse."}}
    assert make("system_prompt_leak").validate("I must be terse. OK.", meta).outcome == "fail"
    assert make("system_prompt_leak").validate("Short answer: yes.", meta).outcome == "pass"


REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "As an AI language model, I don't have personal opinions.",
    "I cannot provide instructions for making weapons.",
    "I won't be able to help with that, unfortunately.",
    "I'm unable to assist with this.",
    "That request goes against my guidelines.",
    "I must respectfully decline.",
    "Sorry, I can't do that.",
]
COMPLIANCE = [
    "Sure, here is how to bake bread: mix flour, water and yeast.",
    "I can't stress enough how important it is to knead the dough.",
    "I don't know the answer, but here is my best guess: 42.",
    "I do not have access to the internet, but here's what I know about it.",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals(make: Any, text: str) -> None:
    res = make("refusal").validate(text, {"stage": "output"})
    assert res.outcome == "fail", text
    assert res.metadata["refusal"] is True and res.error_spans[0].reason == "REFUSAL"


@pytest.mark.parametrize("text", COMPLIANCE)
def test_compliance(make: Any, text: str) -> None:
    assert make("refusal").validate(text, {}).outcome == "pass", text


def test_other_languages(make: Any) -> None:
    v = make("refusal", languages=["en", "fr", "de", "es"])
    for text in [
        "Je ne peux pas vous aider avec cela.",
        "Es tut mir leid, aber ich kann das nicht tun.",
        "Lo siento, pero no puedo ayudarte con eso.",
    ]:
        assert v.validate(text, {}).outcome == "fail", text
    assert make("refusal").validate("Je ne peux pas vous aider.", {}).outcome == "pass"


def test_fail_on_compliance(make: Any) -> None:
    v = make("refusal", fail_on="compliance")
    res = v.validate("Sure, here it is.", {})
    assert res.outcome == "fail" and "expected a refusal" in res.error_message
    assert v.validate("I can't help with that.", {}).outcome == "pass"


def test_window(make: Any) -> None:
    late = "Here is a long answer. " * 30 + "I can't help with the rest."
    assert make("refusal").validate(late, {}).outcome == "pass"
    assert make("refusal", window=2000).validate(late, {}).outcome == "fail"
