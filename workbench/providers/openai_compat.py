"""``openai-compatible``: any remote endpoint speaking the OpenAI wire format.

Requests go to ``{base_url}/chat/completions``, ``/completions`` and ``/embeddings``
with ``Authorization: Bearer <key>``; the key comes from ``api_key_env`` or
``api_key_file`` only. Streams are OpenAI SSE (``data: {chunk}`` ... ``data: [DONE]``);
a stream that ends without ``[DONE]`` is an ``upstream_stream_broken`` error, never a
silent truncation. Transport, error mapping and scrubbing live in
:mod:`workbench.providers._http`; ``azure-openai`` reuses this client with its own URLs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from workbench.providers._content import obj_at
from workbench.providers._http import HttpProvider, passthrough, validate_remote
from workbench.providers._types import ChatRequest, Completion, Delta, EmbeddingResult

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.providers._registry import ProviderRegistry

#: Request fields a caller may pass through to an OpenAI-format upstream. ``store`` and
#: ``service_tier`` (billing / data retention) also need the target's ``allow_fields``.
OPENAI_FIELDS = frozenset(
    {
        "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call",
        "response_format", "logprobs", "top_logprobs", "presence_penalty",
        "frequency_penalty", "logit_bias", "reasoning_effort", "modalities", "audio",
        "prediction", "verbosity", "echo", "suffix", "best_of",
    }
)  # fmt: skip


def _validate(target: ModelTarget) -> None:
    validate_remote(target, "openai-compatible")


def openai_body(req: ChatRequest, allow_fields: tuple[str, ...]) -> dict[str, Any]:
    """The OpenAI request body for ``req`` (without ``model``)."""
    body: dict[str, Any] = passthrough(req.extra, OPENAI_FIELDS, allow_fields)
    if req.prompt is not None:
        body["prompt"] = req.prompt
    else:
        body["messages"] = req.messages
    p = req.params
    if p.max_tokens is not None:
        body["max_tokens"] = p.max_tokens
    if p.temperature is not None:
        body["temperature"] = p.temperature
    if p.top_p is not None:
        body["top_p"] = p.top_p
    if p.stop:
        body["stop"] = p.stop
    if p.seed is not None:
        body["seed"] = p.seed
    if req.user is not None:
        body["user"] = req.user
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _choice_text(choice: dict[str, Any], chat: bool, delta: bool) -> str:
    if chat:
        part = choice.get("delta" if delta else "message") or {}
        content = part.get("content") if isinstance(part, dict) else None
        return content if isinstance(content, str) else ""
    text = choice.get("text")
    return text if isinstance(text, str) else ""


def _int(v: Any) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0


class OpenAICompatClient(HttpProvider):
    """Calls one remote OpenAI-compatible target."""

    provider = "openai-compatible"

    def url(self, kind: str) -> str:
        """The URL of ``kind`` (``chat/completions``, ``completions``, ``embeddings``)."""
        return f"{self.base_url}/{kind}"

    def body(self, req: ChatRequest) -> dict[str, Any]:
        """The request body (OpenAI: with the upstream model name)."""
        return {**openai_body(req, self.allow_fields), "model": self.model}

    async def chat(self, req: ChatRequest) -> Completion:
        """A non-streamed completion."""
        chat = req.prompt is None
        data = await self.post_json(
            self.url("chat/completions" if chat else "completions"), self.body(req)
        )
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self.malformed("no choices")
        choice = choices[0]
        usage = obj_at(data, "usage")
        return Completion(
            text=_choice_text(choice, chat, delta=False),
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")),
            upstream_request_id=data.get("id"),
        )

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        """Pass the upstream SSE stream through as deltas; the last carries usage."""
        chat = req.prompt is None
        req.stream = True
        resp = await self.post_stream(
            self.url("chat/completions" if chat else "completions"), self.body(req)
        )
        finish: str | None = None
        usage: dict[str, Any] = {}
        upstream_id: str | None = None
        done = False
        try:
            async for ev in self.events(resp):
                if ev.data.strip() == "[DONE]":
                    done = True
                    break
                chunk = self.event_json(ev)
                if "error" in chunk:
                    raise self.failed(f"error mid-stream: {chunk['error']}")
                upstream_id = upstream_id or chunk.get("id")
                if isinstance(chunk.get("usage"), dict):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    if not isinstance(choice, dict):
                        raise self.malformed("a malformed SSE chunk (choice is not an object)")
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    text = _choice_text(choice, chat, delta=True)
                    if text:
                        yield Delta(text=text)
        finally:
            resp.release()
        if not done:
            raise self.stream_broken("ended the stream before [DONE]")
        yield Delta(
            finish_reason=finish or "stop",
            prompt_tokens=_int(usage.get("prompt_tokens")) if usage else None,
            completion_tokens=_int(usage.get("completion_tokens")) if usage else None,
            upstream_request_id=upstream_id,
        )

    def embed_body(self, texts: list[str]) -> dict[str, Any]:
        """The embeddings request body."""
        return {"model": self.model, "input": texts}

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        """Remote embeddings, in input order."""
        data = await self.post_json(self.url("embeddings"), self.embed_body(texts))
        rows = data.get("data")
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and isinstance(r.get("embedding"), list) for r in rows
        ):
            raise self.malformed("an embeddings body without data[].embedding")
        rows = sorted(rows, key=lambda r: _int(r.get("index")))
        if len(rows) != len(texts):
            raise self.malformed(f"{len(rows)} embeddings for {len(texts)} inputs")
        usage = obj_at(data, "usage")
        return EmbeddingResult(
            vectors=[r["embedding"] for r in rows],
            prompt_tokens=_int(usage.get("prompt_tokens")),
            model=data.get("model") or self.model,
        )


def register(registry: ProviderRegistry) -> None:
    """Entry point: register ``openai-compatible``."""

    @registry.provider(
        "openai-compatible",
        capabilities=("chat", "completions", "embeddings"),
        validate=_validate,
        description="Remote OpenAI-compatible HTTP endpoint",
    )
    def _factory(target: ModelTarget) -> Any:
        return OpenAICompatClient(target)
