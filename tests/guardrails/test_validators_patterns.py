"""regex_match and regex_deny."""

from __future__ import annotations

from typing import Any


def test_regex_match_search_and_fullmatch(make: Any) -> None:
    search = make("regex_match", pattern=r"ticket #\d+")
    assert search.validate("see ticket #123 please", {}).outcome == "pass"
    res = search.validate("no ticket here", {})
    assert res.outcome == "fail" and "ticket" in res.error_message

    full = make("regex_match", pattern=r"[A-Z]{3}-\d{4}", match_type="fullmatch")
    assert full.validate("ABC-1234", {}).outcome == "pass"
    assert full.validate("ABC-1234 trailing", {}).outcome == "fail"


def test_regex_match_flags(make: Any) -> None:
    v = make("regex_match", pattern=r"^hello$", flags=["IGNORECASE", "MULTILINE"])
    assert v.validate("first line\nHELLO\nlast", {}).outcome == "pass"
    assert make("regex_match", pattern=r"^hello$").validate("x\nHELLO", {}).outcome == "fail"


def test_regex_deny_spans_and_fix(make: Any, spans: Any) -> None:
    v = make("regex_deny", patterns=[r"\bproject \w+", r"\d{3}-\d{4}"])
    text = "Project Falcon ships; call 555-1234 about project falcon."
    res = v.validate(text, {})
    assert res.outcome == "fail"
    assert spans(res, text) == [
        ("555-1234", r"DENIED_PATTERN: /\d{3}-\d{4}/"),
        ("project falcon", r"DENIED_PATTERN: /\bproject \w+/"),
    ]
    assert res.fix_value == "Project Falcon ships; call [REDACTED] about [REDACTED]."
    assert v.validate("nothing to see", {}).outcome == "pass"


def test_regex_deny_case_insensitive_and_custom_replacement(make: Any) -> None:
    v = make("regex_deny", patterns=[r"secret"], flags=["IGNORECASE"], replacement="***")
    res = v.validate("A SECRET and a Secret", {})
    assert res.fix_value == "A *** and a ***"
    assert len(res.error_spans) == 2


def test_regex_deny_ignores_empty_matches(make: Any) -> None:
    v = make("regex_deny", patterns=[r"x*"])
    assert v.validate("abc", {}).outcome == "pass"
    assert v.validate("axxb", {}).fix_value == "a[REDACTED]b"
