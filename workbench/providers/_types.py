"""Provider-neutral request and result types (no Ray, no HTTP framework)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class GenerationParams:
    """Sampling parameters, already validated by the ingress."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


@dataclass
class ChatRequest:
    """A chat (``messages``) or text (``prompt``) generation request for one target.

    Exactly one of ``messages`` and ``prompt`` is set. ``model`` is the upstream
    model name of the target (not the name the client sent).
    """

    model: str
    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    params: GenerationParams = field(default_factory=GenerationParams)
    stream: bool = False
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # passthrough fields for remote APIs


@dataclass
class Completion:
    """A finished generation."""

    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    replica: str | None = None
    batch_size: int | None = None
    queue_wait_ms: float | None = None
    upstream_request_id: str | None = None


@dataclass
class Delta:
    """One streamed piece. The last one has ``finish_reason`` and the token counts."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    replica: str | None = None
    batch_size: int | None = None
    queue_wait_ms: float | None = None
    upstream_request_id: str | None = None


@dataclass
class EmbeddingResult:
    """Vectors for a list of inputs, in input order."""

    vectors: list[list[float]]
    prompt_tokens: int = 0
    model: str = ""
