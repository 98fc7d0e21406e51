"""What flows through the pipeline: the incoming request, the exchange, the reply.

``Incoming`` is transport-neutral (the FastAPI adapter builds one from a Starlette
request; a test or a notebook builds one by hand). An :class:`Exchange` carries one
request through the stages; each stage is an async callable that reads and updates it
and returns ``None`` (go on) or a :class:`Reply` (short-circuit: a denial, a cache
hit, a canned answer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from workbench.pipeline.context import RequestContext

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.gateway.guarding import RequestGuard
    from workbench.pipeline.targets import Target
    from workbench.providers import ChatRequest, Completion, EmbeddingResult
    from workbench.routing import Attempt, Router

Kind = Literal["chat", "completions", "embeddings", "models", "unknown"]

BodyReader = Callable[[int], Awaitable[bytes]]
"""``read(limit)``: the whole request body, raising PayloadTooLargeError past ``limit``."""


async def _no_body(limit: int) -> bytes:
    return b""


@dataclass
class Incoming:
    """One HTTP request as the pipeline sees it."""

    kind: Kind
    endpoint: str  # the route template, e.g. "/v1/chat/completions" (bounded set)
    method: str = "POST"
    path: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    client_host: str | None = None
    read_body: BodyReader = _no_body
    model_id: str | None = None  # GET /v1/models/{id}
    status_hint: int = 404  # for kind "unknown": 400, 404, 405 or 503
    request_id: str | None = None  # chosen by the host (else a new one)
    # the host calls ``Reply.sent`` once a non-streamed reply has gone out, and the
    # request is recorded then (off the client's critical path); else before returning
    defer_record: bool = False


@dataclass
class Reply:
    """What goes back to the client: a JSON body, or an SSE stream."""

    status: int = 200
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # set when the request asked to defer its record: call once the reply went out
    # (idempotent; also fires if the reply is dropped unsent and garbage-collected)
    sent: Callable[[], Any] | None = None


@dataclass
class StreamStart:
    """A stream whose first item already arrived (so a failure before it could fail over)."""

    first: Any  # the first Delta, or None for an empty stream
    rest: AsyncIterator[Any]
    deadline: float | None  # loop time after which the rest of the stream times out


@dataclass
class Exchange:
    """One request on its way through the stages."""

    incoming: Incoming
    ctx: RequestContext
    body: Any = None  # the validated OpenAI body (pydantic)
    creq: ChatRequest | None = None  # chat / completions request (provider-neutral)
    texts: list[str] = field(default_factory=list)  # embeddings input
    guard: RequestGuard | None = None
    router: Router | None = None
    attempt: Attempt | None = None  # the attempt that answered
    target: ModelTarget | None = None  # the gateway target that answered
    answered_by: Target | None = None  # set when the policy's fallback model answered
    completion: Completion | None = None
    embedding: EmbeddingResult | None = None
    stream: StreamStart | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> Kind:
        """The kind of request (chat, completions, embeddings, models, unknown)."""
        return self.incoming.kind


Stage = Callable[[Exchange], Awaitable[Reply | None]]
"""A pipeline stage: returns ``None`` to go on, or a :class:`Reply` to answer now."""
