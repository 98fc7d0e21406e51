"""The near-duplicate second stage: facts two texts must share beyond a high cosine.

:func:`signature` extracts a text's facts once; :func:`rejecting_rule` names the first
rule (in :data:`RULES` order) that two signatures break, or None; :func:`second_stage`
is its boolean. Every rule can be switched off (``rules=``) so that ``bench/cache.py``
measures each one's effect (ablation). Word lists live in :mod:`._lexicon`.

Rules
    ``numbers``      the same numbers (digits and number words) as a multiset;
    ``number_order`` with two or more numbers, the same order ("from 3 to 5", "9 instead
                     of 10");
    ``units``        the same units and currencies, and the same number-unit pairs (time
                     units and am/pm count only after a number: "3 days", not "how many
                     days");
    ``dates``        the same date and time facts (:mod:`._dates`: dates in any common
                     form, months, weekdays, holidays, seasons, times, relative days,
                     next/last/this, recurring, quarters, decades, centuries, and
                     by/before/after/until a date);
    ``negation``     the same count of negations (not, never, without, n't, ...);
    ``opposites``    no word of one whose opposite (left/right, buy/sell, enable/disable,
                     before/after, ...) or negating-prefix form (legal/illegal,
                     safe/unsafe) is in the other but not itself;
    ``colours``      the same colour words;
    ``names``        every capitalised name or acronym of one found in the other;
    ``identifiers``  the same quoted strings, code identifiers (snake_case, camelCase,
                     dotted.names, ``calls()``), URLs and e-mail addresses;
    ``slot``         not the same sentence with one content word swapped in place
                     ("agave syrup" / "maple syrup") or with content words only added
                     ("pancakes" / "pancakes with eggs");
    ``language``     no confident language mismatch (py3langid).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from workbench.cache import _lexicon as lx
from workbench.cache._dates import date_facts

RULES: tuple[str, ...] = (
    "numbers",
    "number_order",
    "units",
    "dates",
    "negation",
    "opposites",
    "colours",
    "names",
    "identifiers",
    "slot",
    "language",
)
"""Every rule, in the order they are checked (the cheap ones first, language last)."""

_TOKEN = re.compile(
    r"[$€£¥%]|°[cf]|\d+(?:[.,]\d+)*(?:(?:st|nd|rd|th)\b)?|[^\W\d_]+(?:['’][^\W\d_]+)?",
    re.UNICODE,
)
_SENTENCE_END = frozenset(".!?:\n")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s\"'<>]+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_QUOTED = re.compile(r"`([^`]+)`|\"([^\"]+)\"|“([^”]+)”|'([^'\s][^']*[^'\s])'(?!\w)")
_IDENT = re.compile(
    r"\b(?:[A-Za-z_]\w*_\w+|[a-z]+[A-Z]\w*|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Za-z_]\w*\(\))"
)


@dataclass(frozen=True)
class Signature:
    """The facts of a text that a near duplicate must share."""

    numbers: tuple[str, ...]  # in order of appearance
    dates: frozenset[str]
    units: frozenset[str]
    quantities: frozenset[str]
    negations: int
    names: frozenset[str]
    words: frozenset[str]
    tokens: tuple[str, ...]  # lower-case words in order: numbers left out, units and
    # dates in their canonical form
    colours: frozenset[str]
    identifiers: frozenset[str]
    text: str

    def names_found_in(self, other: Signature) -> bool:
        """Every name of this text occurs (any case) among the other's words."""
        return self.names <= other.words


_SHORTHAND = re.compile(r"\b([ap])\.m\.|\b(?:([qQ])([1-4])|([hH])([12]))\b")
_ORDINAL = ("", "first", "second", "third", "fourth")


def _expand(m: re.Match[str]) -> str:
    """Shorthand as it reads: "p.m." is "pm" (not a dotted identifier); "Q3" is "third
    quarter" and "H1" "first half" (not names)."""
    if m[1]:
        return m[1] + "m"
    if m[2]:
        return f"{_ORDINAL[int(m[3])]} quarter"
    return f"{_ORDINAL[int(m[5])]} half"


def _number(token: str) -> str:
    # "3rd" == 3; 1,234 == 1234 (a decimal comma reads as a separator)
    token = token.rstrip("stndrh").replace(",", "")
    if "." in token:
        token = token.rstrip("0").rstrip(".") or "0"
    return token.lstrip("0") or "0"


def _identifiers(text: str) -> tuple[frozenset[str], str]:
    """Quoted strings, URLs, e-mails and code identifiers; and the text without the
    URLs and e-mails (so their parts are not read as words or numbers again)."""
    found: set[str] = set()
    for rx in (_URL, _EMAIL):
        found |= {m.group().rstrip(".,;:!?)").lower() for m in rx.finditer(text)}
        text = rx.sub(" ", text)
    for m in _QUOTED.finditer(text):
        found.add("q:" + next(g for g in m.groups() if g is not None).strip().casefold())
    found |= {"id:" + m.group() for m in _IDENT.finditer(text)}
    return frozenset(found), text


def signature(text: str) -> Signature:
    """Extract the :class:`Signature` of ``text``."""
    identifiers, rest = _identifiers(_SHORTHAND.sub(_expand, text))
    numbers: list[str] = []
    units: set[str] = set()
    names: set[str] = set()
    quantities: set[str] = set()
    tokens: list[str] = []
    raw_words: set[str] = set()
    negations = 0
    last_number: str | None = None  # a number just before a unit makes a quantity
    last_unit: str | None = None  # a currency sign just before a number, too
    for match in _TOKEN.finditer(rest):
        tok = match.group()
        if tok[0].isdigit():
            last_number = _number(tok)
            numbers.append(last_number)
            if last_unit is not None:
                quantities.add(f"{last_number} {last_unit}")
            last_unit = None
            continue
        low = tok.lower().replace("’", "'")
        bare = low.split("'")[0] if low.endswith("'s") else low
        raw_words.add(bare)
        if low.endswith("n't") or low.replace("'", "") in lx.NEGATIONS:
            negations += 1
        if bare in lx.NUMBER_WORDS:
            numbers.append(lx.NUMBER_WORDS[bare])
        unit = lx.UNITS.get(bare) if len(bare) > 1 or not bare.isalpha() else None
        if unit is not None:
            if unit not in lx.BOUND_UNITS:
                units.add(unit)
            if last_number is not None:
                quantities.add(f"{last_number} {unit}")
        last_number, last_unit = None, unit
        if bare not in lx.NUMBER_WORDS:  # numbers are the numbers rules' business
            tokens.append(lx.DATE_WORDS.get(bare) or unit or bare)
        if tok[0].isupper() and bare != "i":
            before = rest[: match.start()].rstrip()
            initial = not before or before[-1] in _SENTENCE_END
            if (not initial or bare not in lx.COMMON) and bare not in lx.NOT_NAMES:
                names.add(bare)
    words = frozenset(raw_words)
    return Signature(
        numbers=tuple(numbers),
        dates=date_facts(rest),
        units=frozenset(units),
        quantities=frozenset(quantities),
        negations=negations,
        names=frozenset(names),
        words=words,
        tokens=tuple(tokens),
        colours=words & lx.COLOURS,
        identifiers=identifiers,
        text=text,
    )


_NEGATING_PREFIXES: tuple[tuple[str, int], ...] = (
    ("un", 4), ("non", 4), ("il", 4), ("ir", 4), ("in", 6), ("im", 6), ("dis", 6),
)  # fmt: skip
"""Prefix and the shortest word it negates ("in" + "stall" is not a negation)."""


def _opposed(a: Signature, b: Signature) -> bool:
    """A listed opposite pair, or a word and its negating-prefix form ("legal" /
    "illegal", "available" / "unavailable", "safe" / "unsafe"), split across the texts."""
    only_a, only_b = a.words - b.words, b.words - a.words
    if any(lx.OPPOSITES.get(w, frozenset()) & only_b for w in only_a):
        return True
    for x, y in ((only_a, only_b), (only_b, only_a)):
        if any(p + w in y for w in x for p, n in _NEGATING_PREFIXES if len(w) >= n):
            return True
    return False


def _new_slot(a: Signature, b: Signature) -> bool:
    """The same sentence with one content word swapped in place ("honey for agave syrup" /
    "honey for maple syrup"), or with content words only added ("pancakes" / "pancakes
    with eggs")."""
    ta, tb = a.tokens, b.tokens
    if len(ta) == len(tb) and len(ta) >= 3:
        diff = [(x, y) for x, y in zip(ta, tb, strict=True) if x != y]
        if len(diff) == 1:
            x, y = diff[0]
            content = x not in lx.FUNCTION_WORDS and y not in lx.FUNCTION_WORDS
            return content and not (x.startswith(y[:4]) or y.startswith(x[:4]))
        return False
    shorter, longer = (ta, tb) if len(ta) < len(tb) else (tb, ta)
    if len(shorter) < 3 or not _is_subsequence(shorter, longer):
        return False
    added = Counter(longer) - Counter(shorter)
    return any(w not in lx.FUNCTION_WORDS and len(w) > 2 for w in added)


def _is_subsequence(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    it = iter(long)
    return all(t in it for t in short)


def _check(rule: str, a: Signature, b: Signature) -> bool:
    """Whether ``a`` and ``b`` pass one rule."""
    if rule == "numbers":
        return sorted(a.numbers) == sorted(b.numbers)
    if rule == "number_order":
        return (
            len(a.numbers) < 2 or a.numbers == b.numbers or sorted(a.numbers) != sorted(b.numbers)
        )
    if rule == "units":
        if a.units != b.units:
            return False
        return a.quantities == b.quantities or not (a.quantities and b.quantities)
    if rule == "dates":
        return a.dates == b.dates
    if rule == "negation":
        return a.negations == b.negations
    if rule == "opposites":
        return not _opposed(a, b)
    if rule == "colours":
        return a.colours == b.colours
    if rule == "names":
        return a.names_found_in(b) and b.names_found_in(a)
    if rule == "identifiers":
        return a.identifiers == b.identifiers
    if rule == "slot":
        return not _new_slot(a, b)
    if rule == "language":
        la, lb = _language(a.text), _language(b.text)
        return la is None or lb is None or la == lb
    raise ValueError(f"unknown second-stage rule {rule!r}; known: {', '.join(RULES)}")


def rejecting_rule(
    a: Signature | str, b: Signature | str, rules: Collection[str] | None = None
) -> str | None:
    """The first rule of ``rules`` (default: all of :data:`RULES`) that ``a`` and ``b``
    break, or None when they pass them all."""
    sa = a if isinstance(a, Signature) else signature(a)
    sb = b if isinstance(b, Signature) else signature(b)
    for rule in RULES if rules is None else rules:
        if not _check(rule, sa, sb):
            return rule
    return None


def second_stage(
    a: Signature | str, b: Signature | str, rules: Collection[str] | None = None
) -> bool:
    """Whether two texts pass every second-stage rule (or every one of ``rules``)."""
    return rejecting_rule(a, b, rules) is None


_LANG_LOCK = threading.Lock()
_LANG_ID: Any = None
_LANG_MIN_LETTERS = 20
_LANG_MIN_PROB = 0.9


def _language(text: str) -> str | None:
    """Confident language of ``text`` (py3langid), None when short or unsure."""
    global _LANG_ID
    letters = sum(c.isalpha() for c in text)
    if letters < _LANG_MIN_LETTERS:
        return None
    if _LANG_ID is None:
        with _LANG_LOCK:
            if _LANG_ID is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _LANG_ID = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    lang, prob = _LANG_ID.classify(text)
    return str(lang) if prob >= _LANG_MIN_PROB else None


__all__ = ["RULES", "Signature", "rejecting_rule", "second_stage", "signature"]
