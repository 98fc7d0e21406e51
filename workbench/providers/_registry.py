"""The provider registry.

Providers are resolved by name. Built-ins register exactly like third-party plugins:
through the ``workbench.providers`` entry-point group, whose entry points name a
``register(registry)`` function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "workbench.providers"

Capability = Literal["chat", "completions", "embeddings"]


@dataclass
class ProviderSpec:
    """What the gateway needs to know about a provider.

    ``runs_in="ingress"``: ``factory(target)`` returns a client object with async
    ``chat``/``stream``/``embed``/``close`` methods, used inside the gateway process.
    ``runs_in="replica"``: ``factory(target)`` returns an engine that a Ray Serve
    deployment holds (local models, the embedder).
    """

    name: str
    factory: Callable[[ModelTarget], Any]
    capabilities: frozenset[str] = field(default_factory=lambda: frozenset({"chat"}))
    runs_in: Literal["ingress", "replica"] = "ingress"
    validate: Callable[[ModelTarget], None] | None = None
    description: str = ""

    def validate_target(self, target: ModelTarget) -> None:
        """Raise ValueError when a target's settings do not suit this provider."""
        if self.validate is not None:
            self.validate(target)


class ProviderRegistry:
    """Name -> :class:`ProviderSpec`, filled from entry points on first use."""

    def __init__(self) -> None:
        self._specs: dict[str, ProviderSpec] = {}
        self._loaded = False

    def add(self, spec: ProviderSpec) -> None:
        """Register a provider (a later registration of the same name replaces it)."""
        self._specs[spec.name] = spec

    def provider(
        self,
        name: str,
        *,
        capabilities: tuple[Capability, ...] = ("chat",),
        runs_in: Literal["ingress", "replica"] = "ingress",
        validate: Callable[[ModelTarget], None] | None = None,
        description: str = "",
    ) -> Callable[[Callable[[ModelTarget], Any]], Callable[[ModelTarget], Any]]:
        """Decorator form of :meth:`add` for a factory function."""

        def deco(factory: Callable[[ModelTarget], Any]) -> Callable[[ModelTarget], Any]:
            self.add(
                ProviderSpec(
                    name=name,
                    factory=factory,
                    capabilities=frozenset(capabilities),
                    runs_in=runs_in,
                    validate=validate,
                    description=description,
                )
            )
            return factory

        return deco

    def load_entry_points(self) -> None:
        """Import every ``workbench.providers`` entry point and call its ``register``."""
        self._loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                fn = ep.load()
                fn(self)
            except Exception:  # a broken plugin must not take the gateway down
                log.exception("provider plugin %r failed to register", ep.name)

    def _ensure(self) -> None:
        if not self._loaded:
            self.load_entry_points()

    def names(self) -> set[str]:
        """Registered provider names."""
        self._ensure()
        return set(self._specs)

    def get(self, name: str) -> ProviderSpec:
        """The spec for ``name``; KeyError when unknown."""
        self._ensure()
        return self._specs[name]


registry = ProviderRegistry()
