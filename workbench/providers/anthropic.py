"""``anthropic``: the Anthropic Messages API.

``POST {base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version`` (the
target's ``api_version``, default ``2023-06-01``). Translation:

- ``system``/``developer`` messages -> the top-level ``system`` string; ``user`` and
  ``assistant`` messages keep their order; text parts and ``image_url`` parts (data
  URLs -> base64 image sources, http(s) URLs -> url sources) become content blocks;
  tool messages are refused (this gateway does not translate tool calls);
- ``max_tokens`` is required by Anthropic: the request's, else the target's
  ``max_new_tokens_default``; ``temperature`` (Anthropic's range is 0..1, so values
  above 1 are capped at 1), ``top_p``, ``stop`` -> ``stop_sequences``, ``user`` ->
  ``metadata.user_id``; ``seed`` has no Anthropic equivalent and is not sent;
- responses: text blocks joined; ``stop_reason`` end_turn/stop_sequence -> stop,
  max_tokens -> length, tool_use -> tool_calls, refusal -> content_filter; usage
  ``input_tokens`` (+ cache read/creation tokens) and ``output_tokens``;
- streams: ``message_start``, ``content_block_start``, ``content_block_delta``
  (``text_delta``), ``content_block_stop``, ``message_delta`` (stop_reason,
  usage.output_tokens), ``message_stop``, ``ping``, ``error``. A stream without
  ``message_stop`` is ``upstream_stream_broken``; an ``error`` event maps like its
  HTTP status would (overloaded -> 503, rate limit -> 429).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from workbench.errors import (
    InvalidRequestError,
    RateLimitError,
    ServiceUnavailableError,
    WorkbenchError,
)
from workbench.providers._content import (
    content_parts,
    image_url_of,
    obj_at,
    split_data_url,
    text_of,
)
from workbench.providers._http import HttpProvider, passthrough, validate_remote
from workbench.providers._types import ChatRequest, Completion, Delta

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.providers._registry import ProviderRegistry

DEFAULT_VERSION = "2023-06-01"
ANTHROPIC_FIELDS = frozenset({"top_k"})
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "refusal": "content_filter",
}


def _validate(target: ModelTarget) -> None:
    validate_remote(target, "anthropic")


def _block(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "image_url":
        url = image_url_of(part)
        data = split_data_url(url)
        if data is not None:
            media, b64 = data
            source = {"type": "base64", "media_type": media, "data": b64}
            return {"type": "image", "source": source}
        if url.startswith(("http://", "https://")):
            return {"type": "image", "source": {"type": "url", "url": url}}
        raise InvalidRequestError("image_url must be an http(s) or data URL", param="messages")
    raise InvalidRequestError(
        f"content parts of type {kind!r} cannot be sent to an anthropic model",
        param="messages",
        code="unsupported_content",
    )


def _content(content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    return [_block(p) for p in content_parts(content)]


def anthropic_body(
    req: ChatRequest, model: str, default_max: int, allow: tuple[str, ...]
) -> dict[str, Any]:
    """The Messages API body for ``req``."""
    if req.messages is None:
        raise InvalidRequestError(
            "anthropic models take chat messages, not a prompt", code="unsupported_endpoint"
        )
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for m in req.messages:
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(text_of(m.get("content")))
        elif role in ("user", "assistant"):
            messages.append({"role": role, "content": _content(m.get("content") or "")})
        else:
            raise InvalidRequestError(
                f"{role!r} messages cannot be sent to an anthropic model",
                param="messages",
                code="unsupported_message",
            )
    body: dict[str, Any] = passthrough(req.extra, ANTHROPIC_FIELDS, allow)
    p = req.params
    body.update(model=model, max_tokens=p.max_tokens or default_max, messages=messages)
    if system:
        body["system"] = "\n\n".join(system)
    if p.temperature is not None:
        body["temperature"] = min(p.temperature, 1.0)
    if p.top_p is not None:
        body["top_p"] = p.top_p
    if p.stop:
        body["stop_sequences"] = p.stop
    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    if req.stream:
        body["stream"] = True
    return body


def _num(v: Any) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0


def _input_tokens(usage: dict[str, Any]) -> int:
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return sum(_num(usage.get(k)) for k in keys)


class AnthropicClient(HttpProvider):
    """Calls one Anthropic Messages API target."""

    provider = "anthropic"

    def __init__(self, target: ModelTarget) -> None:
        self.version = target.api_version or DEFAULT_VERSION
        super().__init__(target)
        self.default_max = target.max_new_tokens_default
        self.url = f"{self.base_url}/v1/messages"

    def auth_headers(self) -> dict[str, str]:
        """``x-api-key`` and ``anthropic-version``."""
        headers = {"anthropic-version": self.version}
        if self.key:
            headers["x-api-key"] = self.key
        return headers

    def _body(self, req: ChatRequest) -> dict[str, Any]:
        return anthropic_body(req, self.model, self.default_max, self.allow_fields)

    async def chat(self, req: ChatRequest) -> Completion:
        """A non-streamed message."""
        data = await self.post_json(self.url, self._body(req))
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise self.malformed("a message without a content list")
        text = "".join(
            b["text"]
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
        usage = obj_at(data, "usage")
        return Completion(
            text=text,
            finish_reason=STOP_REASONS.get(str(data.get("stop_reason")), "stop"),
            prompt_tokens=_input_tokens(usage),
            completion_tokens=_num(usage.get("output_tokens")),
            upstream_request_id=data.get("id"),
        )

    def _error_event(self, obj: dict[str, Any]) -> WorkbenchError:
        err = obj_at(obj, "error")
        kind = str(err.get("type") or "error")
        msg = self.scrub(f"{self.where} sent an error event ({kind}): {err.get('message', '')}")
        if kind == "overloaded_error":
            return ServiceUnavailableError(msg, code="upstream_unavailable", upstream_status=529)
        if kind == "rate_limit_error":
            return RateLimitError(msg, code="upstream_rate_limited", upstream_status=429)
        return self.failed(f"error event ({kind}): {err.get('message', '')}")

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        """The Messages SSE stream as deltas; the last carries stop reason and usage."""
        req.stream = True
        resp = await self.post_stream(self.url, self._body(req))
        msg_id: str | None = None
        usage: dict[str, Any] = {}
        stop_reason: str | None = None
        done = False
        try:
            async for ev in self.events(resp):
                obj = self.event_json(ev)
                kind = obj.get("type") or ev.event
                if kind == "message_start":
                    message = obj_at(obj, "message")
                    msg_id = message.get("id")
                    if isinstance(message.get("usage"), dict):
                        usage.update(message["usage"])
                elif kind in ("content_block_start", "content_block_delta"):
                    text = self._event_text(kind, obj)
                    if text:
                        yield Delta(text=text)
                elif kind == "message_delta":
                    delta = obj_at(obj, "delta")
                    stop_reason = delta.get("stop_reason") or stop_reason
                    if isinstance(obj.get("usage"), dict):
                        usage.update({k: v for k, v in obj["usage"].items() if v is not None})
                elif kind == "message_stop":
                    done = True
                    break
                elif kind == "error":
                    raise self._error_event(obj)
                # ping, content_block_stop and unknown future events carry no text
        finally:
            resp.release()
        if not done:
            raise self.stream_broken("ended the stream before message_stop")
        yield Delta(
            finish_reason=STOP_REASONS.get(str(stop_reason), "stop"),
            prompt_tokens=_input_tokens(usage),
            completion_tokens=_num(usage.get("output_tokens")),
            upstream_request_id=msg_id,
        )

    @staticmethod
    def _event_text(kind: str, obj: dict[str, Any]) -> str:
        if kind == "content_block_start":
            block = obj.get("content_block")
            if isinstance(block, dict) and block.get("type") == "text":
                return str(block.get("text") or "")
            return ""
        delta = obj.get("delta")
        if isinstance(delta, dict) and delta.get("type") == "text_delta":
            return str(delta.get("text") or "")
        return ""


def register(registry: ProviderRegistry) -> None:
    """Entry point: register ``anthropic``."""

    @registry.provider(
        "anthropic",
        capabilities=("chat",),
        validate=_validate,
        description="Anthropic Messages API (x-api-key, anthropic-version)",
    )
    def _factory(target: ModelTarget) -> Any:
        return AnthropicClient(target)
