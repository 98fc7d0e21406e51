"""Model providers: a registry of named factories plus the shared request types.

Built-in providers (``echo``, ``openai-compatible``, ``local``, ``embeddings``) register
through the ``workbench.providers`` entry-point group, as third-party ones do.
"""

from workbench.providers._registry import (
    ENTRY_POINT_GROUP,
    ProviderRegistry,
    ProviderSpec,
    registry,
)
from workbench.providers._types import (
    ChatRequest,
    Completion,
    Delta,
    EmbeddingResult,
    GenerationParams,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ChatRequest",
    "Completion",
    "Delta",
    "EmbeddingResult",
    "GenerationParams",
    "ProviderRegistry",
    "ProviderSpec",
    "registry",
]
