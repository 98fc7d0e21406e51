"""Accuracy rows of the guardrail-quality bench: the heads on each set, the policy's
over-blocking, for every configuration.

:class:`SharedFeaturizer` memoises encodings by text, so the OLD and NEW heads on the
same fp32 encoder pay for each text's encoder pass once (the vectors are the same; only
the heads differ); :func:`ml_entries` runs set by set and forgets the memo after each
set to bound memory. :func:`policy_entries` runs ``policies/default.yaml``'s input stage
through the real guardrail engine (:func:`workbench.analytics.evaluation.evaluate`, each
text as a user message) on XSTest safe, NotInject and WildGuard benign: "denied" is a
deny/fallback/retry decision, "touched" any decision but allow (PII redaction, flags).
Each configuration's policy runs with its own heads' thresholds
(:func:`policy_with_thresholds`), not the committed manifests'.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import _guardrails_rows as rows
from bench._guardrails_sets import EvalSets
from workbench.guardrails.ml.encoder import Encoding, Featurizer
from workbench.guardrails.ml.scorer import LocalScorer
from workbench.providers.embeddings import Embedder


class SharedFeaturizer(Featurizer):
    """A :class:`Featurizer` that remembers each text's encoding until :meth:`forget`."""

    def __init__(self, embedder: Embedder, precision: str = "fp32") -> None:
        """Wrap ``embedder`` (see :class:`Featurizer`)."""
        super().__init__(embedder, precision=precision)
        self._memo: dict[str, Encoding] = {}

    def encode(self, texts: list[str]) -> list[Encoding]:
        """Encodings of ``texts``; only texts not seen since :meth:`forget` are encoded."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            self._memo.update(zip(missing, super().encode(missing), strict=True))
        return [self._memo[t] for t in texts]

    def forget(self) -> None:
        """Drop the remembered encodings."""
        self._memo.clear()


Scorers = dict[str, LocalScorer]


def _each(
    scorers: Scorers, forget: Callable[[], None], fn: Callable[[str, LocalScorer], Any]
) -> list[Any]:
    """``fn(config, scorer)`` for every configuration, then the memo dropped."""
    out = [fn(c, s) for c, s in scorers.items()]
    forget()
    for s in scorers.values():
        s.clear_cache()
    return out


def ml_entries(
    scorers: Scorers,
    sets: EvalSets,
    forget: Callable[[], None],
    say: Callable[[str], None] = lambda _m: None,
) -> list[dict[str, Any]]:
    """Every head row of every configuration (set by set)."""
    out: list[dict[str, Any]] = []

    def pi(sc: LocalScorer, texts: list[str]) -> list[bool]:
        return rows.flagged(sc.score("prompt_injection", texts), sc.threshold("prompt_injection"))

    say("deepset test split ...")
    texts, y = sets.deepset
    for c, s in scorers.items():
        out += rows.detection(
            c, y, s.score("prompt_injection", texts), s.threshold("prompt_injection")
        )
    forget()
    say("BIPIA attacks in e-mails ...")
    fams = ("text", "code")
    for c, hits in zip(
        scorers,
        _each(scorers, forget, lambda _c, s: {f: pi(s, sets.bipia_attacks[f]) for f in fams}),
        strict=True,
    ):
        out += [rows.share(c, f"indirect_bipia_{f}", hits[f]) for f in fams]
        out.append(rows.share(c, "indirect_bipia", hits["text"] + hits["code"]))
    say("spikee injected documents ...")
    for c, hits in zip(
        scorers, _each(scorers, forget, lambda _c, s: pi(s, sets.spikee_injected)), strict=True
    ):
        out.append(rows.share(c, "indirect_spikee", hits))
    say("clean contexts ...")
    clean = sets.clean_contexts
    for c, hits in zip(
        scorers,
        _each(scorers, forget, lambda _c, s: {k: pi(s, v) for k, v in clean.items()}),
        strict=True,
    ):
        out += [rows.share(c, f"clean_{k}", v) for k, v in hits.items()]
        out.append(rows.share(c, "clean_flagged", [h for v in hits.values() for h in v]))
    say("held-out jailbreaks ...")

    def jb(_c: str, s: LocalScorer) -> list[bool]:
        return rows.flagged(s.score("jailbreak", sets.jailbreaks), s.threshold("jailbreak"))

    for c, hits in zip(scorers, _each(scorers, forget, jb), strict=True):
        out.append(rows.share(c, "jb_recall", hits))
    return out


POLICY_SETS = ("xstest_safe", "notinject", "wildguard_benign")
#: The policy validators that compare a head's score with a threshold.
CLASSIFIER_CHECKS = ("prompt_injection", "jailbreak", "toxicity")


def policy_with_thresholds(policy: Path, scorer: Any) -> Any:
    """``policy`` with every classifier check's threshold pinned to ``scorer``'s heads
    (``scorer.threshold(name)``) where the file sets none.

    Without this, a check reads its threshold from the committed manifests
    (``trained_threshold``) whatever scorer the engine was given, so the OLD heads'
    scores would be compared with the NEW thresholds."""
    from workbench.config._yamlsource import load_yaml_with_lines
    from workbench.policy import parse_policy

    raw, locate = load_yaml_with_lines(policy)
    for stage in ("input", "output"):
        for check in raw.get(stage) or []:
            if check.get("validator") in CLASSIFIER_CHECKS:
                params = dict(check.get("params") or {})
                params.setdefault("threshold", float(scorer.threshold(check["validator"])))
                check["params"] = params
    return parse_policy(raw, path=str(policy), locate=locate)


def policy_decisions(policy: Path, scorer: LocalScorer, limit: int | None) -> dict[str, list[str]]:
    """The policy's decision per item, by set (NotInject split by trigger-word count),
    with the classifier thresholds of ``scorer``'s own heads (:func:`policy_with_thresholds`)."""
    from workbench.analytics.evaluation import evaluate

    pinned = policy_with_thresholds(policy, scorer)
    res = evaluate(
        pinned, list(POLICY_SETS), scorer=scorer, limit=limit, positive="blocked", progress=False
    )
    items = res.items
    out: dict[str, list[str]] = {}
    for name in POLICY_SETS:
        part = items.filter(items["dataset"] == name)
        out[name] = [str(d) for d in part["decision"].to_list()]
        if name == "notinject":
            for n, word in ((1, "one"), (2, "two"), (3, "three")):
                sub = part.filter(part["trigger_words"] == str(n))
                out[f"notinject_{word}"] = [str(d) for d in sub["decision"].to_list()]
    return out


def policy_entries(config: str, decisions: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Denied / touched shares of one configuration's policy decisions."""
    out = rows.policy_shares(config, "xstest", decisions["xstest_safe"])
    for word in ("one", "two", "three"):
        out += rows.policy_shares(
            config, f"notinject_{word}", decisions[f"notinject_{word}"], False
        )
    out.append(
        rows.share(config, "notinject_touched", [d != "allow" for d in decisions["notinject"]])
    )
    out += rows.policy_shares(config, "wildguard", decisions["wildguard_benign"])
    return out


__all__ = [
    "CLASSIFIER_CHECKS",
    "POLICY_SETS",
    "SharedFeaturizer",
    "ml_entries",
    "policy_decisions",
    "policy_entries",
    "policy_with_thresholds",
]
