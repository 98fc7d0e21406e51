"""Shared machinery of the fake providers: recording, fault switch, replies, responding.

Each wire format (``openai.py``, ``anthropic.py``, ...) parses its request into a
:class:`Reply` and renders it as a JSON body or a list of SSE :data:`Frame` s;
:meth:`FakeCore.respond` applies the fault switch and writes the answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

#: One SSE frame: the ``event:`` name (None: no event line) and the data (a JSON object,
#: or a string written as is, e.g. OpenAI's ``[DONE]``).
Frame = tuple[str | None, dict[str, Any] | str]
#: Builds a provider-shaped error response from (status, message).
ErrorFn = Callable[[int, str], web.Response]

MODES = ("ok", "hang", "drop_mid_stream", "cut_stream", "malformed_json", "malformed_sse")
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
KEY_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")


@dataclass
class Fault:
    """What the next requests get. ``count`` None: until changed; else the next N."""

    mode: str = "ok"
    retry_after: float | None = None
    retry_after_ms: float | None = None
    count: int | None = None
    delay_ms: float = 0.0
    hang_s: float = 3600.0
    message: str | None = None

    @classmethod
    def parse(cls, data: Any) -> Fault:
        """Validate a ``POST /_fault`` body; ValueError names the problem."""
        if not isinstance(data, Mapping):
            raise ValueError("the fault must be a JSON object")
        data = dict(data)
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        mode = str(data.get("mode", "ok"))
        if mode not in MODES and not (mode.isdigit() and 400 <= int(mode) <= 599):
            raise ValueError(f"mode must be one of {MODES} or an HTTP status 400-599")
        count = data.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer")
        return cls(**{**data, "mode": mode})


@dataclass
class Reply:
    """A format-neutral answer: text pieces (one "token" each) and why it ended."""

    pieces: list[str]
    finish: str  # "stop" | "length" | "stop_sequence"
    prompt_tokens: int
    stop_sequence: str | None = None

    @property
    def text(self) -> str:
        """The whole answer."""
        return "".join(self.pieces)


def make_reply(
    user_text: str, prompt_tokens: int, max_tokens: int | None, stops: list[str]
) -> Reply:
    """Echo ``user_text`` (``"ok"`` when empty), cut at a stop sequence or ``max_tokens``."""
    text = " ".join(user_text.split()) or "ok"
    finish, hit = "stop", None
    for s in stops:
        if s and s in text:
            text, finish, hit = text[: text.index(s)], "stop_sequence", s
    words = text.split()
    if max_tokens is not None and len(words) > max_tokens:
        words, finish, hit = words[:max_tokens], "length", None
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    return Reply(pieces=pieces, finish=finish, prompt_tokens=prompt_tokens, stop_sequence=hit)


def count_words(*texts: Any) -> int:
    """One token per whitespace-separated word of every string given."""
    return sum(len(t.split()) for t in texts if isinstance(t, str))


def text_of(content: Any) -> str:
    """Text of a string or a list of ``{"text": ...}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and "text" in p)
    return ""


def _sse_bytes(frame: Frame, sep: bytes) -> bytes:
    event, data = frame
    head = f"event: {event}".encode() + sep if event else b""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return head + b"data: " + payload.encode() + sep + sep


@dataclass
class FakeCore:
    """Counters, the last request, the fault switch and the response writer of one fake."""

    fmt: str
    delay_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    sse_sep: bytes = b"\n"
    fault: Fault = field(default_factory=Fault)
    last: dict[str, Any] | None = None
    stats: dict[str, Any] = field(
        default_factory=lambda: {"requests": 0, "by_path": {}, "faults": {}}
    )

    # ------------------------------------------------------------ control endpoints
    def set_fault(self, fault: Fault | Mapping[str, Any] | Any) -> Fault:
        """Switch the fault mode (a :class:`Fault` or its JSON form)."""
        self.fault = fault if isinstance(fault, Fault) else Fault.parse(fault)
        return self.fault

    def _take(self) -> Fault:
        f = self.fault
        if f.count is not None:
            self.fault = Fault() if f.count <= 1 else Fault(**{**asdict(f), "count": f.count - 1})
        return f

    async def h_fault(self, request: web.Request) -> web.Response:
        try:
            fault = self.set_fault(await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(asdict(fault))

    async def h_last(self, _request: web.Request) -> web.Response:
        return web.json_response(self.last)

    async def h_stats(self, _request: web.Request) -> web.Response:
        return web.json_response({"format": self.fmt, **self.stats, "fault": asdict(self.fault)})

    def add_control_routes(self, app: web.Application) -> None:
        app.router.add_post("/_fault", self.h_fault)
        app.router.add_get("/_last", self.h_last)
        app.router.add_get("/_stats", self.h_stats)

    # ------------------------------------------------------------ request intake
    async def begin(self, request: web.Request) -> tuple[dict[str, Any], Fault] | web.Response:
        """Record the request and take this request's fault; a 400 for a non-JSON body."""
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.last = {
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "query": dict(request.query),
            "headers": dict(request.headers),
            "body": body,
            "at": time.time(),
        }
        self.stats["requests"] += 1
        by_path = self.stats["by_path"]
        by_path[request.path] = by_path.get(request.path, 0) + 1
        fault = self._take()
        self.stats["faults"][fault.mode] = self.stats["faults"].get(fault.mode, 0) + 1
        if not isinstance(body, dict):
            return web.json_response(
                {"error": {"message": "body must be a JSON object"}}, status=400
            )
        return body, fault

    def received_key(self) -> str:
        """The credential the last request carried (for ``{key}`` in fault messages)."""
        headers = {k.lower(): v for k, v in (self.last or {}).get("headers", {}).items()}
        for h in KEY_HEADERS:
            if h in headers:
                return headers[h].removeprefix("Bearer ")
        return ""

    # ------------------------------------------------------------ responding
    async def respond(
        self,
        request: web.Request,
        fault: Fault,
        error: ErrorFn,
        render: Callable[[], dict[str, Any]],
        frames: Callable[[], list[Frame]] | None,
    ) -> web.StreamResponse:
        """The answer under ``fault``: JSON from ``render``, or SSE from ``frames``."""
        delay = self.delay_ms + fault.delay_ms
        if delay:
            await asyncio.sleep(delay / 1000.0)
        mode = fault.mode
        if mode.isdigit():
            return self._status_error(request, fault, error)
        if mode == "hang":
            await asyncio.sleep(fault.hang_s)
            return error(504, "fake upstream hung")
        if frames is None:
            return await self._json(request, mode, render())
        return await self._sse(request, mode, frames())

    def _status_error(self, request: web.Request, fault: Fault, error: ErrorFn) -> web.Response:
        status = int(fault.mode)
        msg = fault.message or f"fake {status} error"
        msg = msg.replace("{key}", self.received_key()).replace("{url}", str(request.url))
        resp = error(status, msg)
        if fault.retry_after is not None:
            resp.headers["Retry-After"] = f"{fault.retry_after:g}"
        if fault.retry_after_ms is not None:
            resp.headers["retry-after-ms"] = f"{fault.retry_after_ms:g}"
        return resp

    async def _json(
        self, request: web.Request, mode: str, body: dict[str, Any]
    ) -> web.StreamResponse:
        data = json.dumps(body).encode()
        if mode in ("malformed_json", "malformed_sse"):
            return web.Response(body=data[: len(data) // 2], content_type="application/json")
        if mode == "cut_stream":  # a complete HTTP body that is half a JSON document
            return web.Response(body=data[: len(data) // 2], content_type="application/json")
        if mode != "drop_mid_stream":
            return web.Response(body=data, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(data)
        await resp.prepare(request)
        await resp.write(data[: len(data) // 2])
        return _drop(request, resp)

    async def _sse(
        self, request: web.Request, mode: str, frames: list[Frame]
    ) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers=SSE_HEADERS)
        await resp.prepare(request)
        cut = max(1, len(frames) // 2)
        for i, frame in enumerate(frames):
            if mode == "drop_mid_stream" and i == cut:
                return _drop(request, resp)
            if mode == "cut_stream" and i == cut:
                break
            if mode in ("malformed_sse", "malformed_json") and i == cut:
                await resp.write(b'data: {"broken": tru' + self.sse_sep + self.sse_sep)
            if self.chunk_delay_ms and i:
                await asyncio.sleep(self.chunk_delay_ms / 1000.0)
            await resp.write(_sse_bytes(frame, self.sse_sep))
        await resp.write_eof()
        return resp


def _drop(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    """Cut the connection with the answer half sent (the client sees a broken body)."""
    if request.transport is not None:
        request.transport.close()
    return resp


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
