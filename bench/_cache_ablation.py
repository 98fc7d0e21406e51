"""Second-stage ablation on the TUNE half of the paraphrase set.

For each rule of :data:`workbench.cache.match.RULES`: the tune half served at a threshold with
every rule, with that one rule left out, and with no second stage at all; hit rate
(paraphrases served their own entry) and false hits (near misses served anything), by
what the near miss changes. The eval half is never read here.
"""

from __future__ import annotations

from collections.abc import Collection

from bench._cache_quality import Outcome, Played
from workbench.cache.match import RULES, Signature, second_stage, signature


def _outcome(played: Played, threshold: float, rules: Collection[str] | None) -> Outcome:
    """:func:`bench._cache_quality.outcome` (semantic mode) with a chosen rule set
    (``None``: no second stage)."""
    out = Outcome("semantic")
    sigs: dict[str, Signature] = {}

    def sig(text: str) -> Signature:
        if text not in sigs:
            sigs[text] = signature(text)
        return sigs[text]

    for pair, cands in zip(played.pairs, played.candidates, strict=True):
        served = None
        for c in cands:
            if c.similarity < threshold:
                break
            if rules is None or second_stage(sig(pair.b), sig(c.text), rules):
                served = c.text
                break
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


def ablation(tune: Played, threshold: float) -> list[tuple[str, Outcome]]:
    """Rows: every rule, each rule left out, no second stage."""
    rows = [("all rules", _outcome(tune, threshold, RULES))]
    for rule in RULES:
        rows.append((f"without {rule}", _outcome(tune, threshold, [r for r in RULES if r != rule])))
    rows.append(("cosine only", _outcome(tune, threshold, None)))
    return rows


def report(tune: Played, thresholds: list[float]) -> None:
    """Print the ablation table at each threshold."""
    for t in thresholds:
        print(f"TUNE half at {t:.2f}, second-stage ablation (a rule's effect = its row vs "
              f"'all rules'):")  # fmt: skip
        print(f"  {'rules':<24}{'hit rate':>9}{'right':>7}{'wrong':>7}{'false':>7}  by tag")
        for label, o in ablation(tune, t):
            tags = ", ".join(f"{k} {v}" for k, v in sorted(o.false_by_tag.items())) or "-"
            print(f"  {label:<24}{o.hit_rate:>9.1%}{o.right:>7}{o.wrong:>7}{o.false:>7}  {tags}")


__all__ = ["ablation", "report"]
