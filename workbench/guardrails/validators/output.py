"""Output-stage checks: ``system_prompt_leak`` and ``refusal``.

``system_prompt_leak`` is our own rather than guardrails-ai-detect-system-prompt-leakage,
which scores ``fuzz.ratio(output, system_prompt)`` over the whole strings: a long answer
that quotes the whole prompt scores low, and it gives no span to remove. We count the
prompt's word n-grams that reappear in the output and the longest copied run.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

from guardrails.validators import register_validator
from pydantic import Field

from workbench.guardrails.validators._base import (
    CheapValidator,
    Params,
    Result,
    SpanT,
    fail,
    ok,
    remove_spans,
    request_of,
)

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=128)
def _prompt_ngrams(prompt: str, n: int) -> tuple[frozenset[tuple[str, ...]], frozenset[str]]:
    """The prompt's word n-grams and its vocabulary (cached: system prompts repeat)."""
    words = [w.casefold() for w in _WORD.findall(prompt)]
    grams = frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return grams, frozenset(words)


def leak_runs(output: str, prompt: str, n: int) -> tuple[list[tuple[int, int, int]], float]:
    """Copied runs ``(char_start, char_end, words)`` of ``prompt`` in ``output``, and the
    share of the prompt's word ``n``-grams that occur in ``output``."""
    grams, vocab = _prompt_ngrams(prompt, n)
    if not grams:
        return [], 0.0
    words = [(m.start(), m.end(), m.group().casefold()) for m in _WORD.finditer(output)]
    keys = [w[2] for w in words]
    shared = [k in vocab for k in keys]
    marked = [False] * len(words)
    hits: set[tuple[str, ...]] = set()
    i, size = 0, len(keys)
    while i <= size - n:
        # An n-gram of the prompt needs n consecutive words from the prompt's vocabulary.
        if not shared[i]:
            i += 1
            continue
        j = i
        while j < size and shared[j]:
            j += 1
        for k in range(i, j - n + 1):
            g = tuple(keys[k : k + n])
            if g in grams:
                hits.add(g)
                for x in range(k, k + n):
                    marked[x] = True
        i = j
    runs: list[tuple[int, int, int]] = []
    i = 0
    while i < len(words):
        if marked[i]:
            j = i
            while j + 1 < len(words) and marked[j + 1]:
                j += 1
            runs.append((words[i][0], words[j][1], j - i + 1))
            i = j + 1
        else:
            i += 1
    return runs, len(hits) / len(grams)


class SystemPromptLeakParams(Params):
    """Params of ``system_prompt_leak``."""

    ngram: int = Field(5, ge=2, le=12, description="words per shingle")
    threshold: float = Field(0.3, gt=0, le=1, description="share of the prompt's n-grams")
    min_run_words: int = Field(15, ge=2, description="or one copied run this long")
    system_prompt: str | None = Field(
        None, description="the prompt to protect; default metadata['request']['system_prompt']"
    )


@register_validator(name="workbench/system_prompt_leak", data_type="string")
class SystemPromptLeak(CheapValidator[SystemPromptLeakParams]):
    """Fails when the output reproduces the system prompt; the fix removes copied runs."""

    check_name = "system_prompt_leak"
    params_model = SystemPromptLeakParams
    can_fix = True
    stages = ("output",)

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """n-gram overlap ratio and longest copied run against the system prompt."""
        p = self.params
        prompt = p.system_prompt or request_of(metadata).get("system_prompt") or ""
        if not isinstance(prompt, str) or not prompt.strip():
            return ok(score=0.0)
        n = min(p.ngram, len(_WORD.findall(prompt)))
        if n < 2:
            return ok(score=0.0)
        runs, ratio = leak_runs(value, prompt, n)
        longest = max((r[2] for r in runs), default=0)
        if ratio < p.threshold and longest < p.min_run_words:
            return ok(score=ratio, longest_run=longest)
        spans: list[SpanT] = [
            (s, e, f"SYSTEM_PROMPT: copies {k} words of the system prompt") for s, e, k in runs
        ]
        return fail(
            f"output reproduces the system prompt ({ratio:.0%} of its {n}-grams, "
            f"longest copied run {longest} words)",
            spans,
            fix=remove_spans(value, spans),
            score=ratio,
            longest_run=longest,
        )


_REFUSALS = {
    "en": [
        r"\bI(?:'m| am)\s+(?:so\s+|very\s+|really\s+)?(?:sorry|afraid)\b[^.!?\n]{0,40}?\b"
        r"(?:can(?:'|no)?t|cannot|won't|will not|(?:am\s+)?unable|(?:am\s+)?not able"
        r"|must decline|don't think)",
        r"\bI(?:\s+(?:can(?:'|no)t|cannot|won't|will not|must not|do not|don't)|(?:'m| am)\s+"
        r"(?:unable|not able))\s+(?:to\s+)?(?:be able to\s+)?(?:help|assist|provide|comply|fulfil|"
        r"support|engage|create|write|generate|share|give|do that|do this|answer|participate|"
        r"offer|produce)",
        r"\bI\s+(?:must|have to|need to)\s+(?:respectfully\s+)?(?:decline|refuse)",
        r"\bI(?:'m| am)\s+not\s+(?:comfortable|permitted|allowed|going to)\b",
        r"\bAs an AI(?: language model| assistant)?\b",
        r"\b(?:this|that|your) (?:request )?(?:goes against|violates|is against) (?:my|the|our|"
        r"OpenAI's) (?:guidelines|policies|policy|principles|programming|usage policies)",
        r"\bI apologi[sz]e,? but\b", r"\bI(?:'d| would) (?:rather|prefer) not\b",
        r"\b(?:It|it)(?:'s| is) not appropriate (?:for me )?to\b",
        r"\bI(?:'m| am) (?:programmed|designed) (?:not )?to\b[^.!?\n]{0,40}(?:harm|safe|ethic)",
        r"\bSorry,? (?:but )?I (?:can(?:'|no)t|cannot|won't)\b",
    ],
    "fr": [r"\bje ne (?:peux|suis pas en mesure de|vais pas) (?:pas )?(?:vous |t')?"
           r"(?:aider|fournir|répondre|faire)",
           r"\b(?:je suis )?désolée?,? (?:mais )?je ne (?:peux|pourrai)",
           r"\ben tant qu'(?:IA|intelligence artificielle)"],
    "de": [r"\bich kann (?:dir |Ihnen )?(?:dabei |damit )?nicht (?:helfen|behilflich sein)",
           r"\b(?:es )?tut mir leid,? aber ich (?:kann|darf)", r"\bals (?:eine )?KI\b"],
    "es": [r"\bno puedo (?:ayudar|proporcionar|hacer|responder|cumplir)",
           r"\blo siento,? (?:pero )?no (?:puedo|podré)", r"\bcomo (?:una )?IA\b"],
}  # fmt: skip


class RefusalParams(Params):
    """Params of ``refusal``."""

    fail_on: Literal["refusal", "compliance"] = Field(
        "refusal", description="refusal: fail on a refusal; compliance: fail unless it refuses"
    )
    languages: list[Literal["en", "fr", "de", "es"]] = ["en"]
    window: int = Field(400, ge=1, description="a single cue must occur in the first N chars")


@register_validator(name="workbench/refusal", data_type="string")
class Refusal(CheapValidator[RefusalParams]):
    """Detects refusals ("I can't help with that", "As an AI ..."), or requires one."""

    check_name = "refusal"
    params_model = RefusalParams
    stages = ("output",)

    def setup(self, params: RefusalParams) -> None:
        """One regex for the chosen languages."""
        pats = [p for lang in params.languages for p in _REFUSALS[lang]]
        self._rx = re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """A refusal is one cue in the first ``window`` chars, or two anywhere."""
        hits = [(m.start(), m.end()) for m in self._rx.finditer(value)]
        refused = bool(hits) and (hits[0][0] < self.params.window or len(hits) >= 2)
        score = 1.0 if refused else 0.0
        if self.params.fail_on == "refusal":
            if not refused:
                return ok(score=score, refusal=False)
            return fail(
                "the response is a refusal",
                [(s, e, "REFUSAL") for s, e in hits],
                score=score,
                refusal=True,
            )
        if refused:
            return ok(score=score, refusal=True)
        return fail("expected a refusal, the response complies", score=score, refusal=False)


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (SystemPromptLeak, Refusal)
