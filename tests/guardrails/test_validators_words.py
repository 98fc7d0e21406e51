"""banned_words (exact, fuzzy, l33t, spacing) and keyword_list."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def exact(make: Any) -> Any:
    return make("banned_words", words=["idiot", "kill yourself", "bitch"])


@pytest.fixture(scope="module")
def fuzzy(make: Any) -> Any:
    return make("banned_words", words=["idiot", "kill yourself", "bitch", "shit"], fuzzy=True)


def test_exact_match_spans_and_mask(exact: Any, spans: Any) -> None:
    text = "You IDIOT, just Kill   Yourself."
    res = exact.validate(text, {})
    assert res.outcome == "fail"
    assert spans(res, text) == [
        ("IDIOT", "BANNED_WORD: idiot"),
        ("Kill   Yourself", "BANNED_WORD: kill yourself"),
    ]
    assert res.fix_value == "You *****, just ***************."
    assert res.metadata["words"] == ["idiot", "kill yourself"]


def test_exact_respects_word_boundaries_and_case(make: Any, exact: Any) -> None:
    assert exact.validate("an idiotic idea, idiots", {}).outcome == "pass"
    strict = make("banned_words", words=["Idiot"], case_insensitive=False)
    assert strict.validate("idiot", {}).outcome == "pass"
    assert strict.validate("Idiot", {}).outcome == "fail"


def test_exact_does_not_catch_evasions(exact: Any) -> None:
    for text in ["you 1d10t", "b1tch", "i d i o t", "idjot"]:
        assert exact.validate(text, {}).outcome == "pass", text


@pytest.mark.parametrize(
    "text, covered, word",
    [
        ("you 1d10t!", "1d10t", "idiot"),
        ("what a b1tch", "b1tch", "bitch"),
        ("sh!t happens", "sh!t", "shit"),
        ("s h i t", "s h i t", "shit"),
        ("what i.d.i.o.t said", "i.d.i.o.t", "idiot"),
        ("sh*t", "sh*t", "shit"),
        ("you are an idjot", "idjot", "idiot"),
        ("biatch please", "biatch", "bitch"),
        ("idiooooot", "idiooooot", "idiot"),
        ("shitty", "shitty", "shit"),
        ("$hit", "$hit", "shit"),
    ],
)
def test_fuzzy_catches_evasions(fuzzy: Any, spans: Any, text: str, covered: str, word: str) -> None:
    res = fuzzy.validate(text, {})
    assert res.outcome == "fail", text
    assert [c for c, _ in spans(res, text)] == [covered]
    assert res.error_spans[0].reason.startswith(f"BANNED_WORD: {word} (")
    assert res.fix_value == text.replace(covered, "*" * len(covered))


def test_fuzzy_leaves_real_words_alone(fuzzy: Any) -> None:
    for text in [
        "pitch the witch in a ditch",
        "the patch is new, the idea is old",
        "shift the shirt, skill and chill",
        "I will kill the process and restart it yourself",
        "a b c d e f",
    ]:
        assert fuzzy.validate(text, {}).outcome == "pass", text


def test_fuzzy_allow_words(make: Any) -> None:
    v = make("banned_words", words=["idiot"], fuzzy=True)
    assert v.validate("a common idiom", {}).outcome == "fail"  # rare word, one edit away
    allowed = make("banned_words", words=["idiot"], fuzzy=True, allow_words=["Idiom"])
    assert allowed.validate("a common idiom", {}).outcome == "pass"
    assert allowed.validate("an idjot", {}).outcome == "fail"


def test_fuzzy_distance_and_min_length(make: Any) -> None:
    v = make("banned_words", words=["bitch"], fuzzy=True, max_distance=0)
    assert v.validate("biatch", {}).outcome == "pass"
    assert v.validate("b1tch", {}).outcome == "fail"  # l33t is not a distance
    short = make("banned_words", words=["damn"], fuzzy=True)
    assert short.validate("dawn", {}).outcome == "pass"  # 4 letters: no fuzzy distance
    assert short.validate("d4mn", {}).outcome == "fail"


def test_keyword_list_mentions(make: Any, spans: Any) -> None:
    v = make("keyword_list", keywords=["Acme", "Globex Corp"])
    text = "We beat ACME and globex  corp, not acmes."
    res = v.validate(text, {})
    assert spans(res, text) == [
        ("ACME", "KEYWORD: Acme"),
        ("globex  corp", "KEYWORD: Globex Corp"),
    ]
    assert res.fix_value == "We beat [REDACTED] and [REDACTED], not acmes."
    assert res.metadata["keywords"] == ["Acme", "Globex Corp"]
    assert v.validate("Initech is fine", {}).outcome == "pass"


def test_keyword_list_options(make: Any) -> None:
    sub = make("keyword_list", keywords=["acme"], whole_word=False, replacement="X")
    assert sub.validate("acmes", {}).fix_value == "Xs"
    cs = make("keyword_list", keywords=["Acme"], case_insensitive=False)
    assert cs.validate("acme", {}).outcome == "pass"
    assert cs.validate("Acme", {}).outcome == "fail"


def test_keyword_list_many_keywords(make: Any) -> None:
    names = [f"Company{i}" for i in range(500)]
    v = make("keyword_list", keywords=names)
    res = v.validate("we like company123 and Company7 but not Company7x", {})
    assert res.metadata["keywords"] == ["Company123", "Company7"]
