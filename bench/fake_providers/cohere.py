"""A fake Cohere v2 Chat API: ``POST /v2/chat``.

Requests: ``model``, ``messages`` (roles system/user/assistant/tool), ``max_tokens``,
``stop_sequences``, ``stream``. Answers: ``{"id", "finish_reason", "message":
{"role", "content": [{"type": "text", "text"}]}, "usage": {"billed_units", "tokens"}}``.
Streams: ``message-start``, ``content-start``, ``content-delta`` ..., ``content-end``,
``message-end`` (finish_reason, usage), each as ``event: <type>`` + ``data:``.
Errors: ``{"id", "message"}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from bench.fake_providers._core import FakeCore, Frame, Reply, count_words, make_reply, text_of

_FINISH = {"stop": "COMPLETE", "stop_sequence": "STOP_SEQUENCE", "length": "MAX_TOKENS"}
#: Cohere bills fewer input tokens than it processes (its own preamble is free).
PREAMBLE_TOKENS = 7


def cohere_error(status: int, message: str) -> web.Response:
    """A Cohere-shaped error response."""
    return web.json_response({"id": uuid.uuid4().hex, "message": message}, status=status)


def _usage(reply: Reply) -> dict[str, Any]:
    out = len(reply.pieces)
    return {
        "billed_units": {"input_tokens": reply.prompt_tokens, "output_tokens": out},
        "tokens": {"input_tokens": reply.prompt_tokens + PREAMBLE_TOKENS, "output_tokens": out},
    }


def _render(reply: Reply, msg_id: str) -> dict[str, Any]:
    return {
        "id": msg_id,
        "finish_reason": _FINISH[reply.finish],
        "message": {"role": "assistant", "content": [{"type": "text", "text": reply.text}]},
        "usage": _usage(reply),
    }


def _frames(reply: Reply, msg_id: str) -> list[Frame]:
    start = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": []}
    frames: list[Frame] = [
        ("message-start", {"id": msg_id, "type": "message-start", "delta": {"message": start}}),
        (
            "content-start",
            {
                "type": "content-start",
                "index": 0,
                "delta": {"message": {"content": {"type": "text", "text": ""}}},
            },
        ),
    ]
    for piece in reply.pieces:
        delta = {"message": {"content": {"text": piece}}}
        frames.append(("content-delta", {"type": "content-delta", "index": 0, "delta": delta}))
    frames.append(("content-end", {"type": "content-end", "index": 0}))
    end = {"finish_reason": _FINISH[reply.finish], "usage": _usage(reply)}
    frames.append(("message-end", {"type": "message-end", "delta": end}))
    return frames


class CohereFormat:
    """``POST /v2/chat``."""

    def __init__(self, core: FakeCore) -> None:
        self.core = core

    async def chat(self, request: web.Request) -> web.StreamResponse:
        got = await self.core.begin(request)
        if isinstance(got, web.Response):
            return got
        body, fault = got
        msgs = body.get("messages")
        if not isinstance(body.get("model"), str) or not body["model"]:
            return cohere_error(400, "invalid request: model must be a string")
        if not isinstance(msgs, list) or not msgs:
            return cohere_error(400, "invalid request: messages must not be empty")
        roles = {"system", "user", "assistant", "tool"}
        if any(not isinstance(m, dict) or m.get("role") not in roles for m in msgs):
            return cohere_error(400, "invalid request: unknown message role")
        user = [m for m in msgs if m.get("role") == "user"]
        prompt = sum(count_words(text_of(m.get("content"))) for m in msgs)
        max_tokens = body.get("max_tokens")
        stops = [s for s in body.get("stop_sequences") or [] if isinstance(s, str)]
        last = text_of(user[-1].get("content")) if user else ""
        reply = make_reply(last, prompt, max_tokens if isinstance(max_tokens, int) else None, stops)
        msg_id = str(uuid.uuid4())
        frames = (lambda: _frames(reply, msg_id)) if body.get("stream") else None
        return await self.core.respond(
            request, fault, cohere_error, lambda: _render(reply, msg_id), frames
        )


def add_cohere_routes(app: web.Application, core: FakeCore) -> None:
    """The v2 chat path."""
    app.router.add_post("/v2/chat", CohereFormat(core).chat)
