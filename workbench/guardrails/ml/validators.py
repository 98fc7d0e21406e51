"""The ML checks as guardrails-ai Validators (``workbench/<name>``).

Contract (see :mod:`workbench.guardrails._registry`): ``validate(text, metadata)`` reads
the engine's precomputed ``metadata["scores"][classifier]`` when present (a float; for
``pii_ner`` a list of span dicts; for ``topic`` the text's embedding under
``"embedding"``) and otherwise computes it with the process-wide
:func:`~workbench.guardrails.ml.scorer.get_scorer` (or the ``scorer`` given to the
validator), so that a notebook can use the validators directly.
"""

from __future__ import annotations

from workbench.guardrails._offline import ensure_offline

ensure_offline()

from collections.abc import Mapping  # noqa: E402
from typing import Any, ClassVar, Literal, TypeAlias  # noqa: E402

import numpy as np  # noqa: E402
from guardrails.validators import (  # noqa: E402
    ErrorSpan,
    FailResult,
    PassResult,
    Validator,
    register_validator,
)
from pydantic import BaseModel, ConfigDict, Field, model_validator  # noqa: E402

from workbench.guardrails.ml.heads import trained_threshold  # noqa: E402
from workbench.guardrails.ml.scorer import EMBEDDING, PII_NER, Scorer, get_scorer  # noqa: E402
from workbench.guardrails.ml.topic import decide  # noqa: E402

Result: TypeAlias = PassResult | FailResult
Entity = Literal["PERSON", "ADDRESS"]


class ClassifierParams(BaseModel):
    """Params of a classifier check: an optional threshold override."""

    model_config = ConfigDict(extra="forbid")
    threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="flag when score >= this (default: trained)"
    )


class TopicParams(BaseModel):
    """Params of ``topic``: allowed and/or denied topics and similarity thresholds."""

    model_config = ConfigDict(extra="forbid")
    allow: list[str] = Field(default_factory=list, description="on-topic descriptions/examples")
    deny: list[str] = Field(default_factory=list, description="forbidden topics/examples")
    threshold: float = Field(
        default=0.3,
        ge=-1.0,
        le=1.0,
        description="cosine similarity (MiniLM: related ~0.3-0.5, unrelated ~0-0.15)",
    )
    allow_threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    deny_threshold: float | None = Field(default=None, ge=-1.0, le=1.0)

    @model_validator(mode="after")
    def _some_topics(self) -> TopicParams:
        if not self.allow and not self.deny:
            raise ValueError("topic needs an allow list, a deny list, or both")
        return self


def _all_entities() -> list[Entity]:
    return ["PERSON", "ADDRESS"]


class PiiNerParams(BaseModel):
    """Params of ``pii_ner``: which entities to find, and an optional stricter cut."""

    model_config = ConfigDict(extra="forbid")
    entities: list[Entity] = Field(default_factory=_all_entities, min_length=1)
    min_score: float | None = Field(
        default=None, ge=0.0, le=1.0, description="drop spans scoring below this"
    )


def _scores(metadata: Mapping[str, Any] | None) -> Mapping[str, Any]:
    s = (metadata or {}).get("scores")
    return s if isinstance(s, Mapping) else {}


class MLValidator(Validator):
    """Base of the ML checks: params model in, scorer lookup, result helpers."""

    check_name: ClassVar[str] = ""
    params_model: ClassVar[type[BaseModel]] = ClassifierParams

    def __init__(
        self,
        params: BaseModel | Mapping[str, Any] | None = None,
        on_fail: Any = None,
        *,
        scorer: Scorer | None = None,
        **kwargs: Any,
    ) -> None:
        """Build from a params model (or a dict / keyword arguments)."""
        if isinstance(params, self.params_model):
            p: Any = params
        else:
            p = self.params_model.model_validate({**dict(params or {}), **kwargs})
        super().__init__(on_fail=on_fail, **p.model_dump(mode="json"))
        self.params = p
        self._scorer = scorer

    @property
    def scorer(self) -> Any:
        """The scorer used when the engine did not precompute (process-wide default)."""
        return self._scorer if self._scorer is not None else get_scorer()

    def _validate(self, value: Any, metadata: dict[str, Any]) -> Result:
        return self.check(value if isinstance(value, str) else str(value), metadata or {})

    def check(self, text: str, metadata: Mapping[str, Any]) -> Result:
        """The check itself."""
        raise NotImplementedError


class ClassifierValidator(MLValidator):
    """A text classifier check: fails when the classifier's probability >= threshold."""

    classifier: ClassVar[str] = ""

    def threshold(self) -> float:
        """The params override, else the threshold chosen at training time."""
        t = self.params.threshold
        if t is not None:
            return float(t)
        if self._scorer is not None and hasattr(self._scorer, "threshold"):
            return float(self._scorer.threshold(self.classifier))
        return trained_threshold(self.classifier)

    def check(self, text: str, metadata: Mapping[str, Any]) -> Result:
        """Score the text (or read the engine's score) and compare to the threshold."""
        p = _scores(metadata).get(self.classifier)
        if p is None:
            p = self.scorer.score(self.classifier, [text])[0]
        p = float(p)
        t = self.threshold()
        if p >= t:
            reason = f"{self.check_name} score {p:.3f} >= {t:.3f}"
            return FailResult(
                error_message=reason,
                error_spans=[ErrorSpan(start=0, end=len(text), reason=reason)] if text else None,
                metadata={"score": p, "threshold": t},
            )
        return PassResult(metadata={"score": p, "threshold": t})


@register_validator(name="workbench/prompt_injection", data_type="string")
class PromptInjection(ClassifierValidator):
    """Prompt injection: instructions that try to override the application's own."""

    check_name = "prompt_injection"
    classifier = "prompt_injection"


@register_validator(name="workbench/jailbreak", data_type="string")
class Jailbreak(ClassifierValidator):
    """Jailbreak attempts: DAN, developer mode, role-play or hypothetical overrides."""

    check_name = "jailbreak"
    classifier = "jailbreak"


@register_validator(name="workbench/toxicity", data_type="string")
class Toxicity(ClassifierValidator):
    """Toxic language: insults, slurs, harassment."""

    check_name = "toxicity"
    classifier = "toxicity"


@register_validator(name="workbench/topic", data_type="string")
class Topic(MLValidator):
    """Topic control: deny listed topics and/or keep to allowed ones (embedding similarity)."""

    check_name = "topic"
    params_model = TopicParams
    _refs: tuple[np.ndarray, np.ndarray] | None = None

    def _reference(self) -> tuple[np.ndarray, np.ndarray]:
        if self._refs is None:
            p = self.params
            emb = self.scorer.embed
            dim = 384
            allow = emb(list(p.allow)) if p.allow else np.zeros((0, dim), dtype=np.float32)
            deny = emb(list(p.deny)) if p.deny else np.zeros((0, dim), dtype=np.float32)
            self._refs = (np.asarray(allow), np.asarray(deny))
        return self._refs

    def check(self, text: str, metadata: Mapping[str, Any]) -> Result:
        """Compare the text's embedding with the allowed and denied topics."""
        vec = _scores(metadata).get(EMBEDDING)
        v = np.asarray(vec if vec is not None else self.scorer.embed([text])[0], dtype=np.float32)
        allow_vecs, deny_vecs = self._reference()
        p = self.params
        d = decide(
            v,
            list(p.allow),
            allow_vecs,
            list(p.deny),
            deny_vecs,
            p.allow_threshold if p.allow_threshold is not None else p.threshold,
            p.deny_threshold if p.deny_threshold is not None else p.threshold,
        )
        meta = {"score": d.score, "topic": d.topic}
        if d.ok:
            return PassResult(metadata=meta)
        return FailResult(
            error_message=d.reason,
            error_spans=[ErrorSpan(start=0, end=len(text), reason=d.reason)] if text else None,
            metadata=meta,
        )


@register_validator(name="workbench/pii_ner", data_type="string")
class PiiNer(MLValidator):
    """Names (PERSON) and street addresses (ADDRESS) found by the token tagger; redacts."""

    check_name = "pii_ner"
    params_model = PiiNerParams

    def spans(self, text: str, metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The wanted entity spans of ``text`` (precomputed or tagged now)."""
        scores = _scores(metadata)
        found = scores.get(PII_NER, scores.get("ner"))
        if found is None:
            found = self.scorer.tag([text])[0]
        p = self.params
        return [
            dict(s)
            for s in found
            if s["label"] in p.entities and (p.min_score is None or s["score"] >= p.min_score)
        ]

    def check(self, text: str, metadata: Mapping[str, Any]) -> Result:
        """Fail with one error span per entity; the fix replaces each by ``<LABEL>``."""
        found = sorted(self.spans(text, metadata), key=lambda s: (s["start"], s["end"]))
        if not found:
            return PassResult()
        parts: list[str] = []
        pos = 0
        for s in found:
            if s["start"] < pos:  # overlapping spans: keep the first
                continue
            parts += [text[pos : s["start"]], f"<{s['label']}>"]
            pos = s["end"]
        parts.append(text[pos:])
        counts: dict[str, int] = {}
        for s in found:
            counts[s["label"]] = counts.get(s["label"], 0) + 1
        return FailResult(
            error_message="PII: " + ", ".join(f"{n} {lab}" for lab, n in sorted(counts.items())),
            error_spans=[
                ErrorSpan(start=s["start"], end=s["end"], reason=s["label"]) for s in found
            ],
            fix_value="".join(parts),
            metadata={"score": max(float(s["score"]) for s in found), "entities": counts},
        )


VALIDATORS: tuple[type[MLValidator], ...] = (PromptInjection, Jailbreak, Toxicity, Topic, PiiNer)

__all__ = [
    "VALIDATORS",
    "ClassifierParams",
    "ClassifierValidator",
    "Jailbreak",
    "MLValidator",
    "PiiNer",
    "PiiNerParams",
    "PromptInjection",
    "Topic",
    "TopicParams",
    "Toxicity",
]
