"""Budgets and rate limits shared by the gateway's ingress replicas through one Ray actor.

- :class:`LimitsActor` is the counter authority: a named actor (``workbench-limits`` in
  namespace ``workbench``; not detached, so it goes away with the application) running
  :class:`workbench.limits.AuthorityCore` over ``$WORKBENCH_HOME/limits.sqlite``. It is
  created by the first replica that needs it (``get_if_exists``), like the routing state
  actor, and reloads the persisted consumption when it starts again (leases outstanding
  when it stopped count as spent).
- :class:`RayAuthority` is the :class:`workbench.limits.Authority` an ingress replica's
  :class:`~workbench.limits.Limiter` talks to: one actor round trip per lease refill or
  sync, never per request while a lease lasts. If the actor is lost, the next call
  creates it again (a new epoch: the replicas' old leases stay spendable until they
  expire, and were counted as spent by the new actor).

With one ingress replica there is nothing to share: :func:`limiter_for` gives it the
in-process authority (same core, same file), no actor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import ray

from workbench.limits import Ask, AuthorityCore, Grant, Limiter, LimitsStore, LocalAuthority, Report

__all__ = ["ACTOR_NAME", "NAMESPACE", "LimitsActor", "RayAuthority", "limiter_for"]

log = logging.getLogger("ray.serve")

ACTOR_NAME = "workbench-limits"
NAMESPACE = "workbench"


@ray.remote(num_cpus=0, max_restarts=0)
class LimitsActor:
    """The one counter authority of a gateway."""

    def __init__(self, home: str | None = None, lease_ttl_s: float = 5.0) -> None:
        if home is not None:
            import os

            os.environ["WORKBENCH_HOME"] = home
        self.core = AuthorityCore(LimitsStore(), lease_ttl_s=lease_ttl_s)

    def exchange(self, client: str, reports: list[Report], asks: list[Ask]) -> list[Grant]:
        """Apply reports, answer asks (see :meth:`AuthorityCore.exchange`)."""
        return self.core.exchange(client, reports, asks)

    def usage(self) -> list[dict[str, Any]]:
        """Every live counter now (consumed, leased, limit)."""
        return self.core.usage()

    def epoch(self) -> str:
        """This incarnation's epoch."""
        return self.core.epoch


class RayAuthority:
    """The named :class:`LimitsActor`, found or created on first use."""

    def __init__(
        self,
        *,
        name: str = ACTOR_NAME,
        namespace: str = NAMESPACE,
        home: str | None = None,
        lease_ttl_s: float = 5.0,
    ) -> None:
        self.name, self.namespace, self.home = name, namespace, home
        self.lease_ttl_s = lease_ttl_s
        self._actor: Any = None
        self.failures = 0

    async def exchange(
        self, client: str, reports: Sequence[Report], asks: Sequence[Ask]
    ) -> list[Grant]:
        """One actor round trip (the actor is re-created if it was lost)."""
        try:
            actor = await self._ensure()
            grants: list[Grant] = await actor.exchange.remote(client, list(reports), list(asks))
        except Exception:
            self._actor = None
            self.failures += 1
            raise
        return grants

    async def usage(self) -> list[dict[str, Any]]:
        """The actor's live counters."""
        actor = await self._ensure()
        rows: list[dict[str, Any]] = await actor.usage.remote()
        return rows

    async def _ensure(self) -> Any:
        if self._actor is None:
            self._actor = await asyncio.to_thread(self._get_or_create)
        return self._actor

    def _get_or_create(self) -> Any:
        from serve.headstate import head_actor_options  # on a cluster: pinned to the head

        options = LimitsActor.options(  # type: ignore[attr-defined]
            name=self.name, namespace=self.namespace, get_if_exists=True, **head_actor_options()
        )
        return options.remote(self.home, self.lease_ttl_s)


def limiter_for(ingress_replicas: int, home: str | None = None) -> Limiter:
    """The limiter an ingress replica uses: the in-process authority with one replica,
    the shared actor with several."""
    if ingress_replicas <= 1:
        return Limiter(LocalAuthority())
    return Limiter(RayAuthority(home=home))
