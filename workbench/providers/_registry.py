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


ReplicaKind = Literal["chat", "embeddings"]

_CHAT_CAPS = frozenset({"chat", "completions"})


@dataclass
class ProviderSpec:
    """What the gateway needs to know about a provider.

    ``runs_in="ingress"``: ``factory(target)`` returns a client object with async
    ``chat``/``stream``/``embed``/``close`` methods, used inside the gateway process.

    ``runs_in="replica"``: ``factory(target)`` is called inside a Ray Serve replica (by
    :func:`workbench.providers.replicas.build_replica_engine`) and returns a *blocking*
    engine that the replica drives from a worker thread. ``capabilities`` say which
    replica hosts it (:attr:`replica_kind`), and so which interface the engine implements:

    * ``("chat",)`` or ``("chat", "completions")``: the ``ModelReplica`` deployment, which
      batches concurrent requests; the engine is a
      :class:`~workbench.providers.replicas.ReplicaChatEngine`:
      ``validate(request)`` (raise ``InvalidRequestError`` for a request it cannot serve),
      ``generate_stream(requests)`` (a batch of :class:`ChatRequest` in, an iterator of
      steps out: one ``Delta | None`` per request per step, each request ending with a
      Delta that carries ``finish_reason`` and token counts) and ``served_name``
      (optional: ``device``, ``is_fallback``, ``fallback_reason``);
    * ``("embeddings",)``: the ``Embedder`` deployment; the engine is a
      :class:`~workbench.providers.replicas.ReplicaEmbeddingEngine`:
      ``encode(texts)`` (one vector per text, a list of lists or an array),
      ``count_tokens(texts)`` and ``model_name``.

    Any other capability set cannot be hosted and is refused when a config names the
    provider. The replica process looks the provider up again by name, so a
    replica-hosted provider must register through the entry-point group (not only by a
    call in the driver).
    """

    name: str
    factory: Callable[[ModelTarget], Any]
    capabilities: frozenset[str] = field(default_factory=lambda: frozenset({"chat"}))
    runs_in: Literal["ingress", "replica"] = "ingress"
    validate: Callable[[ModelTarget], None] | None = None
    description: str = ""

    @property
    def replica_kind(self) -> ReplicaKind | None:
        """The replica that hosts this provider's engine (None: none can)."""
        if self.runs_in != "replica":
            return None
        if "chat" in self.capabilities and self.capabilities <= _CHAT_CAPS:
            return "chat"
        if self.capabilities == {"embeddings"}:
            return "embeddings"
        return None

    def validate_target(self, target: ModelTarget) -> None:
        """Raise ValueError when a target's settings do not suit this provider."""
        if self.runs_in == "replica" and self.replica_kind is None:
            caps = ", ".join(sorted(self.capabilities)) or "none"
            raise ValueError(
                f"provider {self.name!r} runs in a replica but its capabilities ({caps}) "
                "match no replica: declare ('chat',) or ('chat', 'completions') for a "
                "ModelReplica-hosted engine, or ('embeddings',) for an Embedder-hosted one"
            )
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
