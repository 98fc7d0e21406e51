"""A fake Gemini API: ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` (``/v1/...`` works too).

Requests: ``contents`` (role user/model, ``parts``), ``systemInstruction``,
``generationConfig`` (``maxOutputTokens``, ``stopSequences``, ...). Answers are
``GenerateContentResponse`` objects; a stream is SSE frames (``\\r\\n`` line ends, as
Google sends) with no ``[DONE]``: text frames, then a last frame with ``finishReason``
and ``usageMetadata``. The key is read from ``x-goog-api-key`` (or ``?key=``); this fake
serves streams only with ``alt=sse``. Errors: ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from bench.fake_providers._core import FakeCore, Frame, Reply, count_words, make_reply, text_of

_FINISH = {"stop": "STOP", "stop_sequence": "STOP", "length": "MAX_TOKENS"}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def gemini_error(status: int, message: str) -> web.Response:
    """A Google-API-shaped error response."""
    err = {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}
    return web.json_response({"error": err}, status=status)


def _usage(reply: Reply, done: bool) -> dict[str, int]:
    out = len(reply.pieces) if done else 0
    return {
        "promptTokenCount": reply.prompt_tokens,
        "candidatesTokenCount": out,
        "totalTokenCount": reply.prompt_tokens + out,
    }


def _response(text: str, finish: str | None, usage: dict[str, int], model: str, rid: str) -> dict:
    cand: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return {"candidates": [cand], "usageMetadata": usage, "modelVersion": model, "responseId": rid}


def _frames(reply: Reply, model: str, rid: str) -> list[Frame]:
    pieces = reply.pieces or [""]
    frames: list[Frame] = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        finish = _FINISH[reply.finish] if last else None
        frames.append((None, _response(piece, finish, _usage(reply, last), model, rid)))
    return frames


class GeminiFormat:
    """``generateContent`` / ``streamGenerateContent``."""

    def __init__(self, core: FakeCore) -> None:
        self.core = core

    async def handle(self, request: web.Request) -> web.StreamResponse:
        got = await self.core.begin(request)
        if isinstance(got, web.Response):
            return got
        body, fault = got
        model, _, action = request.match_info["target"].partition(":")
        if action not in ("generateContent", "streamGenerateContent"):
            return gemini_error(404, f"unknown method {action!r}")
        stream = action == "streamGenerateContent"
        if stream and request.query.get("alt") != "sse":
            return gemini_error(400, "this fake serves streamGenerateContent with alt=sse only")
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return gemini_error(400, "contents is not specified")
        for c in contents:
            if not isinstance(c, dict) or c.get("role") not in ("user", "model"):
                return gemini_error(400, "Please use a valid role: user, model.")
        config = body.get("generationConfig") or {}
        user = [c for c in contents if c.get("role") == "user"]
        prompt = count_words(text_of((body.get("systemInstruction") or {}).get("parts"))) + sum(
            count_words(text_of(c.get("parts"))) for c in contents
        )
        max_tokens = config.get("maxOutputTokens")
        stops = [s for s in config.get("stopSequences") or [] if isinstance(s, str)]
        reply = make_reply(text_of(user[-1].get("parts")) if user else "", prompt,
                           max_tokens if isinstance(max_tokens, int) else None, stops)  # fmt: skip
        rid = uuid.uuid4().hex[:22]

        def render() -> dict[str, Any]:
            return _response(reply.text, _FINISH[reply.finish], _usage(reply, True), model, rid)

        frames = (lambda: _frames(reply, model, rid)) if stream else None
        return await self.core.respond(request, fault, gemini_error, render, frames)


def add_gemini_routes(app: web.Application, core: FakeCore) -> None:
    """The model method paths (``v1beta`` and ``v1``)."""
    app.router.add_post("/{api:v1beta|v1}/models/{target}", GeminiFormat(core).handle)
