"""A fake OpenAI-compatible upstream with a fixed delay, for benchmarks and tests.

Endpoints (the real OpenAI wire format):

- ``POST /v1/chat/completions``: non-streaming, and SSE streaming
  (``chat.completion.chunk`` events, a final usage chunk with ``choices: []`` when
  ``stream_options.include_usage`` is true, then ``data: [DONE]``);
- ``POST /v1/completions``: the legacy text completions, non-streaming and streaming;
- ``GET /v1/models``;
- ``GET /_stats``: requests served so far (not part of OpenAI's API).

The reply is ``max_tokens`` (or ``max_completion_tokens``, default 16) words of
filler text, one "token" per word; every response waits ``--delay-ms`` before its
first byte, streamed chunks follow back to back (``--chunk-delay-ms`` spaces them).
Any model name is accepted and echoed back; the Authorization header is not checked,
but the last one seen is reported by ``GET /_stats`` (tests check which key a proxy sent).

Run: ``python -m bench.fake_upstream --port 8900 --delay-ms 20`` (``--port 0`` picks a
free port; it prints ``READY port=<p>`` once it listens). From Python:
``await start_fake_upstream(port=0, delay_ms=20) -> (runner, port)`` in a running
loop, or ``with FakeUpstreamThread(delay_ms=20) as up: up.base_url`` from sync code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import threading
import time
import uuid
from typing import Any

from aiohttp import web

from bench._proc import LOOPBACK, install_uvloop

MODELS = ("fake-model", "fake-model-large")
DEFAULT_MAX_TOKENS = 16
_WORDS = (
    "the quick brown fox jumps over the lazy dog while a small model answers "
    "every question with perfectly plausible words and nothing else"
).split()


def _completion_words(n: int) -> list[str]:
    return [(_WORDS[i % len(_WORDS)] + " ") for i in range(max(0, n))]


def _count_prompt_tokens(body: dict[str, Any]) -> int:
    """Roughly one token per whitespace-separated word, plus 4 per message."""
    if "messages" in body:
        n = 0
        for m in body.get("messages") or []:
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, str):
                n += len(content.split())
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        n += len(part["text"].split())
            n += 4
        return n + 2
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        return sum(len(str(p).split()) for p in prompt)
    return len(str(prompt or "").split())


def _max_tokens(body: dict[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            return v
    return DEFAULT_MAX_TOKENS


def _error(status: int, message: str, etype: str = "invalid_request_error") -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": etype, "param": None, "code": None}},
        status=status,
    )


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


_SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
}


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class FakeUpstream:
    """The request handlers; ``delay_ms`` and counters live here."""

    def __init__(self, delay_ms: float = 20.0, chunk_delay_ms: float = 0.0) -> None:
        self.delay_s = max(0.0, delay_ms) / 1000.0
        self.chunk_delay_s = max(0.0, chunk_delay_ms) / 1000.0
        self.served: dict[str, int] = {"chat": 0, "completions": 0, "models": 0}
        self.last_authorization: str | None = None

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        if not isinstance(body.get("model"), str) or not body["model"]:
            return _error(400, "you must provide a model parameter")
        return body

    async def _wait(self) -> None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)

    # ------------------------------------------------------------ chat
    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "messages must be a non-empty array")
        self.served["chat"] += 1
        self.last_authorization = request.headers.get("Authorization")
        model = body["model"]
        words = _completion_words(_max_tokens(body))
        prompt_tokens = _count_prompt_tokens(body)
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        await self._wait()
        if not body.get("stream"):
            text = "".join(words).rstrip()
            return web.json_response(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text, "refusal": None},
                            "logprobs": None,
                            "finish_reason": "length" if words else "stop",
                        }
                    ],
                    "usage": _usage(prompt_tokens, len(words)),
                }
            )
        opts = body.get("stream_options") or {}
        include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))
        resp = web.StreamResponse(status=200, headers=_SSE_HEADERS)
        await resp.prepare(request)

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            c: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                c["usage"] = None
            return c

        await resp.write(_sse(chunk({"role": "assistant", "content": "", "refusal": None}, None)))
        for w in words:
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            await resp.write(_sse(chunk({"content": w}, None)))
        await resp.write(_sse(chunk({}, "length" if words else "stop")))
        if include_usage:
            await resp.write(
                _sse(
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "system_fingerprint": "fp_fake",
                        "choices": [],
                        "usage": _usage(prompt_tokens, len(words)),
                    }
                )
            )
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    # ------------------------------------------------------------ legacy completions
    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        if "prompt" not in body:
            return _error(400, "you must provide a prompt parameter")
        self.served["completions"] += 1
        model = body["model"]
        words = _completion_words(_max_tokens(body))
        prompt_tokens = _count_prompt_tokens(body)
        cid = "cmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        finish = "length" if words else "stop"
        await self._wait()
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": cid,
                    "object": "text_completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [
                        {
                            "index": 0,
                            "text": "".join(words).rstrip(),
                            "logprobs": None,
                            "finish_reason": finish,
                        }
                    ],
                    "usage": _usage(prompt_tokens, len(words)),
                }
            )
        opts = body.get("stream_options") or {}
        include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))
        resp = web.StreamResponse(status=200, headers=_SSE_HEADERS)
        await resp.prepare(request)
        pieces = [*words, ""]
        for i, w in enumerate(pieces):
            last = i == len(pieces) - 1
            if self.chunk_delay_s and not last:
                await asyncio.sleep(self.chunk_delay_s)
            c: dict[str, Any] = {
                "id": cid,
                "object": "text_completion",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "text": w,
                        "logprobs": None,
                        "finish_reason": finish if last else None,
                    }
                ],
            }
            if include_usage:
                c["usage"] = None
            await resp.write(_sse(c))
        if include_usage:
            await resp.write(
                _sse(
                    {
                        "id": cid,
                        "object": "text_completion",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": _usage(prompt_tokens, len(words)),
                    }
                )
            )
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    # ------------------------------------------------------------ models, stats
    async def models(self, _request: web.Request) -> web.Response:
        self.served["models"] += 1
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": "bench"}
                    for m in MODELS
                ],
            }
        )

    async def stats(self, _request: web.Request) -> web.Response:
        return web.json_response({**self.served, "last_authorization": self.last_authorization})


UPSTREAM_KEY = web.AppKey("upstream", FakeUpstream)


def build_app(delay_ms: float = 20.0, chunk_delay_ms: float = 0.0) -> web.Application:
    """The aiohttp application (``app[UPSTREAM_KEY]`` holds the handlers and counters)."""
    up = FakeUpstream(delay_ms, chunk_delay_ms)
    app = web.Application()
    app[UPSTREAM_KEY] = up
    app.router.add_post("/v1/chat/completions", up.chat)
    app.router.add_post("/v1/completions", up.completions)
    app.router.add_get("/v1/models", up.models)
    app.router.add_get("/_stats", up.stats)
    return app


async def start_fake_upstream(
    port: int = 0, delay_ms: float = 20.0, chunk_delay_ms: float = 0.0, host: str = LOOPBACK
) -> tuple[web.AppRunner, int]:
    """Start the server in the running loop; (runner, bound port). Stop: runner.cleanup()."""
    runner = web.AppRunner(build_app(delay_ms, chunk_delay_ms), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    server: Any = site._server  # the asyncio Server: the only way to learn the bound port
    bound = server.sockets[0].getsockname()[1] if server is not None else port
    return runner, int(bound)


class FakeUpstreamThread:
    """The fake upstream on its own event loop in a daemon thread (for sync tests).

    ``with FakeUpstreamThread(delay_ms=5) as up: ... up.base_url ...``
    """

    def __init__(self, port: int = 0, delay_ms: float = 20.0, chunk_delay_ms: float = 0.0):
        self._args = (port, delay_ms, chunk_delay_ms)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``"""
        return f"http://{LOOPBACK}:{self.port}/v1"

    @property
    def app(self) -> FakeUpstream:
        """The handlers and their counters (``served``), once started."""
        assert self._runner is not None, "not started"
        return self._runner.app[UPSTREAM_KEY]

    def start(self) -> FakeUpstreamThread:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(start_fake_upstream(*self._args), self._loop)
        self._runner, self.port = fut.result(timeout=10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            fut.result(timeout=10)
            self._runner = None
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> FakeUpstreamThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _serve(port: int, delay_ms: float, chunk_delay_ms: float, host: str) -> None:
    runner, bound = await start_fake_upstream(port, delay_ms, chunk_delay_ms, host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY port={bound}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.fake_upstream", description=__doc__.split("\n")[0]
    )
    p.add_argument("--host", default=LOOPBACK, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    p.add_argument("--delay-ms", type=float, default=20.0, help="delay before the first byte")
    p.add_argument("--chunk-delay-ms", type=float, default=0.0, help="gap between SSE chunks")
    a = p.parse_args(argv)
    install_uvloop()
    asyncio.run(_serve(a.port, a.delay_ms, a.chunk_delay_ms, a.host))


if __name__ == "__main__":
    main()
