"""Breaker and latency state shared by the gateway's ingress replicas through one Ray actor.

- :class:`RoutingStateActor` is the authority: a named actor (``workbench-routing-state``
  in namespace ``workbench``; not detached, so it goes away with the application) that
  applies every replica's attempt results, in arrival order, to one breaker and latency
  record per target, with the same code as the in-process state
  (:class:`workbench.routing.breaker.TargetHealth`).
- :class:`SharedRoutingState` is the :class:`~workbench.routing.RoutingState` each replica
  gives its router. The hot path never waits on Ray: ``allow`` and ``record`` work on a
  local mirror; every ``sync_interval_s`` a background task pushes the results recorded
  since the last sync and adopts the actor's merged view in the same round trip (results
  recorded while that call was in flight are applied again on top of it). The task starts
  with the first result recorded inside a running event loop (or call :meth:`start`), so
  the state can be built in a replica's constructor.

Timestamps are wall-clock (``time.time``) so that replicas and the actor agree on when a
breaker opened. If the actor is lost (its owner replica died), the next sync creates it
again and every replica seeds it with what it knows. How stale a replica's view can be is
in docs/routing.md ("Shared state").
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import ray

from workbench.routing.breaker import TargetHealth
from workbench.routing.config import CircuitBreakerConfig
from workbench.routing.state import LocalRoutingState

__all__ = [
    "ACTOR_NAME",
    "NAMESPACE",
    "RoutingStateActor",
    "SharedRoutingState",
    "routing_state_for",
]

log = logging.getLogger("ray.serve")

ACTOR_NAME = "workbench-routing-state"
NAMESPACE = "workbench"
_MAX_PENDING = 20_000

# (target, at, ok, latency_ms, breaker_failure, breaker settings or None, ewma_alpha)
Event = tuple[str, float, bool, float | None, bool, dict[str, Any] | None, float]


@ray.remote(num_cpus=0, max_restarts=0)
class RoutingStateActor:
    """The merged breaker and latency state of every ingress replica."""

    def __init__(self) -> None:
        self.epoch = uuid.uuid4().hex
        self.targets: dict[str, TargetHealth] = {}
        self.settings: dict[str, CircuitBreakerConfig] = {}
        self.default = CircuitBreakerConfig()

    def sync(self, events: list[Event], seed: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
        """Apply a replica's ``events``; return the merged view
        ``{"epoch", "targets": {name: TargetHealth.to_dict()}}``.

        ``seed`` (a replica's whole local view, sent on its first sync with this actor)
        is adopted for targets this actor does not know yet; the seed already contains
        that replica's pending events for them, so those are not applied twice.
        """
        adopted: set[str] = set()
        for name, data in (seed or {}).items():
            if name not in self.targets:
                self.targets[name] = TargetHealth.from_dict(data)
                adopted.add(name)
        for target, at, ok, latency_ms, failure, settings, alpha in events:
            if target in adopted:
                continue
            cfg = self._settings(target, settings)
            health = self.targets.setdefault(target, TargetHealth())
            health.record(
                at, ok=ok, latency_ms=latency_ms, breaker_failure=failure, cfg=cfg, alpha=alpha
            )
        return {
            "epoch": self.epoch,
            "targets": {name: h.to_dict() for name, h in self.targets.items()},
        }

    def snapshot(self) -> dict[str, Any]:
        """The merged view as JSON-able health, for /health and debugging."""
        now = time.time()
        return {
            name: h.snapshot(now, self.settings.get(name, self.default))
            for name, h in sorted(self.targets.items())
        }

    def _settings(self, target: str, settings: dict[str, Any] | None) -> CircuitBreakerConfig:
        if settings is None:
            return self.settings.get(target, self.default)
        cached = self.settings.get(target)
        if cached is None or cached.model_dump() != settings:
            cached = self.settings[target] = CircuitBreakerConfig.model_validate(settings)
        return cached


class SharedRoutingState:
    """A :class:`~workbench.routing.RoutingState` mirrored from :class:`RoutingStateActor`."""

    def __init__(
        self,
        *,
        name: str = ACTOR_NAME,
        namespace: str = NAMESPACE,
        sync_interval_s: float = 0.5,
        breaker: CircuitBreakerConfig | None = None,
        ewma_alpha: float | None = None,
        clock: Callable[[], float] = time.time,
        autostart: bool = True,
    ) -> None:
        self.name, self.namespace = name, namespace
        self.autostart = autostart
        self.sync_interval_s = sync_interval_s
        self.local = LocalRoutingState(breaker, ewma_alpha, clock=clock)
        self.clock = clock
        self._pending: list[Event] = []
        self._actor: Any = None
        self._epoch: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._settings_cache: dict[CircuitBreakerConfig, dict[str, Any]] = {}
        self.last_sync: float | None = None
        self.sync_failures = 0

    # -- RoutingState (sync, local) --------------------------------------------------------
    def allow(self, target: str, breaker: CircuitBreakerConfig | None = None) -> bool:
        return self.local.allow(target, breaker)

    def record(
        self,
        target: str,
        ok: bool,
        latency_ms: float | None,
        breaker_failure: bool,
        breaker: CircuitBreakerConfig | None = None,
        ewma_alpha: float | None = None,
    ) -> None:
        if self._task is None and self.autostart:
            self._start_if_running()
        alpha = ewma_alpha if ewma_alpha is not None else self.local.ewma_alpha
        self.local.record(target, ok, latency_ms, breaker_failure, breaker, alpha)
        settings = None if breaker is None else self._dump(breaker)
        event: Event = (target, self.clock(), ok, latency_ms, breaker_failure, settings, alpha)
        self._pending.append(event)
        if len(self._pending) > _MAX_PENDING:
            del self._pending[: len(self._pending) - _MAX_PENDING]

    def latency_ms(self, target: str) -> float | None:
        return self.local.latency_ms(target)

    def samples(self, target: str) -> int:
        return self.local.samples(target)

    def snapshot(self) -> dict[str, Any]:
        return self.local.snapshot()

    # -- synchronisation ---------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        """Start the background sync task on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())
        return self._task

    def _start_if_running(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop in this thread: start() must be called later
            return
        self.start()

    async def close(self) -> None:
        """Stop the background task and push what is still pending."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.sync_now()

    def sync_status(self) -> dict[str, Any]:
        """How fresh this replica's view is (for /health)."""
        age = None if self.last_sync is None else round(self.clock() - self.last_sync, 3)
        return {
            "actor": f"{self.namespace}/{self.name}",
            "connected": self._epoch is not None,
            "background_sync": self._task is not None and not self._task.done(),
            "last_sync_s_ago": age,
            "pending_events": len(self._pending),
            "sync_failures": self.sync_failures,
        }

    async def sync_now(self) -> bool:
        """Push pending results and adopt the merged view; False when the actor failed."""
        events, self._pending = self._pending, []
        seed = None
        if self._epoch is None:
            seed = {name: h.to_dict() for name, h in self.local.targets.items()}
        try:
            actor = await self._ensure_actor()
            reply = await actor.sync.remote(events, seed)
        except Exception as exc:  # the actor died or Ray is shutting down: keep going locally
            self._pending = (events + self._pending)[-_MAX_PENDING:]
            self._actor, self._epoch = None, None
            self.sync_failures += 1
            log.warning("routing state sync failed (%s); using the local view", type(exc).__name__)
            return False
        self._adopt(reply["targets"])
        self._epoch = reply["epoch"] if self._epoch in (None, reply["epoch"]) else None
        self.last_sync = self.clock()
        return True

    async def _ensure_actor(self) -> Any:
        if self._actor is None:
            self._actor = await asyncio.to_thread(self._get_or_create)
        return self._actor

    def _get_or_create(self) -> Any:
        from serve.headstate import head_actor_options  # on a cluster: pinned to the head

        options = RoutingStateActor.options(  # type: ignore[attr-defined]
            name=self.name, namespace=self.namespace, get_if_exists=True, **head_actor_options()
        )
        return options.remote()

    def _adopt(self, view: dict[str, dict[str, Any]]) -> None:
        local = self.local.targets
        for name, data in view.items():
            probes = local[name].breaker.probes if name in local else None
            local[name] = TargetHealth.from_dict(data, probes)
        for target, at, ok, latency_ms, failure, settings, alpha in self._pending:
            cfg = (
                CircuitBreakerConfig.model_validate(settings)
                if settings is not None
                else self.local.breaker
            )
            self.local.health(target).record(
                at, ok=ok, latency_ms=latency_ms, breaker_failure=failure, cfg=cfg, alpha=alpha
            )

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.sync_interval_s)
            try:
                await self.sync_now()
            except Exception:  # never let the sync task die
                log.exception("routing state sync crashed; retrying")

    def _dump(self, breaker: CircuitBreakerConfig) -> dict[str, Any]:
        cached = self._settings_cache.get(breaker)
        if cached is None:
            if len(self._settings_cache) > 64:
                self._settings_cache.clear()
            cached = self._settings_cache[breaker] = breaker.model_dump()
        return cached


def routing_state_for(ingress_replicas: int) -> LocalRoutingState | SharedRoutingState:
    """The routing state an ingress replica uses.

    With one ingress replica there is nothing to share: the in-process state, with no
    actor and no sync task (the actor's round trips cost ~3.9 ms of CPU per request at
    concurrency 8 on 2 cores, more than the ingress itself). With several, the mirror of
    :class:`RoutingStateActor`.
    """
    if ingress_replicas <= 1:
        return LocalRoutingState()
    return SharedRoutingState()
