"""The HTTP adapter: FastAPI in, the request pipeline, HTTP out.

All request handling lives in :mod:`workbench.pipeline` (Ray-free, framework-free);
this module only turns a Starlette request into an
:class:`~workbench.pipeline.Incoming`, and a :class:`~workbench.pipeline.Reply` into a
response. Every path, known or not, goes through the pipeline and is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response, StreamingResponse

from workbench.errors import PayloadTooLargeError
from workbench.gateway import admin, metrics, responses
from workbench.pipeline import GatewayPipeline, Incoming, Kind, Reply

HealthFn = Callable[[], dict[str, Any]]


def _reader(request: Request) -> Callable[[int], Any]:
    async def read(limit: int) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise PayloadTooLargeError(
                f"request body of {length} bytes exceeds the limit of {limit}"
            )
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"request body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    return read


def incoming(request: Request, kind: Kind, endpoint: str, **extra: Any) -> Incoming:
    """The pipeline's view of a Starlette request."""
    return Incoming(
        kind=kind,
        endpoint=endpoint,
        method=request.method,
        path=request.url.path,
        headers=request.headers,
        client_host=request.client.host if request.client else None,
        read_body=_reader(request),
        defer_record=True,
        request_id=request.scope.get("state", {}).get("workbench_request_id"),
        **extra,
    )


def to_response(reply: Reply) -> Response:
    """A Starlette response for a pipeline reply."""
    if reply.stream is not None:
        return StreamingResponse(
            reply.stream,
            status_code=reply.status,
            media_type=reply.media_type,
            headers=reply.headers,
        )
    if reply.sent is not None:
        return _SentResponse(
            reply.sent,
            reply.body or b"",
            status_code=reply.status,
            media_type=reply.media_type,
            headers=reply.headers,
        )
    return Response(
        reply.body or b"",
        status_code=reply.status,
        media_type=reply.media_type,
        headers=reply.headers,
    )


class _SentResponse(Response):
    """A response that tells the pipeline when it has been sent (or failed to be), so
    the request is recorded after the client has its answer; or, when the pipeline
    records first (``sent.record_first``: a cluster gateway), records and awaits the
    record's acknowledgement before sending, so no answer goes out unlogged."""

    def __init__(self, sent: Callable[[], Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sent = sent

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if getattr(self._sent, "record_first", False):
            ack = self._sent()
            if ack is not None:
                await ack
            await super().__call__(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._sent()


def create_app(
    gateway: GatewayPipeline,
    health: HealthFn = lambda: {},
    draining: Callable[[], bool] = lambda: False,
    keystore: Any = None,
) -> FastAPI:
    """The FastAPI app over a built pipeline, with the admin API under ``/admin/v1``.

    ``health()`` returns the host's readiness facts; a falsy ``"ready"`` in it makes
    ``/health`` answer 503. While ``draining()`` is true (shutting down) new requests
    are refused with 503 ``shutting_down`` (and logged). ``keystore``: the key store the
    admin API authenticates with (default: the pipeline's, else ``KeyStore()`` on first use).
    """
    app = FastAPI(
        title="LLM workbench gateway", docs_url=None, redoc_url=None, openapi_url="/openapi.json"
    )

    async def run(request: Request, kind: Kind, endpoint: str, **extra: Any) -> Response:
        inc = incoming(request, kind, endpoint, **extra)
        if draining():
            inc.kind, inc.status_hint = "unknown", 503
        return to_response(await gateway.handle(inc))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await run(request, "chat", "/v1/chat/completions")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await run(request, "completions", "/v1/completions")

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        return await run(request, "embeddings", "/v1/embeddings")

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        return await run(request, "models", "/v1/models")

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str, request: Request) -> Response:
        return await run(request, "models", "/v1/models/{id}", model_id=model_id)

    @app.get("/health")
    async def health_check() -> Response:
        info = {"status": "ready", "live": True, "models": gateway.model_names()}
        info.update(health())
        if draining():
            info.update(status="draining", ready=False)
        ok = info.get("ready", True)
        if not ok and info["status"] == "ready":
            info["status"] = "unready"
        return Response(
            responses.dumps(info), status_code=200 if ok else 503, media_type="application/json"
        )

    @app.get("/health/live")
    async def live() -> Response:
        return Response(b'{"status":"alive"}', media_type="application/json")

    @app.get("/metrics")
    async def prom() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    admin.mount(
        app,
        keystore if keystore is not None else getattr(gateway, "auth", None),
        trusted_proxies=getattr(gateway, "trusted_proxies", ()),
    )
    app.state.workbench_config = getattr(gateway, "cfg", None)  # credentials in use by targets

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if admin.is_admin_path(request):
            return admin.http_error_response(request, exc.status_code)
        path = request.url.path[:128]
        inc = incoming(request, "unknown", path, status_hint=exc.status_code)
        return to_response(await gateway.handle(inc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if admin.is_admin_path(request):
            return admin.validation_response(exc)
        inc = incoming(request, "unknown", request.url.path[:128], status_hint=400)
        return to_response(await gateway.handle(inc))

    return app
