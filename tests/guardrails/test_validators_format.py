"""length, case, contains, starts_with, ends_with."""

from __future__ import annotations

from typing import Any

from workbench.guardrails.validators._tokenizer import count_tokens, minilm_tokenizer


def test_length_chars(make: Any, spans: Any) -> None:
    v = make("length", min=3, max=5)
    assert v.validate("abcd", {}).outcome == "pass"
    short = v.validate("ab", {})
    assert short.outcome == "fail" and "fewer than the minimum 3" in short.error_message
    assert short.fix_value is None
    text = "abcdefgh"
    long = v.validate(text, {})
    assert spans(long, text) == [("fgh", "TOO_LONG: beyond 5 chars")]
    assert long.fix_value == "abcde"
    assert long.metadata["count"] == 8


def test_length_words(make: Any, spans: Any) -> None:
    v = make("length", unit="words", max=3)
    text = "one two  three four five"
    res = v.validate(text, {})
    assert res.metadata["count"] == 5
    assert spans(res, text) == [(" four five", "TOO_LONG: beyond 3 words")]
    assert res.fix_value == "one two  three"
    assert make("length", unit="words", min=2).validate("one", {}).outcome == "fail"


def test_length_sentences(make: Any) -> None:
    v = make("length", unit="sentences", max=2)
    text = "Pi is 3.14 today. Really?! Yes... ok. Last one"
    res = v.validate(text, {})
    assert res.metadata["count"] == 5
    assert res.fix_value == "Pi is 3.14 today. Really?!"
    assert v.validate("One. Two.", {}).outcome == "pass"


def test_length_tokens_uses_minilm(make: Any) -> None:
    v = make("length", unit="tokens", max=3)
    text = "tokenizers are great fun"
    assert count_tokens(text) == 6
    res = v.validate(text, {})
    assert res.metadata["count"] == 6
    assert res.fix_value == "tokenizers"  # "token", "##izer", "##s"
    assert make("length", unit="tokens", min=1, max=10).validate(text, {}).outcome == "pass"
    assert minilm_tokenizer() is minilm_tokenizer()  # loaded once


def test_case_modes(make: Any, spans: Any) -> None:
    lower = make("case", mode="lower")
    text = "Hello there World"
    res = lower.validate(text, {})
    assert spans(res, text) == [
        ("Hello", "CASE: not lower case"),
        ("World", "CASE: not lower case"),
    ]
    assert res.fix_value == "hello there world"
    assert lower.validate("all good 123!", {}).outcome == "pass"

    upper = make("case", mode="upper")
    assert upper.validate("HELLO there", {}).fix_value == "HELLO THERE"
    assert upper.validate("OK 42", {}).outcome == "pass"

    title = make("case", mode="title")
    assert title.validate("don't stop me now", {}).fix_value == "Don't Stop Me Now"
    assert title.validate("Don't Stop Me Now", {}).outcome == "pass"

    sentence = make("case", mode="sentence")
    text = "hello. this is fine! Paris is nice"
    res = sentence.validate(text, {})
    assert [s.start for s in res.error_spans] == [0, 7]
    assert res.fix_value == "Hello. This is fine! Paris is nice"
    assert sentence.validate("All good. Names like Paris stay.", {}).outcome == "pass"


def test_contains(make: Any) -> None:
    all_of = make("contains", values=["foo", "bar"])
    assert all_of.validate("foo and bar", {}).outcome == "pass"
    res = all_of.validate("only foo", {})
    assert res.outcome == "fail" and res.metadata["missing"] == ["bar"]
    any_of = make("contains", values=["foo", "bar"], require="any", case_insensitive=True)
    assert any_of.validate("BAR here", {}).outcome == "pass"
    assert any_of.validate("nothing", {}).outcome == "fail"
    assert make("contains", value="Sources:").validate("sources: x", {}).outcome == "fail"


def test_starts_and_ends_with(make: Any) -> None:
    sw = make("starts_with", values=["Answer:", "A:"])
    assert sw.validate("  A: yes", {}).outcome == "pass"
    res = sw.validate("yes", {})
    assert res.outcome == "fail" and res.fix_value == "Answer:yes"
    assert make("starts_with", value="A:", strip=False).validate(" A: x", {}).outcome == "fail"

    ew = make("ends_with", value="</end>", case_insensitive=True)
    assert ew.validate("stuff </END>  ", {}).outcome == "pass"
    res = ew.validate("stuff", {})
    assert res.outcome == "fail" and res.fix_value == "stuff</end>"
    # the whole suffix is compared, not just the last character
    assert make("ends_with", value="ab").validate("xxb", {}).outcome == "fail"
