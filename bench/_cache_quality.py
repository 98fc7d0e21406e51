"""Semantic-cache quality on the paraphrase set: the threshold from the tune half, then
hit and false-hit rates on the eval-only splits (``eval``, seen; ``eval2``, fresh) for
off / exact / semantic (cosine only) / semantic + second stage.

Each half is played through the real index (:class:`LocalSemanticIndex`, one scope): every
row's ``a`` is cached, then every ``b`` is looked up (``k`` = 4 neighbours) and served the
first neighbour the rule accepts, exactly as the cache's lookup stage does. A
paraphrase is *served right* when the served entry's text is its own ``a``; serving any
other entry is a *wrong hit*. A near miss served anything other than its own text is a
*false hit*.

Threshold rule (tune half only, with the second stage, i.e. the default settings): the
target translated to the tune half: the threshold with the most right hits among those
whose tune false-hit rate (near misses served) and wrong-hit rate (paraphrases served
another entry) are both at most 1%; ties go to the higher threshold. The eval splits are
measured at that threshold; nothing is chosen on them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bench._cache_data import EVAL_SPLITS, Pair, load
from workbench.cache import exact_key, second_stage, signature
from workbench.cache._types import Candidate
from workbench.cache.semantic import LocalSemanticIndex

MAX_RATE = 0.01
GRID = [round(t, 2) for t in np.arange(0.60, 0.991, 0.01)]
K = 4
SCOPE = "scope:bench"


@dataclass
class Played:
    """One half looked up once: each pair with its neighbours."""

    pairs: list[Pair]
    candidates: list[list[Candidate]]


@dataclass
class Outcome:
    """What a mode served on one half."""

    mode: str
    paraphrases: int = 0
    near_misses: int = 0
    right: int = 0
    wrong: int = 0  # a paraphrase served another entry
    false: int = 0  # a near miss served anything
    false_by_tag: Counter[str] = field(default_factory=Counter)

    @property
    def hit_rate(self) -> float:
        return self.right / max(self.paraphrases, 1)

    @property
    def wrong_rate(self) -> float:
        return self.wrong / max(self.paraphrases, 1)

    @property
    def false_hit_rate(self) -> float:
        return self.false / max(self.near_misses, 1)


def play(pairs: list[Pair], encode: Callable[[list[str]], np.ndarray]) -> Played:
    """Cache every ``a`` in a fresh in-memory index, look up every ``b``."""
    vecs = encode([p.a for p in pairs] + [p.b for p in pairs])
    va, vb = vecs[: len(pairs)], vecs[len(pairs) :]
    index = LocalSemanticIndex(encode, persist=False)
    index.add_vectors(
        SCOPE, [p.a for p in pairs], [p.id for p in pairs],
        np.full(len(pairs), 4e9), va,
    )  # fmt: skip
    return Played(pairs, [index.lookup_vector(SCOPE, v, K) for v in vb])


def outcome(played: Played, mode: str, threshold: float, use_second: bool) -> Outcome:
    """Serve every lookup of ``played`` under one mode."""
    out = Outcome(mode)
    sigs: dict[str, object] = {}

    def sig(text: str) -> object:
        if text not in sigs:
            sigs[text] = signature(text)
        return sigs[text]

    for pair, cands in zip(played.pairs, played.candidates, strict=True):
        served = _served(pair, cands, mode, threshold, use_second, sig)
        if pair.should_hit:
            out.paraphrases += 1
            if served is not None:
                ok = served.casefold() == pair.a.casefold()
                out.right += ok
                out.wrong += not ok
        else:
            out.near_misses += 1
            if served is not None and served.casefold() != pair.b.casefold():
                out.false += 1
                out.false_by_tag[str(pair.differs)] += 1
    return out


def _served(
    pair: Pair,
    cands: Sequence[Candidate],
    mode: str,
    threshold: float,
    use_second: bool,
    sig: Callable[[str], object],
) -> str | None:
    if mode == "off":
        return None
    if mode == "exact":  # the exact key of b equals a's only for the same request
        key_b = _key(pair.b)
        return next((c.text for c in cands if _key(c.text) == key_b), None)
    for c in cands:
        if c.similarity < threshold:
            break
        if not use_second or second_stage(sig(pair.b), sig(c.text)):  # type: ignore[arg-type]
            return c.text
    return None


def _key(text: str) -> str:
    body = {"model": "m", "temperature": 0, "messages": [{"role": "user", "content": text}]}
    return exact_key(body, model="m", workspace="w", policy_hash="p")


def choose_threshold(tune: Played) -> tuple[float, list[tuple[float, Outcome]]]:
    """The tune-half rule (module docstring): threshold and the grid it was chosen on."""
    grid = [(t, outcome(tune, "semantic", t, True)) for t in GRID]
    clean = [(t, o) for t, o in grid if o.false_hit_rate <= MAX_RATE and o.wrong_rate <= MAX_RATE]
    if not clean:
        return GRID[-1], grid
    best = max(o.right for _, o in clean)
    return max(t for t, o in clean if o.right == best), grid


def evaluate(
    encode: Callable[[list[str]], np.ndarray], default_threshold: float
) -> dict[str, object]:
    """Choose on tune, then measure every eval-only split (``eval``, seen; ``eval2``,
    fresh) at that threshold: every figure the report prints. Each split is played in its
    own index."""
    tune = play(load("tune"), encode)
    chosen, grid = choose_threshold(tune)
    measured = {split: play(load(split), encode) for split in EVAL_SPLITS}
    modes = {
        "off": ("off", True),
        "exact": ("exact", True),
        "semantic, cosine only": ("semantic", False),
        "semantic + second stage": ("semantic", True),
    }
    at_chosen = {
        label: {s: outcome(p, mode, chosen, second) for s, p in measured.items()}
        for label, (mode, second) in modes.items()
    }
    at_default = {
        label: {s: outcome(p, "semantic", default_threshold, second) for s, p in measured.items()}
        for label, second in (("cosine only", False), ("+ second stage", True))
    }
    tune_at = dict(grid)[chosen]
    return {"chosen": chosen, "tune": tune_at, "eval": at_chosen, "at_default": at_default,
            "default_threshold": default_threshold, "grid": grid}  # fmt: skip


__all__ = ["GRID", "Outcome", "Played", "choose_threshold", "evaluate", "outcome", "play"]
