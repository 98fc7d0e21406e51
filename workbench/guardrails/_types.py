"""What the engine reports: one :class:`Verdict` per check run, and stage outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Span:
    """A character span a check objected to (``message`` is the index of the text)."""

    start: int
    end: int
    reason: str
    message: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "start": self.start,
            "end": self.end,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass
class Verdict:
    """The result of one check on one stage of one request."""

    check: str
    validator: str
    stage: str
    passed: bool
    action: str  # what the gateway did: none | deny | flag | redact | fix | fallback | retry
    latency_ms: float
    score: float | None = None
    spans: list[Span] = field(default_factory=list)
    message: str | None = None
    mode: str = "enforce"
    window: int | None = None  # stream window index, for output checks on streams
    # (matched text, label) of each span a secret/PII-like check flagged: what the log
    # must mask. Never serialised (not in to_dict, not in repr).
    masks: list[tuple[str, str]] = field(default_factory=list, repr=False, compare=False)
    # what the check computed and on which texts (see _memo): lets a replay reuse it
    config_hash: str | None = field(default=None, repr=False, compare=False)
    text_hash: str | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The form stored in the request log's ``guardrail_verdicts``."""
        d: dict[str, Any] = {
            "check": self.check,
            "validator": self.validator,
            "stage": self.stage,
            "passed": self.passed,
            "action": self.action,
            "latency_ms": round(self.latency_ms, 3),
            "score": self.score,
            "spans": [s.to_dict() for s in self.spans],
            "message": self.message,
            "mode": self.mode,
        }
        if self.window is not None:
            d["window"] = self.window
        if self.config_hash is not None and self.text_hash is not None:
            d["config_hash"], d["text_hash"] = self.config_hash, self.text_hash
        return d


@dataclass
class StageOutcome:
    """A stage's verdicts, the (possibly rewritten) texts, and the decisive failure."""

    texts: list[str]
    verdicts: list[Verdict] = field(default_factory=list)
    deny: Verdict | None = None
    fallback: Verdict | None = None
    retry: Verdict | None = None
    changed: bool = False

    @property
    def blocked(self) -> bool:
        """True when the stage refuses the text."""
        return self.deny is not None


class Scorer(Protocol):
    """ML scores for the engine (in-process, or a batched Ray Serve deployment)."""

    async def score(self, classifier: str, texts: list[str]) -> list[float]: ...

    async def tag(self, texts: list[str]) -> list[list[dict[str, Any]]]: ...

    # Optional: ``async def score_many(items: list[tuple[str, list[str]]]) -> list[list]``,
    # the values of several classifiers in one call (``pii_ner``: the spans of ``tag``).
    # The engine uses it when present: a remote scorer then costs one round trip a stage.
