"""Plain data the router takes and hands out: targets, requests, attempts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.errors import WorkbenchError

__all__ = [
    "Attempt",
    "AttemptTimeouts",
    "OutputRejected",
    "Reason",
    "RouteRequest",
    "TargetInfo",
]

Reason = Literal[
    "primary", "fallback", "retry", "loadbalance", "conditional", "least-latency", "least-cost"
]


@dataclass(frozen=True)
class TargetInfo:
    """A concrete gateway target (a ``models:`` entry of the gateway config).

    ``timeouts`` is the gateway target's timeouts object; the router reads its
    ``connect``, ``read``, ``first_byte`` and ``total`` attributes where present.
    ``cost_per_mtok`` (USD per million tokens, or None when unknown) drives ``least-cost``.
    """

    name: str
    provider: str
    cost_per_mtok: float | None = None
    timeouts: Any = None


@dataclass(frozen=True)
class RouteRequest:
    """What conditions and the router may look at in a request."""

    model: str
    workspace: str | None = None
    user: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int = 0
    stream: bool = False


@dataclass(frozen=True)
class AttemptTimeouts:
    """Effective timeouts of one attempt, in seconds, already clipped to the request budget."""

    connect: float
    first_byte: float
    total: float


@dataclass(frozen=True)
class Attempt:
    """One upstream attempt the router asks ``call`` to make.

    ``number`` counts attempts of the request (1-based); ``retry`` counts tries of this
    target before this one (0 for the first); ``deadline`` is the request's deadline on the
    router's clock.
    """

    target: str
    provider: str
    number: int
    retry: int
    reason: Reason
    timeouts: AttemptTimeouts
    deadline: float
    route: str | None = None


class OutputRejected(Exception):
    """Raised by ``call``: output guardrails refused this answer.

    A ``fallback`` node with ``on_guardrail_failure`` moves on to its next target; the
    same target is never retried and its breaker does not count it. When nothing is left,
    the router raises ``error``.
    """

    def __init__(self, error: WorkbenchError) -> None:
        super().__init__(error.message)
        self.error = error
