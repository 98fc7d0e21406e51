"""Per-request bookkeeping of the router: the budget, the attempt records, the scope.

Each attempt is one dict in the caller's ``attempts`` list::

    {"target": "gpt-4o-mini", "provider": "openai-compatible", "status": "ok",
     "http_status": None, "latency_ms": 812.4, "error_class": None,
     "retry_wait_ms": 0.0, "reason": "primary"}

``status`` is ``"ok"``, the error code (``upstream_timeout``, ``rate_limit_exceeded``,
``guardrail_denied``, ...), ``"cancelled"``, or ``"skipped"`` for a target that was not
tried (``reason`` then says why: ``breaker_open`` or ``unknown_target``).
``http_status`` is the upstream's HTTP status when it sent one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from workbench.errors import ServiceUnavailableError, UpstreamTimeoutError
from workbench.routing.config import RetryPolicy, RouteNode, TimeoutOverride
from workbench.routing.types import Attempt, AttemptTimeouts, Reason, RouteRequest, TargetInfo

__all__ = ["Run", "Scope", "Skipped", "attempt_timeouts"]

T = TypeVar("T")
_DEFAULT_CONNECT_S = 5.0
_NO_OVERRIDE = TimeoutOverride()


class Skipped(Exception):
    """Internal: every target under a node was skipped (breaker open, unknown target)."""


@dataclass(frozen=True)
class Scope:
    """What a node inherits from the nodes above it."""

    route: str | None
    reason: Reason
    retry: RetryPolicy
    timeouts: TimeoutOverride | None = None
    depth: int = 0

    def inherit(self, node: RouteNode) -> Scope:
        """Apply a node's own ``retry`` and ``timeouts`` (field by field) to the scope."""
        if node.retry is None and node.timeouts is None:
            return self
        return replace(
            self,
            retry=node.retry or self.retry,
            timeouts=_merge(self.timeouts, node.timeouts),
        )

    def enter(self, route: str) -> Scope:
        """Into another route's tree."""
        return replace(self, route=route, depth=self.depth + 1)

    def because(self, reason: Reason) -> Scope:
        """Children chosen by a strategy; once on a fallback path, it stays ``fallback``."""
        return self if self.reason == "fallback" else replace(self, reason=reason)

    def fallback(self) -> Scope:
        """The second and later children of a ``fallback`` node."""
        return replace(self, reason="fallback")


def _merge(parent: TimeoutOverride | None, child: TimeoutOverride | None) -> TimeoutOverride | None:
    if parent is None or child is None:
        return child or parent
    return TimeoutOverride(
        connect=child.connect or parent.connect,
        first_byte=child.first_byte or parent.first_byte,
        total=child.total or parent.total,
    )


def attempt_timeouts(
    info: TargetInfo, override: TimeoutOverride | None, remaining: float
) -> AttemptTimeouts:
    """Effective timeouts: the node override, else the gateway target's, clipped to budget.

    ``first_byte`` defaults to the target's ``read`` timeout, ``total`` to the remaining
    request budget; none exceeds what is left of the budget, nor ``total``.
    """
    own = info.timeouts
    o = override if override is not None else _NO_OVERRIDE
    total = o.total or _seconds(own, "total") or remaining
    total = min(total, remaining)
    first_byte = o.first_byte or _seconds(own, "first_byte") or _seconds(own, "read") or total
    connect = o.connect or _seconds(own, "connect") or _DEFAULT_CONNECT_S
    return AttemptTimeouts(
        connect=min(connect, total), first_byte=min(first_byte, total), total=total
    )


def _seconds(obj: Any, name: str) -> float | None:
    value = getattr(obj, name, None)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


class Run(Generic[T]):
    """One request's routing: its budget, its attempt records, its last error."""

    def __init__(
        self,
        req: RouteRequest,
        call: Callable[[Attempt], Awaitable[T]],
        attempts: list[dict[str, Any]],
        deadline: float,
    ) -> None:
        self.req = req
        self.call = call
        self.attempts = attempts
        self.deadline = deadline
        self.number = 0
        self.last_error: Exception | None = None
        self.skip_reasons: set[str] = set()

    def remaining(self, now: float) -> float:
        """Seconds left of the request budget."""
        return self.deadline - now

    def begin(self, attempt: Attempt, wait_s: float) -> dict[str, Any]:
        """Record the start of an attempt; the entry is completed by succeed/fail."""
        entry: dict[str, Any] = {
            "target": attempt.target,
            "provider": attempt.provider,
            "status": "cancelled",
            "http_status": None,
            "latency_ms": None,
            "error_class": None,
            "retry_wait_ms": round(wait_s * 1000.0, 3),
            "reason": attempt.reason,
        }
        self.attempts.append(entry)
        return entry

    def succeed(self, entry: dict[str, Any], latency_ms: float) -> None:
        entry.update(status="ok", latency_ms=round(latency_ms, 3))

    def fail(
        self,
        entry: dict[str, Any],
        exc: Exception,
        latency_ms: float,
        code: str,
        http_status: int | None,
    ) -> None:
        entry.update(
            status=code,
            http_status=http_status,
            latency_ms=round(latency_ms, 3),
            error_class=type(exc).__name__,
        )
        self.last_error = exc

    def skip(self, target: str, provider: str | None, reason: str) -> None:
        """Record a target that was not tried."""
        self.skip_reasons.add(reason)
        self.attempts.append(
            {
                "target": target,
                "provider": provider,
                "status": "skipped",
                "http_status": None,
                "latency_ms": None,
                "error_class": None,
                "retry_wait_ms": 0.0,
                "reason": reason,
            }
        )

    def exhausted(self, budget_s: float) -> Exception:
        """The error for a request whose time budget ran out before an attempt."""
        if self.last_error is not None:
            return self.last_error
        return UpstreamTimeoutError(f"the request's time budget of {budget_s:g} s ran out")

    def all_skipped(self) -> ServiceUnavailableError:
        """The error when no target was tried at all."""
        if self.skip_reasons == {"unknown_target"}:
            return ServiceUnavailableError(
                "no target of this route is configured in the gateway",
                code="no_target_available",
            )
        return ServiceUnavailableError(
            "all targets unavailable (circuit open)", code="circuit_open"
        )
