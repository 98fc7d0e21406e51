"""``cohere``: Cohere's v2 Chat API.

``POST {base_url}/v2/chat`` with ``Authorization: Bearer <key>``. Translation:

- messages keep their order and roles (``developer`` -> ``system``; Cohere v2 takes
  system messages in the list); text and ``image_url`` parts pass as Cohere content
  parts; tool messages are refused (tool calls are not translated);
- ``max_tokens``, ``temperature``, ``top_p`` -> ``p``, ``stop`` -> ``stop_sequences``,
  ``seed``; passthrough ``top_k`` -> ``k``, ``presence_penalty``, ``frequency_penalty``;
- responses: ``message.content[]`` text parts; ``finish_reason`` COMPLETE/STOP_SEQUENCE
  -> stop, MAX_TOKENS -> length, TOOL_CALL -> tool_calls, ERROR/TIMEOUT -> an upstream
  error; usage from ``usage.billed_units`` (what is charged), else ``usage.tokens``;
- streams: SSE events ``message-start``, ``content-start``, ``content-delta``,
  ``content-end``, ``message-end`` (finish_reason, usage); a stream without
  ``message-end`` is ``upstream_stream_broken``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidRequestError
from workbench.providers._content import content_parts, image_url_of
from workbench.providers._http import HttpProvider, passthrough, validate_remote
from workbench.providers._types import ChatRequest, Completion, Delta

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.providers._registry import ProviderRegistry

#: OpenAI-named passthrough fields and their Cohere names.
COHERE_FIELDS = {
    "top_k": "k",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}
FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
}
FAILED = {"ERROR", "TIMEOUT"}


def _validate(target: ModelTarget) -> None:
    validate_remote(target, "cohere")


def _content(content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    out: list[dict[str, Any]] = []
    for part in content_parts(content):
        kind = part.get("type")
        if kind == "text":
            out.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "image_url":
            out.append({"type": "image_url", "image_url": {"url": image_url_of(part)}})
        else:
            raise InvalidRequestError(
                f"content parts of type {kind!r} cannot be sent to a cohere model",
                param="messages",
                code="unsupported_content",
            )
    return out


def cohere_body(req: ChatRequest, model: str, allow: tuple[str, ...]) -> dict[str, Any]:
    """The v2 chat body for ``req``."""
    if req.messages is None:
        raise InvalidRequestError(
            "cohere models take chat messages, not a prompt", code="unsupported_endpoint"
        )
    messages: list[dict[str, Any]] = []
    for m in req.messages:
        role = m.get("role")
        if role not in ("system", "developer", "user", "assistant"):
            raise InvalidRequestError(
                f"{role!r} messages cannot be sent to a cohere model",
                param="messages",
                code="unsupported_message",
            )
        role = "system" if role == "developer" else role
        messages.append({"role": role, "content": _content(m.get("content") or "")})
    extra = passthrough(req.extra, COHERE_FIELDS, allow)
    body: dict[str, Any] = {COHERE_FIELDS.get(k, k): v for k, v in extra.items()}
    body.update(model=model, messages=messages, stream=req.stream)
    p = req.params
    for key, value in (
        ("max_tokens", p.max_tokens),
        ("temperature", p.temperature),
        ("p", p.top_p),
        ("stop_sequences", p.stop or None),
        ("seed", p.seed),
    ):
        if value is not None:
            body[key] = value
    return body


def _num(v: Any) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0


def _usage(usage: Any) -> tuple[int, int]:
    """(input, output) tokens: billed units when given, else the raw token counts."""
    if not isinstance(usage, dict):
        return 0, 0
    for key in ("billed_units", "tokens"):
        counts = usage.get(key)
        if isinstance(counts, dict) and counts:
            return _num(counts.get("input_tokens")), _num(counts.get("output_tokens"))
    return 0, 0


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


class CohereClient(HttpProvider):
    """Calls one Cohere v2 chat model."""

    provider = "cohere"

    def __init__(self, target: ModelTarget) -> None:
        super().__init__(target)
        self.url = f"{self.base_url}/v2/chat"

    def _finish(self, reason: Any) -> str:
        reason = str(reason or "COMPLETE")
        if reason in FAILED:
            raise self.failed(f"generation ended with finish_reason {reason}")
        return FINISH.get(reason, "stop")

    async def chat(self, req: ChatRequest) -> Completion:
        """A non-streamed chat call."""
        data = await self.post_json(self.url, cohere_body(req, self.model, self.allow_fields))
        content = _get(data, "message", "content")
        if not isinstance(content, list):
            raise self.malformed("a response without message.content")
        text = "".join(
            c["text"]
            for c in content
            if isinstance(c, dict) and c.get("type") == "text" and isinstance(c.get("text"), str)
        )
        prompt, completion = _usage(data.get("usage"))
        return Completion(
            text=text,
            finish_reason=self._finish(data.get("finish_reason")),
            prompt_tokens=prompt,
            completion_tokens=completion,
            upstream_request_id=data.get("id"),
        )

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        """The v2 chat SSE stream as deltas; the last carries finish reason and usage."""
        req.stream = True
        resp = await self.post_stream(self.url, cohere_body(req, self.model, self.allow_fields))
        msg_id: str | None = None
        end: dict[str, Any] | None = None
        try:
            async for ev in self.events(resp):
                obj = self.event_json(ev)
                kind = obj.get("type") or ev.event
                if kind == "message-start":
                    msg_id = obj.get("id")
                elif kind in ("content-start", "content-delta"):
                    text = _get(obj, "delta", "message", "content", "text")
                    if isinstance(text, str) and text:
                        yield Delta(text=text)
                elif kind == "message-end":
                    delta = obj.get("delta")
                    end = delta if isinstance(delta, dict) else {}
                    break
                # content-end, tool and citation events carry no text
        finally:
            resp.release()
        if end is None:
            raise self.stream_broken("ended the stream before message-end")
        prompt, completion = _usage(end.get("usage"))
        yield Delta(
            finish_reason=self._finish(end.get("finish_reason")),
            prompt_tokens=prompt,
            completion_tokens=completion,
            upstream_request_id=msg_id,
        )


def register(registry: ProviderRegistry) -> None:
    """Entry point: register ``cohere``."""

    @registry.provider(
        "cohere",
        capabilities=("chat",),
        validate=_validate,
        description="Cohere v2 Chat API",
    )
    def _factory(target: ModelTarget) -> Any:
        return CohereClient(target)
