"""``unicode_safety``: invisible/zero-width/bidi/tag characters and homoglyph words.

Hidden-character tricks (ASCII smuggling through Unicode tag characters, bidi overrides
that reorder what a reviewer sees, zero-width characters that split filtered words) and
look-alike letters (Cyrillic/Greek inside Latin words, fullwidth or mathematical letters).
The fix strips the invisibles and maps confusable letters to ASCII. No hub equivalent.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from guardrails.validators import register_validator
from pydantic import Field

from workbench.guardrails.validators._base import (
    CheapValidator,
    Params,
    Result,
    SpanT,
    fail,
    ok,
    replace_spans,
)

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef]+"
)
# Legitimate between two non-ASCII characters: ZWNJ/ZWJ (emoji sequences, Indic and
# Persian scripts) and ZWSP (the word separator of Khmer, Thai, Lao, Myanmar, Tibetan).
_JOINERS = frozenset("\u200b\u200c\u200d")
_WORD = re.compile(r"[^\W\d_]+")

_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "о": "o", "р": "p", "с": "c", "у": "y",
    "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ь": "b", "ү": "y", "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O",
    "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q",
    "Ԝ": "W", "Ү": "Y",
    # Greek
    "α": "a", "γ": "y", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I",
    "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip


def _script(ch: str) -> str:
    cp = ord(ch)
    if ch.isascii() or 0xC0 <= cp <= 0x24F or 0x1E00 <= cp <= 0x1EFF:
        return "latin"
    if 0x400 <= cp <= 0x52F:
        return "cyrillic"
    if 0x370 <= cp <= 0x3FF or 0x1F00 <= cp <= 0x1FFF:
        return "greek"
    if 0xFF21 <= cp <= 0xFF5A or 0x1D400 <= cp <= 0x1D7FF:
        return "compat"
    return "other"


def _describe(ch: str) -> str:
    cp = ord(ch)
    if 0xE0000 <= cp <= 0xE007F:
        return "tag character"
    if 0x202A <= cp <= 0x202E or 0x2066 <= cp <= 0x2069 or ch in "\u200e\u200f\u061c":
        return "bidi control"
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:
        return "variation selector"
    if unicodedata.category(ch) == "Cc":
        return "control character"
    return "zero-width/invisible character"


def _to_ascii(word: str) -> str:
    out = []
    for ch in word:
        if ch in _CONFUSABLES:
            out.append(_CONFUSABLES[ch])
        elif _script(ch) == "compat":
            out.append(unicodedata.normalize("NFKC", ch))
        else:
            out.append(ch)
    return "".join(out)


class UnicodeSafetyParams(Params):
    """Params of ``unicode_safety``."""

    invisible: bool = Field(True, description="flag zero-width, bidi, tag, control characters")
    homoglyphs: bool = Field(True, description="flag mixed-script and look-alike words")
    allow_joiners: bool = Field(
        True,
        description="allow a single ZWJ/ZWNJ/ZWSP/variation selector between non-ASCII "
        "characters (emoji sequences; Indic, Persian, Khmer, Thai scripts)",
    )


@register_validator(name="workbench/unicode_safety", data_type="string")
class UnicodeSafety(CheapValidator[UnicodeSafetyParams]):
    """Fails on hidden characters and homoglyph words; the fix cleans both."""

    check_name = "unicode_safety"
    params_model = UnicodeSafetyParams
    can_fix = True

    def _benign(self, value: str, s: int, e: int) -> bool:
        if not self.params.allow_joiners or e - s != 1:
            return False
        ch = value[s]
        joiner = ch in _JOINERS or 0xFE00 <= ord(ch) <= 0xFE0F
        before = value[s - 1] if s else ""
        after = value[e] if e < len(value) else ""
        if ch == "\ufeff" and s == 0:
            return True
        return (
            joiner
            and bool(before)
            and not before.isascii()
            and (ch not in _JOINERS or (bool(after) and not after.isascii()))
        )

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Scan for invisibles, then (non-ASCII text only) for homoglyph words."""
        spans: list[SpanT] = []
        fixes: dict[int, str] = {}
        hidden = []
        if self.params.invisible:
            for m in _INVISIBLE.finditer(value):
                s, e = m.span()
                if self._benign(value, s, e):
                    continue
                kinds = sorted({_describe(ch) for ch in m.group()})
                codes = " ".join(f"U+{ord(ch):04X}" for ch in m.group()[:4])
                more = "…" if e - s > 4 else ""
                spans.append((s, e, f"INVISIBLE: {', '.join(kinds)} ({codes}{more})"))
                fixes[s] = ""
                hidden += [
                    chr(ord(ch) - 0xE0000) for ch in m.group() if 0xE0020 <= ord(ch) <= 0xE007E
                ]
        if self.params.homoglyphs and not value.isascii():
            spans += self._homoglyphs(value, fixes)
        if not spans:
            return ok()
        spans.sort()
        fixed = replace_spans(value, spans, lambda t, sp: fixes.get(sp[0], t))
        meta: dict[str, Any] = {}
        if hidden:
            meta["hidden_text"] = "".join(hidden)
        return fail(
            f"{len(spans)} unsafe Unicode sequence(s): " + "; ".join(r for _, _, r in spans[:3]),
            spans,
            fix=fixed,
            **meta,
        )

    def _homoglyphs(self, value: str, fixes: dict[int, str]) -> list[SpanT]:
        spans: list[SpanT] = []
        words = [(m.start(), m.group()) for m in _WORD.finditer(value)]
        latin = sum(len(w) for _, w in words if w.isascii())
        mostly_latin = latin >= 0.8 * max(1, sum(len(w) for _, w in words))
        for i, (start, w) in enumerate(words):
            if w.isascii():
                continue
            scripts = {_script(ch) for ch in w}
            reason = None
            if "compat" in scripts:
                reason = "HOMOGLYPH: fullwidth/mathematical look-alike letters"
            elif "latin" in scripts and scripts & {"cyrillic", "greek"}:
                reason = "HOMOGLYPH: mixed-script word (" + "/".join(sorted(scripts)) + ")"
            elif (
                mostly_latin
                and scripts <= {"cyrillic", "greek"}
                and all(ch in _CONFUSABLES for ch in w)
                and all(words[j][1].isascii() for j in (i - 1, i + 1) if 0 <= j < len(words))
            ):  # a lone look-alike word among Latin words (not a quoted Greek phrase)
                reason = (
                    "HOMOGLYPH: look-alike word in a Latin text (" + "/".join(sorted(scripts)) + ")"
                )
            if reason:
                spans.append((start, start + len(w), reason))
                fixes[start] = _to_ascii(w)
        return spans


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (UnicodeSafety,)
