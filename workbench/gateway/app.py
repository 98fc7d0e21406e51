"""The OpenAI-compatible HTTP API as a Ray-free FastAPI app.

``create_app`` wires the request pipeline: authenticate -> parse/validate -> resolve
the model -> [input steps] -> call the backend -> [output steps] -> respond -> log.
The Ray Serve ingress (``serve/gateway.py``) only supplies backends and the log
shipper; tests can run the same app in-process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response, StreamingResponse

from workbench.config.gateway import GatewayConfig, ModelTarget
from workbench.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    WorkbenchError,
)
from workbench.gateway import metrics, responses
from workbench.gateway.api import (
    ChatCompletionBody,
    CompletionBody,
    EmbeddingBody,
    chat_request,
    completion_request,
    parse_body,
)
from workbench.pipeline.context import RequestContext
from workbench.gateway.guarding import RequestGuard
from workbench.guardrails._stream import denial
from workbench.guardrails.engine import GuardrailEngine
from workbench.providers import ChatRequest, Completion, Delta, EmbeddingResult

log = logging.getLogger(__name__)


class Backend(Protocol):
    """What the app calls for one model target."""

    async def chat(self, req: ChatRequest) -> Completion: ...

    def stream(self, req: ChatRequest) -> AsyncIterator[Delta]: ...

    async def embed(self, texts: list[str]) -> EmbeddingResult: ...


class Authenticator(Protocol):
    """Verifies a presented API key."""

    def verify(self, presented: str) -> Any: ...


Step = Callable[[RequestContext, ChatRequest], Awaitable[None]]


@dataclass
class Pipeline:
    """Seams for later stages (guardrails, cache, routing): ordered async steps.

    ``input_steps`` run after validation and before the backend call; they may
    rewrite the request or raise a :class:`WorkbenchError` to refuse it.
    """

    input_steps: list[Step] = field(default_factory=list)


@dataclass
class Deps:
    """Everything the app needs from its host."""

    config: GatewayConfig
    backends: dict[str, Backend]
    submit_record: Callable[[dict[str, Any]], None]
    auth: Authenticator | None
    prices: Any = None  # workbench.pricing.PriceTable
    pipeline: Pipeline = field(default_factory=Pipeline)
    ready: Callable[[], dict[str, Any]] = lambda: {}
    capabilities: dict[str, frozenset[str]] = field(default_factory=dict)
    # (workspace, model name) -> the guardrail engine of the live policy, or None
    guard: Callable[[str | None, str], GuardrailEngine | None] | None = None


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise AuthenticationError(
            "missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key"
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("malformed Authorization header: expected 'Bearer <key>'")
    return token.strip()


def _error_response(err: WorkbenchError, request_id: str | None = None) -> Response:
    headers = {"x-workbench-request-id": request_id} if request_id else None
    return Response(
        responses.dumps(err.to_body()),
        status_code=err.status,
        media_type="application/json",
        headers=headers,
    )


def create_app(deps: Deps) -> FastAPI:
    """Build the FastAPI app."""
    cfg = deps.config
    gw = cfg.gateway
    app = FastAPI(
        title="LLM workbench gateway", docs_url=None, redoc_url=None, openapi_url="/openapi.json"
    )

    def start(request: Request, endpoint: str) -> RequestContext:
        ctx = RequestContext(endpoint=endpoint, method=request.method, store_bodies=gw.store_bodies)
        h = request.headers
        ctx.trace_id = h.get("x-trace-id") or h.get("traceparent")
        ctx.user_agent = h.get("user-agent")
        fwd = h.get("x-forwarded-for")
        ctx.client_ip = (
            fwd.split(",")[0].strip() if fwd else (request.client.host if request.client else None)
        )
        return ctx

    def authenticate(ctx: RequestContext, request: Request) -> None:
        if deps.auth is None or not gw.require_auth:
            ctx.workspace = "default"
            return
        rec = deps.auth.verify(_bearer(request))
        ctx.key_id = rec.key_id
        ctx.workspace = rec.workspace

    async def read_body(ctx: RequestContext, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > gw.max_body_bytes:
            raise PayloadTooLargeError(
                f"request body of {length} bytes exceeds the limit of {gw.max_body_bytes}"
            )
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > gw.max_body_bytes:
                raise PayloadTooLargeError(
                    f"request body exceeds the limit of {gw.max_body_bytes} bytes"
                )
            chunks.append(chunk)
        raw = b"".join(chunks)
        if ctx.store_bodies:
            ctx.request_body = raw.decode("utf-8", "replace")
        return raw

    def resolve(ctx: RequestContext, name: str, capability: str) -> tuple[ModelTarget, Backend]:
        ctx.model_requested = name
        target = cfg.target(name)
        if target is None or name not in deps.backends:
            raise NotFoundError(
                f"The model '{name}' does not exist", param="model", code="model_not_found"
            )
        caps = deps.capabilities.get(name, frozenset())
        if capability not in caps:
            raise InvalidRequestError(
                f"model '{name}' does not support {capability} "
                f"(it supports: {', '.join(sorted(caps)) or 'nothing'})",
                param="model",
                code="unsupported_model_capability",
            )
        ctx.target = target.name
        ctx.provider = target.provider
        ctx.model_served = target.model or target.name
        return target, deps.backends[name]

    def price(ctx: RequestContext, target: ModelTarget) -> None:
        if deps.prices is None:
            return
        ctx.price_table_version = deps.prices.version
        ctx.cost_usd = deps.prices.cost(
            target.model or target.name,
            target.provider,
            ctx.prompt_tokens or 0,
            ctx.completion_tokens or 0,
        )

    def finalize(ctx: RequestContext) -> None:
        if ctx.pending:  # log-only guardrails still running: log when they are done
            ctx.finish()
            tasks, ctx.pending = ctx.pending, []

            async def later() -> None:
                await asyncio.gather(*tasks, return_exceptions=True)
                finalize(ctx)

            asyncio.get_running_loop().create_task(later())
            return
        try:
            record = ctx.to_record()
            metrics.observe(record)
            deps.submit_record(record)
        except Exception:  # logging must never fail a request
            log.exception("could not log request %s", ctx.request_id)

    async def complete(
        ctx: RequestContext,
        backend: Backend,
        creq: ChatRequest,
        target: ModelTarget,
        rguard: RequestGuard | None,
    ) -> Completion:
        """Call the backend; with output guardrails, retry or fall back as the policy says."""
        policy = rguard.engine.policy if rguard else None
        max_attempts = policy.retry.max_attempts if policy is not None else 1
        pt = ct = 0
        attempt = 0
        while True:
            attempt += 1
            ctx.routing_attempts.append({"target": target.name, "provider": target.provider})
            t0 = time.perf_counter()
            try:
                comp = await backend.chat(creq)
            finally:
                ctx.upstream_s += time.perf_counter() - t0
            pt += comp.prompt_tokens
            ct += comp.completion_tokens
            if rguard is None or not rguard.guards_output:
                ctx.routing_attempts[-1]["status"] = "ok"
                break
            out = await rguard.check_output(comp.text)
            if out.retry is not None and attempt < max_attempts:
                ctx.routing_attempts[-1]["status"] = f"retry:{out.retry.check}"
                continue
            decisive = out.deny or out.retry
            if decisive is not None:
                ctx.routing_attempts[-1]["status"] = f"denied:{decisive.check}"
                raise denial(decisive, rguard.messages.get(decisive.check))
            ctx.routing_attempts[-1]["status"] = "ok"
            if out.fallback is not None:
                comp = await fallback(ctx, creq, rguard, out.fallback.check)
                pt += comp.prompt_tokens
                ct += comp.completion_tokens
            elif out.changed:
                comp.text = out.texts[0]
            break
        comp.prompt_tokens, comp.completion_tokens = pt, ct
        if rguard is not None:
            rguard.log_only_output(comp.text)
        return comp

    async def fallback(
        ctx: RequestContext, creq: ChatRequest, rguard: RequestGuard, check: str
    ) -> Completion:
        """Answer from the policy's fallback model or canned message."""
        fb = rguard.engine.policy.fallback
        if fb.model and fb.model in deps.backends and cfg.target(fb.model) is not None:
            t = cfg.target(fb.model)
            assert t is not None
            ctx.routing_attempts.append(
                {"target": t.name, "provider": t.provider, "reason": f"fallback:{check}"}
            )
            creq.model = t.model or t.name
            t0 = time.perf_counter()
            try:
                comp = await deps.backends[fb.model].chat(creq)
            finally:
                ctx.upstream_s += time.perf_counter() - t0
            ctx.routing_attempts[-1]["status"] = "ok"
            ctx.model_served = creq.model
            return comp
        return Completion(text=fb.message or "", finish_reason="stop")

    def apply_completion(ctx: RequestContext, c: Completion | Delta) -> None:
        ctx.finish_reason = c.finish_reason
        if c.prompt_tokens is not None:
            ctx.prompt_tokens = c.prompt_tokens
        if c.completion_tokens is not None:
            ctx.completion_tokens = c.completion_tokens
        ctx.replica = c.replica or ctx.replica
        ctx.batch_size = c.batch_size
        ctx.queue_wait_ms = c.queue_wait_ms
        ctx.upstream_request_id = c.upstream_request_id

    async def generate(request: Request, endpoint: str, chat: bool) -> Response:
        ctx = start(request, endpoint)
        streaming = False
        try:
            authenticate(ctx, request)
            raw = await read_body(ctx, request)
            body: ChatCompletionBody | CompletionBody
            if chat:
                body = parse_body(raw, ChatCompletionBody)
            else:
                body = parse_body(raw, CompletionBody)
            ctx.user, ctx.metadata, ctx.stream = body.user, body.metadata, body.stream
            ctx.temperature, ctx.top_p, ctx.seed, ctx.n = (
                body.temperature,
                body.top_p,
                body.seed,
                body.n,
            )
            target, backend = resolve(ctx, body.model, "chat" if chat else "completions")
            upstream_model = target.model or target.name
            default_max = target.max_new_tokens_default if target.provider == "local" else None
            creq = (
                chat_request(body, upstream_model, default_max)
                if isinstance(body, ChatCompletionBody)
                else completion_request(body, upstream_model, default_max)
            )
            ctx.max_tokens = creq.params.max_tokens
            for step in deps.pipeline.input_steps:
                await step(ctx, creq)
            engine = deps.guard(ctx.workspace, body.model) if deps.guard else None
            rguard = RequestGuard(engine, ctx, creq) if engine is not None else None
            if rguard is not None:
                await rguard.check_input()
            created = int(ctx.received)
            rid = ("chatcmpl-" if chat else "cmpl-") + ctx.request_id
            if body.stream:
                include_usage = bool(body.stream_options and body.stream_options.include_usage)
                ctx.routing_attempts.append({"target": target.name, "provider": target.provider})
                resp = await stream_response(
                    ctx,
                    backend,
                    creq,
                    target,
                    rid,
                    created,
                    body.model,
                    chat,
                    include_usage,
                    rguard,
                )
                streaming = True
                return resp
            comp = await complete(ctx, backend, creq, target, rguard)
            apply_completion(ctx, comp)
            price(ctx, target)
            build = responses.chat_completion if chat else responses.text_completion
            data = responses.dumps(build(rid, created, body.model, comp))
            if ctx.store_bodies:
                ctx.response_body = data.decode()
            ctx.mark_first_byte()
            return Response(
                data,
                media_type="application/json",
                headers={"x-workbench-request-id": ctx.request_id},
            )
        except WorkbenchError as err:
            if ctx.routing_attempts and "status" not in ctx.routing_attempts[-1]:
                ctx.routing_attempts[-1]["status"] = err.code
            ctx.fail(err)
            return _error_response(err, ctx.request_id)
        finally:
            if not streaming:
                finalize(ctx)

    async def stream_response(
        ctx: RequestContext,
        backend: Backend,
        creq: ChatRequest,
        target: ModelTarget,
        rid: str,
        created: int,
        model: str,
        chat: bool,
        include_usage: bool,
        rguard: RequestGuard | None,
    ) -> Response:
        t0 = time.perf_counter()
        sguard = rguard.stream_guard() if rguard is not None and rguard.guards_output else None
        it = backend.stream(creq).__aiter__()
        try:
            # The first item is awaited before answering, so a provider that cannot
            # be reached still gets a proper HTTP error status.
            first: Delta | None = await it.__anext__()
        except StopAsyncIteration:
            first = None
        except BaseException:
            ctx.upstream_s = time.perf_counter() - t0
            raise
        chunks = responses.ChunkFactory(rid, created, model, chat)

        async def body() -> AsyncIterator[bytes]:
            parts: list[str] = []
            final: Delta | None = None
            try:
                if chat:
                    yield chunks.first()
                pending = first
                while True:
                    d = pending
                    if d is None:
                        try:
                            d = await it.__anext__()
                        except StopAsyncIteration:
                            break
                    pending = None
                    if d.text:
                        pieces = await sguard.feed(d.text) if sguard else [d.text]
                        for piece in pieces:
                            ctx.mark_first_byte()
                            parts.append(piece)
                            yield chunks.text(piece)
                    if d.finish_reason is not None:
                        final = d
                for piece in await sguard.finish() if sguard else []:
                    ctx.mark_first_byte()
                    parts.append(piece)
                    yield chunks.text(piece)
                ctx.upstream_s = time.perf_counter() - t0
                if final is not None:
                    apply_completion(ctx, final)
                ctx.finish_reason = ctx.finish_reason or "stop"
                ctx.routing_attempts[-1]["status"] = "ok"
                price(ctx, target)
                yield chunks.finish(ctx.finish_reason)
                if include_usage:
                    yield chunks.usage(ctx.prompt_tokens or 0, ctx.completion_tokens or 0)
                yield responses.SSE_DONE
            except WorkbenchError as err:
                ctx.upstream_s = time.perf_counter() - t0
                ctx.error = err
                ctx.routing_attempts[-1]["status"] = err.code
                yield responses.error_event(err.to_body())
            except Exception as exc:  # a bug: end the stream with an error event
                ctx.upstream_s = time.perf_counter() - t0
                log.exception("stream %s failed", ctx.request_id)
                ctx.error = WorkbenchError(f"stream failed: {type(exc).__name__}")
                yield responses.error_event(ctx.error.to_body())
            except BaseException:  # GeneratorExit / CancelledError: the client went away
                ctx.upstream_s = time.perf_counter() - t0
                ctx.error = WorkbenchError("client disconnected", code="client_disconnected")
                ctx.http_status = 499
                raise
            finally:
                ctx.response_body = "".join(parts)
                if sguard is not None and rguard is not None:
                    rguard.record_stream(sguard)
                if rguard is not None and ctx.error is None:
                    rguard.log_only_output(ctx.response_body)
                finalize(ctx)

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"x-workbench-request-id": ctx.request_id, "cache-control": "no-cache"},
        )

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await generate(request, "/v1/chat/completions", chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await generate(request, "/v1/completions", chat=False)

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        ctx = start(request, "/v1/embeddings")
        try:
            authenticate(ctx, request)
            raw = await read_body(ctx, request)
            body = parse_body(raw, EmbeddingBody)
            ctx.user = body.user
            target, backend = resolve(ctx, body.model, "embeddings")
            texts = body.texts()
            ctx.routing_attempts.append({"target": target.name, "provider": target.provider})
            t0 = time.perf_counter()
            try:
                res = await backend.embed(texts)
            finally:
                ctx.upstream_s = time.perf_counter() - t0
            ctx.routing_attempts[-1]["status"] = "ok"
            ctx.prompt_tokens, ctx.completion_tokens = res.prompt_tokens, 0
            ctx.model_served = res.model or ctx.model_served
            price(ctx, target)
            data = responses.dumps(
                responses.embeddings(
                    res.vectors,
                    body.model,
                    res.prompt_tokens,
                    body.encoding_format,
                    body.dimensions,
                )
            )
            if ctx.store_bodies:
                ctx.response_body = f'{{"object":"list","n":{len(res.vectors)}}}'
            ctx.mark_first_byte()
            return Response(
                data,
                media_type="application/json",
                headers={"x-workbench-request-id": ctx.request_id},
            )
        except WorkbenchError as err:
            ctx.fail(err)
            return _error_response(err, ctx.request_id)
        finally:
            finalize(ctx)

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        ctx = start(request, "/v1/models")
        ctx.method = "GET"
        try:
            authenticate(ctx, request)
            data = {
                "object": "list",
                "data": [
                    {"id": m.name, "object": "model", "created": 0, "owned_by": m.provider}
                    for m in cfg.models
                    if m.name in deps.backends
                ],
            }
            return Response(responses.dumps(data), media_type="application/json")
        except WorkbenchError as err:
            ctx.fail(err)
            return _error_response(err, ctx.request_id)
        finally:
            finalize(ctx)

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str, request: Request) -> Response:
        ctx = start(request, "/v1/models/{id}")
        ctx.method = "GET"
        try:
            authenticate(ctx, request)
            m = cfg.target(model_id)
            if m is None or m.name not in deps.backends:
                raise NotFoundError(
                    f"The model '{model_id}' does not exist", param="model", code="model_not_found"
                )
            return Response(
                responses.dumps(
                    {"id": m.name, "object": "model", "created": 0, "owned_by": m.provider}
                ),
                media_type="application/json",
            )
        except WorkbenchError as err:
            ctx.fail(err)
            return _error_response(err, ctx.request_id)
        finally:
            finalize(ctx)

    @app.get("/health")
    async def health() -> Response:
        info = {"status": "ready", "live": True, "models": [m for m in deps.backends]}
        info.update(deps.ready())
        return Response(responses.dumps(info), media_type="application/json")

    @app.get("/health/live")
    async def live() -> Response:
        return Response(b'{"status":"alive"}', media_type="application/json")

    @app.get("/metrics")
    async def prom() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        err: WorkbenchError
        if exc.status_code == 404:
            err = NotFoundError(
                f"no route {request.method} {request.url.path}", code="unknown_route"
            )
        elif exc.status_code == 405:
            err = InvalidRequestError(
                f"method {request.method} not allowed on {request.url.path}",
                code="method_not_allowed",
            )
            err.status = 405
        else:
            err = InvalidRequestError(str(exc.detail))
            err.status = exc.status_code
        if request.url.path.startswith("/v1"):
            ctx = start(request, request.url.path[:128])
            ctx.fail(err)
            finalize(ctx)
            return _error_response(err, ctx.request_id)
        return _error_response(err)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _error_response(InvalidRequestError(str(exc.errors()[:1])))

    @app.exception_handler(Exception)
    async def unhandled(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return _error_response(WorkbenchError("internal error; see the gateway log"))

    return app
