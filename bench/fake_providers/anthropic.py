"""A fake Anthropic Messages API: ``POST /v1/messages``.

Like the real API it requires the ``anthropic-version`` header and ``max_tokens``,
takes the system prompt as top-level ``system`` (a string or text blocks), and
streams ``message_start``, ``content_block_start``, ``ping``, ``content_block_delta``
(``text_delta``) ..., ``content_block_stop``, ``message_delta`` (stop_reason,
usage.output_tokens), ``message_stop``, each as ``event: <type>`` + ``data:``.
Errors are ``{"type": "error", "error": {"type", "message"}}`` (529 = overloaded).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from bench.fake_providers._core import FakeCore, Frame, Reply, count_words, make_reply, text_of

_STOP = {"stop": "end_turn", "stop_sequence": "stop_sequence", "length": "max_tokens"}
_ERR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def anthropic_error(status: int, message: str) -> web.Response:
    """An Anthropic-shaped error response."""
    etype = _ERR_TYPES.get(status, "api_error")
    body = {"type": "error", "error": {"type": etype, "message": message}}
    return web.json_response(body, status=status)


def _render(reply: Reply, model: str, msg_id: str) -> dict[str, Any]:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": _STOP[reply.finish],
        "stop_sequence": reply.stop_sequence,
        "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": len(reply.pieces)},
    }


def _frames(reply: Reply, model: str, msg_id: str) -> list[Frame]:
    start = {**_render(reply, model, msg_id), "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": reply.prompt_tokens, "output_tokens": 1}
    frames: list[Frame] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    for piece in reply.pieces:
        delta = {"type": "text_delta", "text": piece}
        frames.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    frames.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    end: dict[str, Any] = {"stop_reason": _STOP[reply.finish]}
    end["stop_sequence"] = reply.stop_sequence
    usage = {"output_tokens": len(reply.pieces)}
    frames.append(("message_delta", {"type": "message_delta", "delta": end, "usage": usage}))
    frames.append(("message_stop", {"type": "message_stop"}))
    return frames


class AnthropicFormat:
    """``POST /v1/messages``."""

    def __init__(self, core: FakeCore) -> None:
        self.core = core

    async def messages(self, request: web.Request) -> web.StreamResponse:
        got = await self.core.begin(request)
        if isinstance(got, web.Response):
            return got
        body, fault = got
        if not request.headers.get("anthropic-version"):
            return anthropic_error(400, "anthropic-version: header is required")
        msgs = body.get("messages")
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            return anthropic_error(400, "max_tokens: Field required")
        if not isinstance(msgs, list) or not msgs:
            return anthropic_error(400, "messages: at least one message is required")
        if any(isinstance(m, dict) and m.get("role") == "system" for m in msgs):
            return anthropic_error(400, 'messages: Unexpected role "system"')
        user = [m for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
        prompt = count_words(text_of(body.get("system"))) + sum(
            count_words(text_of(m.get("content"))) for m in msgs if isinstance(m, dict)
        )
        stops = [s for s in body.get("stop_sequences") or [] if isinstance(s, str)]
        last = text_of(user[-1].get("content")) if user else ""
        reply = make_reply(last, prompt, max_tokens, stops)
        model, msg_id = str(body.get("model") or ""), "msg_" + uuid.uuid4().hex[:24]
        frames = (lambda: _frames(reply, model, msg_id)) if body.get("stream") else None
        return await self.core.respond(
            request, fault, anthropic_error, lambda: _render(reply, model, msg_id), frames
        )


def add_anthropic_routes(app: web.Application, core: FakeCore) -> None:
    """The Messages API path."""
    app.router.add_post("/v1/messages", AnthropicFormat(core).messages)
