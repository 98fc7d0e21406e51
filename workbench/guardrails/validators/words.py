"""Word-list checks: ``banned_words`` (with fuzzy/evasion matching) and ``keyword_list``.

Not delegated to guardrails-ai-ban-list: it fuzzy-searches the text with all spaces
removed, so short banned words match across word boundaries ("ass" in "a salad"), its
spans are shifted by one character, and it has no case/l33t handling. Nor to
guardrails-ai-competitor-check, which needs a spaCy model download at run time.
Fuzzy distances use ``rapidfuzz`` (C++ Levenshtein). A correctly spelt word one edit away
from a banned word is not flagged when it is a whole word of the MiniLM vocabulary (~21k
English words) or listed in ``allow_words``; rarer words can still be ("idiom" ~ "idiot").
"""

from __future__ import annotations

import re
from typing import Any

from guardrails.validators import register_validator
from pydantic import Field, field_validator
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from workbench.guardrails.validators._base import (
    CheapValidator,
    Params,
    Result,
    SpanT,
    fail,
    ok,
    replace_spans,
    trie_pattern,
)
from workbench.guardrails.validators._tokenizer import vocab_words


def _clean(words: list[str]) -> list[str]:
    out = [" ".join(w.split()) for w in words]
    out = [w for w in out if w]
    if not out:
        raise ValueError("needs at least one non-empty word")
    return out


# Look-alike characters folded onto one letter (l and 1 both fold to i).
_LEET = str.maketrans(
    {"0": "o", "1": "i", "!": "i", "|": "i", "l": "i", "3": "e", "4": "a", "@": "a",
     "5": "s", "$": "s", "7": "t", "+": "t", "8": "b", "9": "g", "€": "e"}
)  # fmt: skip
_TOKEN = re.compile(r"[\w@$!|+*€]+")
_EDGE = "!|+*"
_SPACED = re.compile(r"(?<![\w@$])[\w@$!|€](?:[\s.\-_*·,]{1,3}[\w@$!|€](?![\w@$])){2,}")
_SEPS = re.compile(r"[\s.\-_*·,]+")
_RUN = re.compile(r"(.)\1{2,}")
_SUFFIXES = ("ing", "ers", "er", "ed", "es", "s", "y")
_MISSING = object()
_CACHE_SIZE = 50_000


class BannedWordsParams(Params):
    """Params of ``banned_words``."""

    words: list[str] = Field(min_length=1, description="words or phrases to ban")
    fuzzy: bool = Field(False, description="also catch misspellings, l33t and spacing")
    max_distance: int = Field(1, ge=0, le=3, description="Levenshtein distance when fuzzy")
    min_fuzzy_length: int = Field(5, ge=1, description="only words this long match fuzzily")
    case_insensitive: bool = True
    mask: str = Field("*", min_length=1, max_length=1, description="fix: mask character")

    skip_dictionary_words: bool = Field(
        True, description="fuzzy: never flag a correctly spelt dictionary word (pitch ~ bitch)"
    )
    allow_words: list[str] = Field(
        default_factory=list, description="fuzzy: words never flagged (e.g. 'idiom' ~ 'idiot')"
    )

    @field_validator("words")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        return _clean(v)


@register_validator(name="workbench/banned_words", data_type="string")
class BannedWords(CheapValidator[BannedWordsParams]):
    """Fails when a banned word occurs (optionally fuzzily); the fix masks it."""

    check_name = "banned_words"
    params_model = BannedWordsParams
    can_fix = True

    def setup(self, params: BannedWordsParams) -> None:
        """Build the exact-match regex and the fuzzy lookup tables once."""
        flags = re.IGNORECASE if params.case_insensitive else 0
        # Fuzzy mode finds single words token by token; the regex then covers phrases only.
        exact = [w for w in params.words if " " in w] if params.fuzzy else params.words
        self._rx: re.Pattern[str] | None = None
        if exact:
            body = trie_pattern(sorted(set(exact)))
            self._rx = re.compile(rf"(?<!\w)(?:{body})(?!\w)", flags)
        self._cache: dict[str, str | None] = {}
        self._ci = params.case_insensitive
        self._canon = {self._norm(w): w for w in params.words}
        self._fuzzy = params.fuzzy
        self._d = params.max_distance
        singles = [w for w in params.words if " " not in w]
        self._skel: dict[str, str] = {}
        for w in singles:
            sk = self._skeleton(w)
            self._skel.setdefault(sk, w)
            self._skel.setdefault(_RUN.sub(r"\1", sk), w)
        self._dictionary: frozenset[str] = frozenset(w.lower() for w in params.allow_words)
        if params.fuzzy and params.skip_dictionary_words:
            banned = {w.lower() for w in singles}
            self._dictionary |= vocab_words() - banned
        longest = max((len(k) for k in self._skel), default=0)
        self._buckets: dict[int, dict[str, str]] = {}
        for n in range(1, longest + self._d + 1):
            self._buckets[n] = {
                k: w
                for k, w in self._skel.items()
                if len(w) >= params.min_fuzzy_length and abs(len(k) - n) <= self._d
            }

    def _norm(self, s: str) -> str:
        return " ".join(s.split()).lower() if self._ci else " ".join(s.split())

    def _skeleton(self, s: str) -> str:
        return (s.lower() if self._ci else s).translate(_LEET)

    def _lookup(self, token: str) -> str | None:
        """The banned word that ``token`` is an obfuscated or misspelt form of."""
        sk = self._skeleton(token)
        cands = [sk, _RUN.sub(r"\1", sk)] if _RUN.search(sk) else [sk]
        for c in cands:
            if c in self._skel:
                return self._skel[c]
            for suffix in _SUFFIXES:
                stem = c[: -len(suffix)]
                if c.endswith(suffix) and len(stem) >= (3 if suffix == "s" else 4):
                    for st in (stem, stem[:-1] if stem[-1] == stem[-2] else stem):
                        if st in self._skel:
                            return self._skel[st]
        if "*" in sk and sk.count("*") * 2 < len(sk):
            rx = re.compile(re.escape(sk).replace(r"\*", "."))
            for k, w in self._skel.items():
                if len(k) == len(sk) and rx.fullmatch(k):
                    return w
        if not self._d or token.lower() in self._dictionary:
            return None
        for c in cands:
            bucket = self._buckets.get(len(c))
            if bucket:
                best = process.extractOne(
                    c, bucket.keys(), scorer=Levenshtein.distance, score_cutoff=self._d
                )
                if best is not None:
                    return bucket[best[0]]
        return None

    def _cached(self, token: str) -> str | None:
        """:meth:`_lookup` memoised per token (prompts repeat their words)."""
        hit = self._cache.get(token, _MISSING)
        if hit is _MISSING:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            hit = self._cache[token] = self._lookup(token)
        return hit  # type: ignore[return-value]

    def _fuzzy_spans(self, value: str, taken: list[SpanT]) -> list[SpanT]:
        spans: list[SpanT] = []

        def free(s: int, e: int) -> bool:
            return not any(s < te and ts < e for ts, te, _ in taken) and not any(
                s < te and ts < e for ts, te, _ in spans
            )

        for m in _SPACED.finditer(value):
            found = self._cached(_SEPS.sub("", m.group()))
            if found and free(m.start(), m.end()):
                spans.append((m.start(), m.end(), f"BANNED_WORD: {found} (spaced out)"))
        # Look each distinct token up once; find positions only for the bad ones.
        bad: dict[str, str] = {}
        for tok in set(_TOKEN.findall(value)):
            core = tok.strip(_EDGE)
            if len(core) >= 3:
                found = self._cached(core)
                if found:
                    bad[tok] = found
        if not bad:
            return spans
        for m in _TOKEN.finditer(value):
            tok = m.group()
            if tok in bad:
                core = tok.strip(_EDGE)
                start = m.start() + len(tok) - len(tok.lstrip(_EDGE))
                if free(start, start + len(core)):
                    word = bad[tok]
                    how = (
                        "" if self._norm(core) == self._norm(word) else " (obfuscated or misspelt)"
                    )
                    spans.append((start, start + len(core), f"BANNED_WORD: {word}{how}"))
        return spans

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Exact matches, then (when fuzzy) spaced-out, l33t and misspelt forms."""
        canon = self._canon
        spans: list[SpanT] = (
            [
                (m.start(), m.end(), f"BANNED_WORD: {canon.get(self._norm(m.group()), m.group())}")
                for m in self._rx.finditer(value)
            ]
            if self._rx is not None
            else []
        )
        if self._fuzzy:
            spans += self._fuzzy_spans(value, spans)
        if not spans:
            return ok()
        spans.sort()
        words = sorted({r.split(": ", 1)[1].split(" (")[0] for _, _, r in spans})
        mask = self.params.mask
        return fail(
            f"text contains banned words: {', '.join(words)}",
            spans,
            fix=replace_spans(value, spans, lambda t, _sp: mask * len(t)),
            words=words,
        )


class KeywordListParams(Params):
    """Params of ``keyword_list``."""

    keywords: list[str] = Field(min_length=1, description="e.g. competitor names")
    case_insensitive: bool = True
    whole_word: bool = True
    replacement: str = "[REDACTED]"

    @field_validator("keywords")
    @classmethod
    def _kw(cls, v: list[str]) -> list[str]:
        return _clean(v)


@register_validator(name="workbench/keyword_list", data_type="string")
class KeywordList(CheapValidator[KeywordListParams]):
    """Fails when any keyword (e.g. a competitor) is mentioned; the fix replaces it."""

    check_name = "keyword_list"
    params_model = KeywordListParams
    can_fix = True

    def setup(self, params: KeywordListParams) -> None:
        """Compile one trie regex for all keywords."""
        body = trie_pattern(sorted(set(params.keywords)))
        if params.whole_word:
            body = rf"(?<!\w)(?:{body})(?!\w)"
        self._rx = re.compile(body, re.IGNORECASE if params.case_insensitive else 0)
        self._ci = params.case_insensitive
        self._canon = {self._norm(k): k for k in params.keywords}

    def _norm(self, s: str) -> str:
        return " ".join(s.split()).lower() if self._ci else " ".join(s.split())

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """One span per mention."""
        spans: list[SpanT] = []
        found: set[str] = set()
        for m in self._rx.finditer(value):
            kw = self._canon.get(self._norm(m.group()), m.group())
            found.add(kw)
            spans.append((m.start(), m.end(), f"KEYWORD: {kw}"))
        if not spans:
            return ok()
        names = sorted(found)
        return fail(
            f"text mentions: {', '.join(names)}",
            spans,
            fix=replace_spans(value, spans, self.params.replacement),
            keywords=names,
        )


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (BannedWords, KeywordList)
