"""The provider registry.

Providers are resolved by name. Built-ins register exactly like third-party plugins:
through the ``workbench.providers`` entry-point group, whose entry points name a
``register(registry)`` function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from workbench._plugins import PluginRegistry

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


class ProviderRegistry(PluginRegistry[ProviderSpec]):
    """Name -> :class:`ProviderSpec`, filled from entry points on first use."""

    group = ENTRY_POINT_GROUP
    kind = "provider"

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


registry = ProviderRegistry()
