"""The floor: a minimal aiohttp pass-through proxy for ``/v1/*``.

One long-lived ``ClientSession`` (keep-alive pool) forwards the method, path, query,
body and the Content-Type/Authorization/Accept headers to the upstream and relays
the status, Content-Type and body back (SSE responses are relayed chunk by chunk).
No auth, no logging, no parsing: whatever a gateway adds on top of this is its
own cost.

Run: ``python -m bench.passthrough --port 8901 --upstream http://127.0.0.1:8900``
(``--port 0`` picks a free port; prints ``READY port=<p>`` once it listens).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import aiohttp
from aiohttp import web

from bench._proc import LOOPBACK, install_uvloop

_FORWARD_REQ = ("Content-Type", "Authorization", "Accept")
SESSION_KEY = web.AppKey("session", aiohttp.ClientSession)


def build_app(upstream: str, pool_size: int = 512) -> web.Application:
    """The proxy app; the session is opened on startup and closed on cleanup."""
    upstream = upstream.rstrip("/")
    app = web.Application(client_max_size=8 * 1024 * 1024)

    async def _session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        connector = aiohttp.TCPConnector(limit=pool_size, keepalive_timeout=60)
        app[SESSION_KEY] = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=300), auto_decompress=False
        )
        yield
        await app[SESSION_KEY].close()

    app.cleanup_ctx.append(_session_ctx)

    async def forward(request: web.Request) -> web.StreamResponse:
        session: aiohttp.ClientSession = request.app[SESSION_KEY]
        headers = {h: request.headers[h] for h in _FORWARD_REQ if h in request.headers}
        body = await request.read()
        url = upstream + request.rel_url.path_qs
        try:
            async with session.request(
                request.method, url, data=body or None, headers=headers
            ) as up:
                ctype = up.headers.get("Content-Type", "application/octet-stream")
                if ctype.startswith("text/event-stream"):
                    resp = web.StreamResponse(
                        status=up.status,
                        headers={"Content-Type": ctype, "Cache-Control": "no-cache"},
                    )
                    await resp.prepare(request)
                    async for data in up.content.iter_any():
                        await resp.write(data)
                    await resp.write_eof()
                    return resp
                payload = await up.read()
                return web.Response(status=up.status, body=payload, headers={"Content-Type": ctype})
        except (TimeoutError, aiohttp.ClientError) as exc:
            return web.json_response(
                {"error": {"message": f"upstream error: {exc!r}", "type": "upstream_error"}},
                status=502,
            )

    app.router.add_route("*", "/v1/{tail:.*}", forward)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app.router.add_get("/health", health)
    return app


async def start_passthrough(
    upstream: str, port: int = 0, host: str = LOOPBACK
) -> tuple[web.AppRunner, int]:
    """Start the proxy in the running loop; (runner, bound port)."""
    runner = web.AppRunner(build_app(upstream), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    server: Any = site._server
    bound = server.sockets[0].getsockname()[1] if server is not None else port
    return runner, int(bound)


async def _serve(upstream: str, port: int, host: str) -> None:
    runner, bound = await start_passthrough(upstream, port, host)
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
        prog="python -m bench.passthrough", description="minimal aiohttp pass-through proxy"
    )
    p.add_argument("--host", default=LOOPBACK)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:8900 (no /v1)")
    a = p.parse_args(argv)
    install_uvloop()
    asyncio.run(_serve(a.upstream, a.port, a.host))


if __name__ == "__main__":
    main()
