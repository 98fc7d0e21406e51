"""Shape checks: ``length``, ``case``, ``contains``, ``starts_with``, ``ends_with``.

Not delegated to the hub's valid-length / lowercase / uppercase / contains-string /
ends-with packages: they are a few lines each, count characters only, have no spans,
and ends-with compares only the last character (``value[-1] != end``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from guardrails.validators import register_validator
from pydantic import Field, model_validator

from workbench.guardrails.validators._base import CheapValidator, Params, Result, fail, ok
from workbench.guardrails.validators._tokenizer import (
    count_tokens,
    minilm_tokenizer,
    token_end_offsets,
)

_WORD = re.compile(r"\S+")
_SENT = re.compile(
    r"\S(?:[^.!?]|[.!?](?![.!?]*(?:\s|$)))*?(?:[.!?]+(?=\s|$)|(?=\n\s*\n)|$)", re.DOTALL
)


def _unit_ends(text: str, unit: str) -> list[int]:
    """End offset of each unit of ``text`` (chars are handled by the caller)."""
    if unit == "words":
        return [m.end() for m in _WORD.finditer(text)]
    if unit == "sentences":
        return [m.end() for m in _SENT.finditer(text)]
    return token_end_offsets(text)


class LengthParams(Params):
    """Params of ``length``."""

    unit: Literal["chars", "words", "sentences", "tokens"] = "chars"
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> LengthParams:
        if self.min is None and self.max is None:
            raise ValueError("set min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


@register_validator(name="workbench/length", data_type="string")
class Length(CheapValidator[LengthParams]):
    """Fails outside [min, max] chars/words/sentences/tokens; the fix truncates to max."""

    check_name = "length"
    params_model = LengthParams
    can_fix = True

    def setup(self, params: LengthParams) -> None:
        """Load the tokenizer now when counting tokens."""
        if params.unit == "tokens":
            minilm_tokenizer()

    def _within_bounds(self, value: str) -> bool:
        """Decide without tokenizing when we can: a WordPiece token covers at least one
        character, and every whitespace-separated word makes at least one token."""
        p = self.params
        max_ok = p.max is None or len(value) <= p.max
        min_ok = p.min is None or len(value.split()) >= p.min
        return max_ok and min_ok

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Count, compare, truncate."""
        p = self.params
        if p.unit == "tokens":
            if self._within_bounds(value):
                return ok()
            n = count_tokens(value)
            if (p.max is None or n <= p.max) and (p.min is None or n >= p.min):
                return ok(count=n)
        ends = None if p.unit == "chars" else _unit_ends(value, p.unit)
        n = len(value) if ends is None else len(ends)
        if p.min is not None and n < p.min:
            return fail(f"text has {n} {p.unit}, fewer than the minimum {p.min}", count=n)
        if p.max is not None and n > p.max:
            cut = p.max if ends is None else (ends[p.max - 1] if p.max else 0)
            return fail(
                f"text has {n} {p.unit}, more than the maximum {p.max}",
                [(cut, len(value), f"TOO_LONG: beyond {p.max} {p.unit}")],
                fix=value[:cut].rstrip() if ends is not None else value[:cut],
                count=n,
            )
        return ok(count=n)


_CASE_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*)([\"'(\[]*)([^\W\d_])")


def _title(w: str) -> str:
    return w[:1].upper() + w[1:].lower()


class CaseParams(Params):
    """Params of ``case``."""

    mode: Literal["lower", "upper", "title", "sentence"]


@register_validator(name="workbench/case", data_type="string")
class Case(CheapValidator[CaseParams]):
    """Fails when the text is not in the required case; the fix converts it."""

    check_name = "case"
    params_model = CaseParams
    can_fix = True

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Words (or sentence starts) not in the required case are the spans."""
        mode = self.params.mode
        spans = []
        fixed = value
        if mode == "sentence":
            chars = list(value)
            for m in _SENTENCE_START.finditer(value):
                i = m.start(2)
                if chars[i].islower():
                    chars[i] = chars[i].upper()
                    spans.append((i, i + 1, "CASE: sentence starts in lower case"))
            fixed = "".join(chars)
        else:
            conv = {"lower": str.lower, "upper": str.upper, "title": _title}[mode]
            parts, pos = [], 0
            for m in _CASE_WORD.finditer(value):
                w = m.group()
                c = conv(w)
                if c != w:
                    spans.append((m.start(), m.end(), f"CASE: not {mode} case"))
                    parts += [value[pos : m.start()], c]
                    pos = m.end()
            fixed = "".join(parts) + value[pos:]
        if not spans:
            return ok()
        return fail(f"text is not in {mode} case", spans, fix=fixed)


class _ValuesParams(Params):
    values: list[str] = Field(default_factory=list)
    value: str | None = None
    case_insensitive: bool = False

    @model_validator(mode="after")
    def _merge(self) -> _ValuesParams:
        if self.value is not None:
            self.values = [self.value, *self.values]
            self.value = None
        if not self.values or any(v == "" for v in self.values):
            raise ValueError("give `value` or a non-empty `values` list of non-empty strings")
        return self


class ContainsParams(_ValuesParams):
    """Params of ``contains``."""

    require: Literal["all", "any"] = "all"


@register_validator(name="workbench/contains", data_type="string")
class Contains(CheapValidator[ContainsParams]):
    """Fails when the text lacks the required substring(s) (all or any)."""

    check_name = "contains"
    params_model = ContainsParams

    def setup(self, params: ContainsParams) -> None:
        """Fold the needles once."""
        self._needles = [v.casefold() if params.case_insensitive else v for v in params.values]

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Substring test."""
        hay = value.casefold() if self.params.case_insensitive else value
        missing = [
            v for v, n in zip(self.params.values, self._needles, strict=True) if n not in hay
        ]
        present = len(missing) < len(self._needles)
        if not missing or (self.params.require == "any" and present):
            return ok()
        return fail(
            f"text does not contain: {', '.join(repr(m) for m in missing)}", missing=missing
        )


class AffixParams(_ValuesParams):
    """Params of ``starts_with`` / ``ends_with``: any of ``values``."""

    strip: bool = Field(True, description="ignore surrounding whitespace")


class _Affix(CheapValidator[AffixParams]):
    params_model = AffixParams
    can_fix = True
    _end = False

    def setup(self, params: AffixParams) -> None:
        """Fold the affixes once."""
        fold = str.casefold if params.case_insensitive else str
        self._affixes = tuple(fold(v) for v in params.values)
        self._fold = fold

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Test the affix; the fix adds the first value."""
        p = self.params
        text = value.strip() if p.strip else value
        folded = self._fold(text)
        hit = folded.endswith(self._affixes) if self._end else folded.startswith(self._affixes)
        if hit:
            return ok()
        word = "end" if self._end else "start"
        want = " or ".join(repr(v) for v in p.values)
        fix = text + p.values[0] if self._end else p.values[0] + text
        return fail(f"text does not {word} with {want}", fix=fix)


@register_validator(name="workbench/starts_with", data_type="string")
class StartsWith(_Affix):
    """Fails unless the text starts with one of the values; the fix prepends the first."""

    check_name = "starts_with"


@register_validator(name="workbench/ends_with", data_type="string")
class EndsWith(_Affix):
    """Fails unless the text ends with one of the values; the fix appends the first."""

    check_name = "ends_with"
    _end = True


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (Length, Case, Contains, StartsWith, EndsWith)
