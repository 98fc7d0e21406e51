"""Fake OpenAI and Azure OpenAI upstreams (the same body and stream format).

OpenAI: ``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``.
Azure: ``POST /openai/deployments/{deployment}/chat/completions|completions|embeddings``
with a required ``api-version`` query parameter; the deployment names the model.
Streams: ``chat.completion.chunk`` / ``text_completion`` frames, a usage frame with
``choices: []`` when ``stream_options.include_usage`` is true, then ``data: [DONE]``.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from aiohttp import web

from bench.fake_providers._core import FakeCore, Frame, Reply, count_words, make_reply, text_of

_FINISH = {"stop": "stop", "stop_sequence": "stop", "length": "length"}


def openai_error(status: int, message: str) -> web.Response:
    """An OpenAI-shaped error response."""
    etype = (
        "rate_limit_error"
        if status == 429
        else "server_error"
        if status >= 500
        else "invalid_request_error"
    )
    err = {"message": message, "type": etype, "param": None, "code": None}
    return web.json_response({"error": err}, status=status)


def _max_tokens(body: dict[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def _stops(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    return [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]


def _usage(reply: Reply) -> dict[str, int]:
    n = len(reply.pieces)
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": n,
        "total_tokens": reply.prompt_tokens + n,
    }


class OpenAIFormat:
    """Handlers for both OpenAI and Azure paths."""

    def __init__(self, core: FakeCore) -> None:
        self.core = core

    def _chat_reply(self, body: dict[str, Any]) -> Reply | None:
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return None
        user = [m for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
        last = text_of(user[-1].get("content")) if user else ""
        prompt = sum(count_words(text_of(m.get("content"))) for m in msgs if isinstance(m, dict))
        return make_reply(last, prompt, _max_tokens(body), _stops(body))

    async def _generate(self, request: web.Request, chat: bool, model: str | None) -> Any:
        got = await self.core.begin(request)
        if isinstance(got, web.Response):
            return got
        body, fault = got
        if chat:
            reply = self._chat_reply(body)
        elif isinstance(body.get("prompt"), str):
            p = body["prompt"]
            reply = make_reply(p, count_words(p), _max_tokens(body), _stops(body))
        else:
            reply = None
        if reply is None:
            return openai_error(400, "messages (or prompt) is required")
        model = model or str(body.get("model") or "")
        opts = body.get("stream_options")
        usage = isinstance(opts, dict) and bool(opts.get("include_usage"))
        r = reply
        frames = (lambda: self._frames(r, chat, model, usage)) if body.get("stream") else None
        return await self.core.respond(
            request, fault, openai_error, lambda: self._render(r, chat, model), frames
        )

    @staticmethod
    def _render(reply: Reply, chat: bool, model: str) -> dict[str, Any]:
        finish = _FINISH[reply.finish]
        if chat:
            message = {"role": "assistant", "content": reply.text, "refusal": None}
            choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
        else:
            choice = {"index": 0, "text": reply.text, "finish_reason": finish}
        return {
            "id": ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24],
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": _usage(reply),
        }

    @staticmethod
    def _frames(reply: Reply, chat: bool, model: str, usage: bool) -> list[Frame]:
        cid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        obj = "chat.completion.chunk" if chat else "text_completion"
        head = {"id": cid, "object": obj, "created": int(time.time()), "model": model}

        def choice(text: str | None, finish: str | None) -> dict[str, Any]:
            if chat:
                delta = {} if text is None else {"content": text}
                c: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
            else:
                c = {"index": 0, "text": text or "", "finish_reason": finish}
            return {**head, "choices": [c]}

        frames: list[Frame] = []
        if chat:
            first = {"index": 0, "delta": {"role": "assistant", "content": ""}}
            frames.append((None, {**head, "choices": [{**first, "finish_reason": None}]}))
        frames += [(None, choice(p, None)) for p in reply.pieces]
        frames.append((None, choice(None, _FINISH[reply.finish])))
        if usage:
            frames.append((None, {**head, "choices": [], "usage": _usage(reply)}))
        frames.append((None, "[DONE]"))
        return frames

    async def _embed(self, request: web.Request, model: str | None) -> web.StreamResponse:
        got = await self.core.begin(request)
        if isinstance(got, web.Response):
            return got
        body, fault = got
        inp = body.get("input")
        texts = [inp] if isinstance(inp, str) else inp
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return openai_error(400, "input must be a string or a list of strings")
        model = model or str(body.get("model") or "")

        def render() -> dict[str, Any]:
            rows = [
                {"object": "embedding", "index": i, "embedding": _vector(t)}
                for i, t in enumerate(texts)
            ]
            n = count_words(*texts)
            usage = {"prompt_tokens": n, "total_tokens": n}
            return {"object": "list", "data": rows[::-1], "model": model, "usage": usage}

        return await self.core.respond(request, fault, openai_error, render, None)

    # ------------------------------------------------------------ routes
    async def chat(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, True, None)

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, False, None)

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self._embed(request, None)

    async def azure(self, request: web.Request) -> web.StreamResponse:
        if not request.query.get("api-version"):
            await self.core.begin(request)
            return openai_error(404, "Resource not found (missing api-version)")
        dep, kind = request.match_info["deployment"], request.match_info["kind"]
        if kind == "embeddings":
            return await self._embed(request, dep)
        return await self._generate(request, kind == "chat/completions", dep)


def _vector(text: str, dim: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 255.0, 6) for b in digest[:dim]]


def add_openai_routes(app: web.Application, core: FakeCore) -> None:
    """OpenAI paths under ``/v1``."""
    f = OpenAIFormat(core)
    app.router.add_post("/v1/chat/completions", f.chat)
    app.router.add_post("/v1/completions", f.completions)
    app.router.add_post("/v1/embeddings", f.embeddings)


def add_azure_routes(app: web.Application, core: FakeCore) -> None:
    """Azure deployment paths."""
    f = OpenAIFormat(core)
    path = "/openai/deployments/{deployment}/{kind:chat/completions|completions|embeddings}"
    app.router.add_post(path, f.azure)
