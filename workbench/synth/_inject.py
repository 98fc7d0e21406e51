"""Anomaly injection hooks: each one changes the synthetic traffic inside a time window.

Pass instances in ``generate(..., inject=[...])``. Every injection has a ``start``, a
``hours`` duration (``None``: until the end of the run) and an optional ``workspace``
(``None``: all workspaces). Two hooks exist:

- :meth:`Injection.rate_factor` multiplies the expected request count per hour
  (spikes, level shifts, ramps);
- :meth:`Injection.apply` edits the per-request draws of the rows inside the window
  (tokens, latency, errors, cache, attacks) before the columns are built.

The injections are the ground truth an anomaly-detection benchmark scores against:
``label``, ``start`` and ``end`` say what happened when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from ._shape import utc

if TYPE_CHECKING:
    from ._rows import Draws

__all__ = [
    "AttackSurge",
    "CacheCollapse",
    "ErrorBurst",
    "Injection",
    "LatencyRegression",
    "LeakedKey",
    "LevelShift",
    "Ramp",
    "Spike",
]


@dataclass(frozen=True)
class Injection:
    """Base class: a window ``[start, start + hours)`` and an optional workspace."""

    start: datetime
    hours: float | None = 1.0
    workspace: str | None = None

    @property
    def label(self) -> str:
        """Kind of anomaly (the class name in snake case)."""
        name = type(self).__name__
        return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")

    @property
    def start_us(self) -> int:
        """Window start, epoch microseconds."""
        return int(utc(self.start).timestamp() * 1_000_000)

    @property
    def end(self) -> datetime | None:
        """Window end (``None``: open-ended)."""
        return None if self.hours is None else utc(self.start) + timedelta(hours=self.hours)

    def _end_us(self) -> float:
        end = self.end
        return float("inf") if end is None else end.timestamp() * 1_000_000

    def active(self, t_us: np.ndarray) -> np.ndarray:
        """Mask of the times inside the window."""
        return (t_us >= self.start_us) & (t_us < self._end_us())

    def in_scope(self, d: Draws) -> np.ndarray:
        """Mask of the rows inside the window and (if set) the workspace."""
        mask = self.active(d.t)
        if self.workspace is not None:
            mask &= d.ws_names[d.ws] == self.workspace
        return mask

    def rate_factor(self, hours_us: np.ndarray, workspace: str) -> np.ndarray:
        """Multiplier of each hour's expected count for ``workspace`` (default 1)."""
        return np.ones(len(hours_us))

    def apply(self, d: Draws) -> None:
        """Edit the per-request draws in place (default: nothing)."""

    def _scoped(self, workspace: str) -> bool:
        return self.workspace is None or self.workspace == workspace


@dataclass(frozen=True)
class Spike(Injection):
    """Request volume multiplied by ``factor`` during the window."""

    factor: float = 5.0

    def rate_factor(self, hours_us: np.ndarray, workspace: str) -> np.ndarray:
        """``factor`` inside the window."""
        if not self._scoped(workspace):
            return np.ones(len(hours_us))
        return np.where(self.active(hours_us + 1_800_000_000), self.factor, 1.0)


@dataclass(frozen=True)
class LevelShift(Spike):
    """Volume multiplied by ``factor`` from ``start`` on (``hours=None`` by default)."""

    hours: float | None = None
    factor: float = 2.0


@dataclass(frozen=True)
class Ramp(Injection):
    """Volume grows linearly from 1x to ``factor`` over the window, then stays there."""

    hours: float | None = 72.0
    factor: float = 3.0

    def rate_factor(self, hours_us: np.ndarray, workspace: str) -> np.ndarray:
        """Linear ramp inside the window, ``factor`` after it."""
        if not self._scoped(workspace):
            return np.ones(len(hours_us))
        span = (self.hours or 1.0) * 3_600_000_000
        frac = np.clip((hours_us + 1_800_000_000 - self.start_us) / span, 0.0, 1.0)
        return 1.0 + (self.factor - 1.0) * frac


@dataclass(frozen=True)
class LeakedKey(Injection):
    """One key (``key_id``, default the workspace's busiest) sends ``rate`` times its
    usual volume with ``token_factor`` times the tokens per request."""

    key_id: str | None = None
    token_factor: float = 5.0
    rate: float = 3.0

    def apply(self, d: Draws) -> None:
        """Multiply tokens of the key's rows; extra volume comes from relabelled rows."""
        key = d.key_index(self.key_id, self.workspace)
        scope = self.active(d.t) & (d.ws == d.key_ws[key])
        mine = scope & (d.key == key)
        # volume: move other rows of the same workspace onto the leaked key
        share = d.key_share[key]
        move_p = min(1.0, share * (self.rate - 1.0) / max(1e-9, 1.0 - share))
        moved = scope & ~mine & (d.rng.random(len(d.t)) < move_p)
        d.key[moved] = key
        d.user[moved] = d.user[mine][0] if mine.any() else d.user[moved]
        mine |= moved
        d.prompt_extra[mine] = np.int32(d.prompt_extra[mine] * self.token_factor) + 800
        d.completion[mine] = np.minimum(d.completion[mine] * self.token_factor, 16000)
        d.max_tokens[mine] = np.maximum(d.max_tokens[mine], d.completion[mine])


@dataclass(frozen=True)
class LatencyRegression(Injection):
    """The upstream of ``model`` (default: all) gets ``factor`` times slower."""

    model: str | None = None
    factor: float = 3.0

    def apply(self, d: Draws) -> None:
        """Scale time to first token and decode time of the rows in scope."""
        mask = self.in_scope(d)
        if self.model is not None:
            mask &= d.model_names[d.model] == self.model
        d.slow[mask] *= self.factor


@dataclass(frozen=True)
class ErrorBurst(Injection):
    """A share ``rate`` of upstream attempts fail (to ``model``, default: all)."""

    model: str | None = None
    rate: float = 0.5

    def apply(self, d: Draws) -> None:
        """Raise the failure probability of the primary attempt."""
        mask = self.in_scope(d)
        if self.model is not None:
            mask &= d.model_names[d.model] == self.model
        d.fail_p[mask] = np.maximum(d.fail_p[mask], self.rate)


@dataclass(frozen=True)
class CacheCollapse(Injection):
    """The exact cache stops hitting (e.g. a cache node lost)."""

    def apply(self, d: Draws) -> None:
        """No hit for the rows in scope."""
        d.hit_p[self.in_scope(d)] = 0.0


@dataclass(frozen=True)
class AttackSurge(Injection):
    """A share ``rate`` of requests are prompt-injection or jailbreak attempts."""

    rate: float = 0.4

    def apply(self, d: Draws) -> None:
        """Turn a share of the rows in scope into attacks."""
        mask = self.in_scope(d) & (d.rng.random(len(d.t)) < self.rate)
        d.kind[mask] = np.where(d.rng.random(int(mask.sum())) < 0.6, 3, 4).astype(np.int8)
