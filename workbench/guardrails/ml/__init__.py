"""ML guardrail checks on the MiniLM encoder with small trained heads.

One MiniLM forward pass per text (:class:`~workbench.guardrails.ml.encoder.Featurizer`)
gives both the sentence embedding (classifier heads, topic similarity) and the token
states (PII tagger). :class:`LocalScorer` serves them in-process (thread-safe, batched,
cached by text hash); the gateway wraps it in a Ray Serve deployment. Heads are trained
by ``workbench guardrails train`` from :mod:`~workbench.guardrails.ml.recipes` and stored
with their manifests in ``weights/``.

Checks registered by :func:`register` (the ``workbench.validators: ml`` entry point):
``prompt_injection``, ``jailbreak``, ``toxicity``, ``topic``, ``pii_ner``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.guardrails.ml.scorer import (
    EMBEDDING,
    PII_NER,
    TEXT_CLASSIFIERS,
    LocalScorer,
    Scorer,
    get_scorer,
)

if TYPE_CHECKING:
    from workbench.guardrails._registry import CheckRegistry

#: check name -> (classifiers the engine precomputes, stages)
ML_CHECKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "prompt_injection": (("prompt_injection",), ("input",)),
    "jailbreak": (("jailbreak",), ("input",)),
    "toxicity": (("toxicity",), ("input", "output")),
    "topic": ((EMBEDDING,), ("input", "output")),
    "pii_ner": ((PII_NER,), ("input", "output")),
}


def register(registry: CheckRegistry) -> None:
    """Add the ML checks to ``registry`` (``kind="ml"``)."""
    from workbench.guardrails.ml.validators import VALIDATORS

    for cls in VALIDATORS:
        classifiers, stages = ML_CHECKS[cls.check_name]

        def build(params: Any, cls: Any = cls) -> Any:
            return cls(params)

        doc = (cls.__doc__ or "").strip().splitlines()[0]
        build.__doc__ = doc
        registry.check(
            cls.check_name,
            params=cls.params_model,
            kind="ml",
            stages=stages,
            classifiers=classifiers,
            can_fix=cls.check_name == "pii_ner",
            description=doc,
        )(build)


__all__ = [
    "EMBEDDING",
    "ML_CHECKS",
    "PII_NER",
    "TEXT_CLASSIFIERS",
    "LocalScorer",
    "Scorer",
    "get_scorer",
    "register",
]
