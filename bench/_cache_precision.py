"""fp32 vs int8 MiniLM for the semantic cache, side by side on the paraphrase set.

Both graphs are measured at one threshold: the one the tune rule chooses with fp32 (the
graph the threshold and the rules were designed on; the policy default). It is not
chosen again for int8: what the tune rule would choose under int8 is printed for
information only, and nothing is ever chosen on the eval splits. Each split is played in
its own index with each graph (``bench._cache_quality.play``); the int8 encoder runs one
text per pass, as the cache's does (``workbench/cache/_index_encoder.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench._cache_data import EVAL_SPLITS, load
from bench._cache_quality import MAX_RATE, Outcome, choose_threshold, outcome, play

Encode = Callable[[list[str]], np.ndarray]
SPLITS = ("tune", *EVAL_SPLITS)
NAMES = {"tune": "tune", "eval": "eval (SEEN)", "eval2": "eval2 (fresh)"}
MODES = {"+ second stage": True, "cosine only": False}


def compare(
    encoders: dict[str, Encode], threshold: float
) -> tuple[dict[str, dict[str, dict[str, Outcome]]], dict[str, float]]:
    """Per graph, per split, per mode: the outcome at ``threshold``; and per graph the
    threshold the tune rule would choose (information only)."""
    table: dict[str, dict[str, dict[str, Outcome]]] = {}
    tune_choice: dict[str, float] = {}
    for name, encode in encoders.items():
        played = {split: play(load(split), encode) for split in SPLITS}
        tune_choice[name] = choose_threshold(played["tune"])[0]
        table[name] = {
            split: {m: outcome(p, "semantic", threshold, second) for m, second in MODES.items()}
            for split, p in played.items()
        }
    return table, tune_choice


def vector_agreement(encoders: dict[str, Encode], texts: list[str]) -> tuple[float, float]:
    """Min and median cosine between the first two graphs' vectors of ``texts``."""
    a, b = (enc(texts) for enc in list(encoders.values())[:2])
    cos = np.sum(a * b, axis=1)
    return float(cos.min()), float(np.median(cos))


def _cell(o: Outcome) -> str:
    return f"{o.hit_rate:>7.1%}{o.wrong:>6}{o.false_hit_rate:>7.1%} ({o.false:>3}/{o.near_misses})"


def report(encoders: dict[str, Encode], threshold: float) -> bool:
    """Print the side-by-side table; True when every graph keeps the eval false-hit rate
    (second stage on) at most 1% on every eval split."""
    table, tune_choice = compare(encoders, threshold)
    names = list(encoders)
    print(f"\n== fp32 vs int8 MiniLM vectors, side by side, at {threshold:.2f} (chosen on the "
          "TUNE half with fp32; not re-chosen for int8) ==")  # fmt: skip
    head = f"{'hit':>7}{'wrong':>6}{'false-hit rate':>18}"
    print(f"  {'split, mode':<32}" + "".join(f"{n:<33}" for n in names))
    print(f"  {'':<32}" + f"{head:<33}" * len(names))
    for mode in MODES:
        for split in SPLITS:
            cells = "".join(f"{_cell(table[n][split][mode]):<33}" for n in names)
            print(f"  {NAMES[split] + ', ' + mode:<32}{cells}")
    for n in names:
        for split in SPLITS:
            o = table[n][split]["+ second stage"]
            if o.false:
                tags = ", ".join(f"{k} {v}" for k, v in sorted(o.false_by_tag.items()))
                print(f"    {n}, {NAMES[split]}, + second stage: false hits by kind: {tags}")
    choices = ", ".join(f"{n} {t:.2f}" for n, t in tune_choice.items())
    print(f"  the tune rule's own choice per graph (information only, not applied): {choices}")
    lo, mid = vector_agreement(encoders, [p.b for p in load("tune")[:100]])
    print(f"  cosine between {names[0]} and {names[1]} vectors of 100 tune texts: min {lo:.4f}, "
          f"median {mid:.4f}")  # fmt: skip
    ok = all(
        table[n][s]["+ second stage"].false_hit_rate <= MAX_RATE for n in names for s in EVAL_SPLITS
    )
    for n in names:
        rates = ", ".join(
            f"{NAMES[s]} {table[n][s]['+ second stage'].false_hit_rate:.1%}" for s in EVAL_SPLITS
        )
        good = all(table[n][s]["+ second stage"].false_hit_rate <= MAX_RATE for s in EVAL_SPLITS)
        print(f"  {n}: eval false-hit rate <= {MAX_RATE:.0%} on every eval split: "
              f"{'yes' if good else 'NO'} ({rates})")  # fmt: skip
    return ok


__all__ = ["compare", "report", "vector_agreement"]
