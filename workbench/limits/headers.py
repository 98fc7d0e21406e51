"""Rate-limit response headers as OpenAI sends them.

``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests``,
``x-ratelimit-reset-requests`` and the ``-tokens`` variants; a reset is a duration in
OpenAI's format (``"20ms"``, ``"1s"``, ``"6m0s"``, ``"1h2m3s"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["duration", "rate_headers", "retry_after"]


def duration(seconds: float) -> str:
    """``seconds`` the way OpenAI writes a reset: ``"20ms"``, ``"1.5s"``, ``"6m0s"``."""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{int(round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s"


def retry_after(reset_at: float | None, now: float) -> str:
    """The ``Retry-After`` value (whole seconds, at least 1) for a counter resetting at
    ``reset_at`` (None: try again in a second)."""
    if reset_at is None:
        return "1"
    return str(max(1, math.ceil(reset_at - now)))


def rate_headers(
    tightest: Mapping[str, tuple[int, int, float | None]], now: float
) -> dict[str, str]:
    """Headers for the tightest ``requests`` and ``tokens`` limits:
    kind -> (limit, remaining, reset_at)."""
    out: dict[str, str] = {}
    for kind in ("requests", "tokens"):
        if kind not in tightest:
            continue
        limit, remaining, reset_at = tightest[kind]
        out[f"x-ratelimit-limit-{kind}"] = str(limit)
        out[f"x-ratelimit-remaining-{kind}"] = str(max(0, remaining))
        reset = 0.0 if reset_at is None else reset_at - now
        out[f"x-ratelimit-reset-{kind}"] = duration(reset)
    return out
