"""What a failed attempt means for routing: classify errors, compute retry waits.

An upstream failure has a *kind*: ``timeout``, ``connection`` or ``malformed``, or
``status`` with an HTTP status (the provider's ``upstream_status`` when it sent one, else
the error's own: 429 for a rate limit, 503 for an unavailable replica, 502 otherwise).
Errors that are the caller's fault (invalid request, authentication, permission, not
found) are ``client`` errors: never retried, never a reason to fall back, never counted by
the breaker. A provider's 4xx (other than 429) is a ``status`` failure that is retried or
falls back only when its code is listed, and does not count against the breaker either.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from workbench.errors import (
    RateLimitError,
    ServiceUnavailableError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamMalformedError,
    UpstreamTimeoutError,
    WorkbenchError,
)
from workbench.routing.config import RetryPolicy

__all__ = ["Failure", "classify", "retry_wait_s"]

Kind = Literal["timeout", "connection", "malformed", "status", "client", "internal"]


@dataclass(frozen=True)
class Failure:
    """How the router reads one error."""

    kind: Kind
    status: int | None  # the HTTP status that routing rules match (``status`` kind only)
    code: str  # for the attempt record
    http_status: int | None  # the upstream's status, if it sent one
    breaker_failure: bool

    def matches(self, codes: Collection[int], kinds: Collection[str]) -> bool:
        """Whether a rule listing ``codes`` and error ``kinds`` applies to this failure."""
        if self.kind == "status":
            return self.status in codes
        return self.kind in kinds


def classify(exc: BaseException) -> Failure:
    """Read an exception raised by an attempt."""
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is TimeoutError on 3.11
        return Failure("timeout", None, "upstream_timeout", None, True)
    if not isinstance(exc, WorkbenchError):
        return Failure("internal", None, "internal_error", None, False)
    upstream = exc.upstream_status
    if isinstance(exc, UpstreamTimeoutError):
        return Failure("timeout", None, exc.code or "upstream_timeout", upstream, True)
    if isinstance(exc, UpstreamConnectionError):
        return Failure("connection", None, exc.code or "upstream_unreachable", upstream, True)
    if isinstance(exc, UpstreamMalformedError):
        return Failure("malformed", None, exc.code or "upstream_malformed", upstream, True)
    if isinstance(exc, UpstreamError | RateLimitError):
        if upstream is not None:
            status = upstream
        elif isinstance(exc, RateLimitError):
            status = 429
        elif isinstance(exc, ServiceUnavailableError):
            status = 503
        else:
            status = 502
        breaker = status >= 500 or status == 429
        return Failure("status", status, exc.code or "upstream_error", upstream, breaker)
    return Failure("client", None, exc.code or "error", upstream, False)


def retry_wait_s(
    policy: RetryPolicy, retry: int, retry_after_s: float | None, rng: random.Random
) -> float | None:
    """Seconds to wait before retry number ``retry`` (1-based); None: do not retry.

    With ``use_retry_after_header`` an upstream's ``Retry-After`` is waited exactly, and a
    value above ``max_retry_after_s`` means "not worth waiting": no retry (the request
    moves on to the next target at once). Otherwise exponential backoff,
    ``min(backoff_max_ms, backoff_base_ms * 2**(retry-1))``, with full jitter (uniform in
    ``[0, that]``) unless ``jitter: none``.
    """
    if policy.use_retry_after_header and retry_after_s is not None:
        if retry_after_s > policy.max_retry_after_s:
            return None
        return max(0.0, retry_after_s)
    ceiling = min(policy.backoff_max_ms, policy.backoff_base_ms * 2 ** (retry - 1)) / 1000.0
    if policy.jitter == "full":
        return rng.uniform(0.0, ceiling)
    return ceiling
