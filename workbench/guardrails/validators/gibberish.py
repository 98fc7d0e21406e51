"""``gibberish``: a statistical keyboard-mashing / nonsense detector (no model download).

Score in [0, 1] from, on the text with code, URLs, e-mail addresses and digit-bearing
tokens removed:

- the share (by characters) of words of 3+ letters that are whole words of the MiniLM
  WordPiece vocabulary (with common suffixes stripped);
- how unpronounceable the out-of-vocabulary words are: their mean letter-bigram
  log-probability under a bigram model fitted once on that vocabulary ("qwfzkt" is far
  below real words and names);
- the share of the text made of a short unit repeated 3+ times ("asdasdasd", "l;l;l;l;");
- the language detector's verdict: py3langid's ``zxx`` ("no linguistic content") raises
  the score, a confident non-English language halves it (the vocabulary is English).

Tuned on the train-role sets (toxicity_surge texts and prompt_injection_train, English and
German) against synthetic keyboard mashing: at the default threshold 0.5, 2 of 1,546 real
texts and 447 of 500 mashes (all misses under 12 letters, which is the ``min_letters``
default) are flagged. The hub's gibberish-text validator needs a model download.
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any

from guardrails.validators import register_validator
from pydantic import Field

from workbench.guardrails.validators._base import CheapValidator, Params, Result, fail, ok
from workbench.guardrails.validators._tokenizer import vocab_words
from workbench.guardrails.validators.language import (
    detect_language,
    sample_letters,
    strip_noise,
)

_ALPHA = "abcdefghijklmnopqrstuvwxyz"
_SUFFIXES = ("ing", "ed", "es", "s", "ly", "er", "ers", "est")
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_REPEAT = re.compile(r"((?=\S{0,5}[a-z])\S{2,6}?)\1{2,}")
_PUNCT = ".,;:!?\"'()[]"
_lock = threading.Lock()
_model: tuple[frozenset[str], dict[str, float]] | None = None


def _load() -> tuple[frozenset[str], dict[str, float]]:
    """The vocabulary and the letter-bigram log-probabilities fitted on it (once)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                vocab = vocab_words()
                counts = {a: dict.fromkeys(_ALPHA + "$", 1.0) for a in "^" + _ALPHA}
                for w in vocab:
                    if w.isascii():
                        s = "^" + w + "$"
                        for a, b in zip(s, s[1:], strict=False):
                            if a in counts and b in counts[a]:
                                counts[a][b] += 1
                logp = {}
                for a, row in counts.items():
                    total = sum(row.values())
                    for b, n in row.items():
                        logp[a + b] = math.log(n / total)
                _model = (vocab, logp)
    return _model


def _known(word: str, vocab: frozenset[str]) -> bool:
    if word in vocab:
        return True
    return any(word.endswith(s) and word[: -len(s)] in vocab for s in _SUFFIXES)


def _mean_logp(word: str, logp: dict[str, float]) -> float:
    s = "^" + word + "$"
    return sum(logp.get(s[i : i + 2], -8.0) for i in range(len(s) - 1)) / (len(s) - 1)


def gibberish_score(text: str, min_letters: int = 12) -> float:
    """Gibberish score of ``text`` in [0, 1] (0 for texts too short to judge).

    Texts over 4,000 characters are judged on their first and last 2,000.
    """
    vocab, logp = _load()
    if len(text) > 4000:
        text = text[:2000] + " " + text[-2000:]
    clean = strip_noise(text)
    words = [w.lower() for w in _WORD.findall(clean) if len(w) >= 3]
    letters = sum(len(w) for w in words)
    low = clean.lower()
    rep = 0
    for tok in low.split():
        if len(tok) >= 6 and tok.strip(_PUNCT) not in vocab:
            rep += sum(len(m.group()) for m in _REPEAT.finditer(tok))
    if letters < min_letters and not rep:
        return 0.0
    known = mash = 0.0
    for w in words:
        if _known(w, vocab):
            known += len(w)
        else:
            mash += len(w) * min(1.0, max(0.0, -_mean_logp(w, logp) - 3.0))
    total = max(letters, 1)
    dense = max(1, len(low) - low.count(" "))
    score = 0.25 * (1 - known / total) + mash / total + 1.5 * rep / dense
    if score >= 0.25:
        lang, prob = detect_language(sample_letters(clean))
        if lang == "zxx":
            score = max(score, prob)
        elif lang != "en" and prob >= 0.9:
            score *= 0.5
    return min(1.0, score)


class GibberishParams(Params):
    """Params of ``gibberish``."""

    threshold: float = Field(0.5, gt=0, le=1)
    min_letters: int = Field(12, ge=1, description="shorter texts are not judged (pass)")


@register_validator(name="workbench/gibberish", data_type="string")
class Gibberish(CheapValidator[GibberishParams]):
    """Fails when the gibberish score reaches ``threshold``."""

    check_name = "gibberish"
    params_model = GibberishParams

    def setup(self, params: GibberishParams) -> None:
        """Fit the bigram model now, not on the first request."""
        _load()

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Score and compare."""
        score = gibberish_score(value, self.params.min_letters)
        if score < self.params.threshold:
            return ok(score=score)
        return fail(
            f"text looks like gibberish (score {score:.2f} >= {self.params.threshold})",
            [(0, len(value), "GIBBERISH")],
            score=score,
        )


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (Gibberish,)
