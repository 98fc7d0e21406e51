"""The order in which choose-one strategies try their targets.

``loadbalance`` draws a weighted random order (the first pick has probability
``weight / sum(weights)``; the rest are used only when a breaker is open).

``least-latency`` tries targets with fewer than ``warmup_requests`` latency samples first,
in turn (round-robin), so every target gets measured; then the one with the lowest
latency average. It keeps its current pick unless another target is faster by more than
``tolerance`` (0.15: at least 15 % faster), so small differences do not make it flap.

``least-cost`` takes the targets whose ``cost_per_mtok`` is within ``tolerance`` of the
cheapest (a band of equally cheap targets) and orders that band by least latency; then
the other priced targets by cost, then those with an unknown price.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from workbench.routing.config import DynamicConfig, RouteNode
from workbench.routing.state import RoutingState
from workbench.routing.types import TargetInfo

__all__ = ["Selector"]


class Selector:
    """Orders candidates; remembers current picks and warm-up turns per node."""

    def __init__(
        self,
        state: RoutingState,
        targets: Mapping[str, TargetInfo],
        dynamic: DynamicConfig,
        rng: random.Random,
    ) -> None:
        self.state = state
        self.targets = targets
        self.dynamic = dynamic
        self.rng = rng
        self._current: dict[int, str] = {}
        self._turn: dict[int, int] = {}

    def order(self, node: RouteNode) -> list[RouteNode]:
        """The children of a choose-one node in the order to try them."""
        children = list(node.targets or [])
        if node.mode == "loadbalance":
            return self.weighted(children)
        names = [c.target or "" for c in children]
        if node.mode == "least-latency":
            ranked = self.by_latency(id(node), names)
        else:
            ranked = self.by_cost(id(node), names)
        by_name = {c.target: c for c in children}
        return [by_name[n] for n in ranked]

    def picked(self, node: RouteNode, child: RouteNode) -> None:
        """Note that ``child`` was actually tried (it becomes the sticky pick)."""
        if node.mode in ("least-latency", "least-cost") and child.target is not None:
            self._current[id(node)] = child.target

    def weighted(self, children: Sequence[RouteNode]) -> list[RouteNode]:
        """Weighted random order without replacement (Efraimidis-Spirakis keys)."""
        keyed = [(self.rng.random() ** (1.0 / c.weight), i) for i, c in enumerate(children)]
        keyed.sort(reverse=True)
        return [children[i] for _, i in keyed]

    def by_latency(self, key: int, names: Sequence[str]) -> list[str]:
        """Warm-up targets in turn first, then by latency with the tolerance band."""
        warmup = self.dynamic.warmup_requests
        cold = [n for n in names if self.state.samples(n) < warmup]
        warm = sorted(
            (n for n in names if n not in cold), key=lambda n: (self._latency(n), names.index(n))
        )
        if cold:
            turn = self._turn.get(key, 0)
            self._turn[key] = turn + 1
            i = turn % len(cold)
            return cold[i:] + cold[:i] + warm
        current = self._current.get(key)
        if current not in warm or not warm:
            return warm
        best = warm[0]
        if best != current and self._latency(best) < self._latency(current) * (
            1 - self.dynamic.tolerance
        ):
            return warm
        return [current] + [n for n in warm if n != current]

    def by_cost(self, key: int, names: Sequence[str]) -> list[str]:
        """The cheapest band by latency, then the rest by price, unknown prices last."""
        costs = {n: self._cost(n) for n in names}
        priced = [n for n in names if costs[n] is not None]
        unknown = [n for n in names if costs[n] is None]
        if not priced:
            return self.by_latency(key, names)
        cheapest = min(c for c in costs.values() if c is not None)
        limit = cheapest * (1 + self.dynamic.tolerance)
        band = [n for n in priced if (costs[n] or 0.0) <= limit]
        rest = sorted((n for n in priced if n not in band), key=lambda n: costs[n] or 0.0)
        return self.by_latency(key, band) + rest + unknown

    def _latency(self, name: str) -> float:
        value = self.state.latency_ms(name)
        return 0.0 if value is None else value

    def _cost(self, name: str) -> float | None:
        info = self.targets.get(name)
        return None if info is None else info.cost_per_mtok
