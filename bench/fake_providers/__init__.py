"""Fake upstream providers on 127.0.0.1, one aiohttp app per wire format.

Formats (``FORMATS``) and the ``base_url`` a gateway target uses for each:

==============  =================================  =========================================
format          base_url                           endpoints
==============  =================================  =========================================
``openai``      ``http://127.0.0.1:<port>/v1``     ``/v1/chat/completions``, ``/v1/completions``,
                                                   ``/v1/embeddings``
``azure``       ``http://127.0.0.1:<port>``        ``/openai/deployments/{d}/chat/completions``
                                                   (``/completions``, ``/embeddings``),
                                                   ``?api-version=`` required
``anthropic``   ``http://127.0.0.1:<port>``        ``/v1/messages``
``gemini``      ``http://127.0.0.1:<port>``        ``/v1beta/models/{m}:generateContent``,
                                                   ``:streamGenerateContent?alt=sse``
``cohere``      ``http://127.0.0.1:<port>``        ``/v2/chat``
==============  =================================  =========================================

Each speaks the provider's real format for non-streamed and streamed answers (event
names and order as the provider sends them). The answer echoes the last user
message (one token per word; ``"ok"`` when empty), cut at a stop sequence (finish
``stop``/``end_turn``/``STOP_SEQUENCE``...) or at the max-tokens field (finish
``length``/``max_tokens``/``MAX_TOKENS``...); prompt tokens count the words of every
message, system prompt included. Keys are accepted whatever they are, and recorded.

Control endpoints (every format):

- ``GET /_last``: the last request: ``{"method", "path"`` (decoded), ``"raw_path"`` (as sent,
  with the query), ``"query", "headers", "body", "at"}``;
- ``GET /_stats``: ``{"format", "requests", "by_path": {path: n}, "faults": {mode: n},
  "fault": <current fault>}`` (``faults`` counts requests by the mode they got, "ok" included);
- ``POST /_fault`` with ``{"mode": ..., "retry_after": 1.5, "retry_after_ms": 200,
  "count": N, "delay_ms": 0, "hang_s": 3600, "message": "..."}``. ``mode``:

  - ``"ok"``: normal answers; ``"400"``..``"599"``: that status with the provider's
    error body, ``Retry-After`` / ``retry-after-ms`` headers when given; ``message``
    sets the error text (``{key}`` and ``{url}`` are replaced by the key the request
    carried and the URL it was sent to: a provider that echoes them, for leak tests);
  - ``"hang"``: no answer for ``hang_s`` seconds (the handler is cancelled when the
    client goes away);
  - ``"drop_mid_stream"``: half the answer (SSE frames, or bytes of a JSON body with
    its full Content-Length), then the connection is closed;
  - ``"cut_stream"``: half the SSE frames, then a clean end of the response (no
    terminal event: ``[DONE]``, ``message_stop``, ``message-end``, ``finishReason``);
    a JSON answer is cut in half with a matching Content-Length;
  - ``"malformed_json"`` / ``"malformed_sse"``: a JSON body cut in half; a stream whose
    middle frame is ``data: {"broken": tru`` (either mode breaks whichever form the
    request asked for).

  ``count``: apply to the next N requests, then back to ``ok`` (omitted: until changed);
  ``delay_ms``: extra delay before the first byte for those requests. A "down" upstream
  is simply a closed port (``bench._proc.free_port()`` with nothing listening).

Python API::

    # async (in a running loop; port 0 = a free port)
    fake = await start_fake_provider("anthropic", delay_ms=0, chunk_delay_ms=0)
    fake.base_url; fake.port; fake.set_fault({"mode": "429", "retry_after": 2, "count": 1})
    fake.last; fake.stats; await fake.stop()
    # or: async with running_fake("gemini") as fake: ...

    # sync tests: the server on its own loop in a daemon thread
    with FakeProviderThread("cohere") as fake:
        fake.set_fault(mode="503", count=2); fake.last(); fake.stats()

Command line: ``python -m bench.fake_providers --format anthropic --port 0`` prints
``READY port=<p> base_url=<url>`` once it listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bench._proc import LOOPBACK
from bench.fake_providers._core import FakeCore, Fault, Reply, make_reply
from bench.fake_providers.anthropic import add_anthropic_routes
from bench.fake_providers.cohere import add_cohere_routes
from bench.fake_providers.gemini import add_gemini_routes
from bench.fake_providers.openai import add_azure_routes, add_openai_routes

_ROUTES: dict[str, Callable[[web.Application, FakeCore], None]] = {
    "openai": add_openai_routes,
    "azure": add_azure_routes,
    "anthropic": add_anthropic_routes,
    "gemini": add_gemini_routes,
    "cohere": add_cohere_routes,
}
FORMATS = tuple(_ROUTES)
_BASE_PATH = {"openai": "/v1"}
CORE_KEY = web.AppKey("fake_core", FakeCore)


def build_app(fmt: str, delay_ms: float = 0.0, chunk_delay_ms: float = 0.0) -> web.Application:
    """The aiohttp app of one format (``app[CORE_KEY]`` holds its state)."""
    if fmt not in _ROUTES:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    sep = b"\r\n" if fmt == "gemini" else b"\n"
    core = FakeCore(fmt=fmt, delay_ms=delay_ms, chunk_delay_ms=chunk_delay_ms, sse_sep=sep)
    app = web.Application()
    app[CORE_KEY] = core
    core.add_control_routes(app)
    _ROUTES[fmt](app, core)
    return app


class FakeProvider:
    """A running fake (in this loop): its address, state and fault switch."""

    def __init__(self, fmt: str, runner: web.AppRunner, port: int, core: FakeCore) -> None:
        self.fmt, self.port, self.core, self._runner = fmt, port, core, runner

    @property
    def base_url(self) -> str:
        """What a gateway target's ``base_url`` should be for this format."""
        return f"http://{LOOPBACK}:{self.port}{_BASE_PATH.get(self.fmt, '')}"

    @property
    def last(self) -> dict[str, Any] | None:
        """The last request recorded."""
        return self.core.last

    @property
    def stats(self) -> dict[str, Any]:
        """Counters and the current fault (as ``GET /_stats``)."""
        return {"format": self.fmt, **self.core.stats, "fault": asdict(self.core.fault)}

    def set_fault(self, fault: Fault | dict[str, Any] | None = None, **kw: Any) -> Fault:
        """Switch the fault mode: ``set_fault(mode="429", retry_after=1, count=1)``."""
        return self.core.set_fault(fault if fault is not None else kw)

    async def stop(self) -> None:
        """Stop serving (the port is closed afterwards)."""
        await self._runner.cleanup()


async def start_fake_provider(
    fmt: str,
    port: int = 0,
    *,
    delay_ms: float = 0.0,
    chunk_delay_ms: float = 0.0,
    host: str = LOOPBACK,
) -> FakeProvider:
    """Start a fake of ``fmt`` in the running loop (port 0: a free port)."""
    app = build_app(fmt, delay_ms, chunk_delay_ms)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    server: Any = site._server  # the asyncio Server: the only way to learn the bound port
    bound = int(server.sockets[0].getsockname()[1]) if server is not None else port
    return FakeProvider(fmt, runner, bound, app[CORE_KEY])


@contextlib.asynccontextmanager
async def running_fake(fmt: str, **kw: Any) -> AsyncIterator[FakeProvider]:
    """``async with running_fake("cohere") as fake: ...``"""
    fake = await start_fake_provider(fmt, **kw)
    try:
        yield fake
    finally:
        await fake.stop()


class FakeProviderThread:
    """A fake on its own event loop in a daemon thread, for sync code.

    ``with FakeProviderThread("anthropic") as fake: fake.base_url ...``
    """

    def __init__(self, fmt: str, port: int = 0, delay_ms: float = 0.0, chunk_delay_ms: float = 0.0):
        self._fmt, self._port = fmt, port
        self._delays = (delay_ms, chunk_delay_ms)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._fake: FakeProvider | None = None

    def _call(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    @property
    def fake(self) -> FakeProvider:
        """The running fake (after :meth:`start`)."""
        assert self._fake is not None, "start() first"
        return self._fake

    @property
    def base_url(self) -> str:
        """See :attr:`FakeProvider.base_url`."""
        return self.fake.base_url

    @property
    def port(self) -> int:
        """The bound port."""
        return self.fake.port

    def set_fault(self, fault: Fault | dict[str, Any] | None = None, **kw: Any) -> Fault:
        """Switch the fault mode (runs on the server's loop)."""
        fake = self.fake
        return self._call(lambda: fake.set_fault(fault, **kw))  # type: ignore[no-any-return]

    def last(self) -> dict[str, Any] | None:
        """The last request recorded."""
        return self._call(lambda: self.fake.last)  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        """Counters."""
        return self._call(lambda: dict(self.fake.stats))  # type: ignore[no-any-return]

    def start(self) -> FakeProviderThread:
        self._thread.start()
        delay, chunk = self._delays
        coro = start_fake_provider(self._fmt, self._port, delay_ms=delay, chunk_delay_ms=chunk)
        self._fake = asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._fake is not None:
            asyncio.run_coroutine_threadsafe(self._fake.stop(), self._loop).result(timeout=10)
            self._fake = None
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> FakeProviderThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = [
    "CORE_KEY",
    "FORMATS",
    "FakeCore",
    "FakeProvider",
    "FakeProviderThread",
    "Fault",
    "Reply",
    "build_app",
    "make_reply",
    "running_fake",
    "start_fake_provider",
]
