"""Regular-expression checks: ``regex_match`` (must match) and ``regex_deny`` (must not).

Not delegated to guardrails-ai-regex-match: it recompiles the pattern on every call, has
no flags, no spans, and its "fix" is a random string generated from the pattern (rstr).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from guardrails.validators import register_validator
from pydantic import Field, field_validator

from workbench.guardrails.validators._base import (
    CheapValidator,
    Params,
    Result,
    fail,
    ok,
    replace_spans,
)

Flag = Literal["IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE", "ASCII"]


def _flags(names: list[Flag]) -> int:
    value = 0
    for name in names:
        value |= int(getattr(re, name))
    return value


def _check_pattern(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


class RegexMatchParams(Params):
    """Params of ``regex_match``."""

    pattern: str = Field(description="Python regular expression the text must match")
    match_type: Literal["search", "fullmatch"] = "search"
    flags: list[Flag] = Field(default_factory=list)

    @field_validator("pattern")
    @classmethod
    def _compile(cls, v: str) -> str:
        return _check_pattern(v)


@register_validator(name="workbench/regex_match", data_type="string")
class RegexMatch(CheapValidator[RegexMatchParams]):
    """Fails when the text does not match ``pattern`` (search or full match)."""

    check_name = "regex_match"
    params_model = RegexMatchParams

    def setup(self, params: RegexMatchParams) -> None:
        """Compile the pattern once."""
        rx = re.compile(params.pattern, _flags(params.flags))
        self._match = rx.fullmatch if params.match_type == "fullmatch" else rx.search
        self._desc = f"{params.match_type} /{params.pattern}/"

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Pass when the pattern matches."""
        if self._match(value):
            return ok()
        return fail(f"text does not match {self._desc}")


class RegexDenyParams(Params):
    """Params of ``regex_deny``."""

    patterns: list[str] = Field(min_length=1, description="patterns that must not occur")
    flags: list[Flag] = Field(default_factory=list)
    replacement: str = "[REDACTED]"

    @field_validator("patterns")
    @classmethod
    def _compile(cls, v: list[str]) -> list[str]:
        return [_check_pattern(p) for p in v]


@register_validator(name="workbench/regex_deny", data_type="string")
class RegexDeny(CheapValidator[RegexDenyParams]):
    """Fails when any of ``patterns`` occurs; the fix replaces each match."""

    check_name = "regex_deny"
    params_model = RegexDenyParams
    can_fix = True

    def setup(self, params: RegexDenyParams) -> None:
        """Compile the patterns once."""
        flags = _flags(params.flags)
        self._rx = [(p, re.compile(p, flags)) for p in params.patterns]
        self._repl = params.replacement

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Fail on any non-empty match, with one span per match."""
        spans = [
            (m.start(), m.end(), f"DENIED_PATTERN: /{src}/")
            for src, rx in self._rx
            for m in rx.finditer(value)
            if m.end() > m.start()
        ]
        if not spans:
            return ok()
        spans.sort()
        return fail(
            f"text matches {len(spans)} denied pattern occurrence(s)",
            spans,
            fix=replace_spans(value, spans, self._repl),
        )


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (RegexMatch, RegexDeny)
