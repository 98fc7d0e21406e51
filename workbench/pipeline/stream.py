"""A streamed answer as SSE, with the output guardrails applied window by window.

The first item already arrived when this runs (the router could still fail over until
then). After the first byte a failure cannot be hidden any more: the client gets an
SSE error event (never a silent truncation, never a stream that just stops), the
attempt is marked ``after_first_byte`` in ``routing_attempts`` and counts against the
target's circuit breaker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from workbench.errors import WorkbenchError
from workbench.gateway import responses
from workbench.guardrails._stream import StreamGuard, paced
from workbench.pipeline.targets import within
from workbench.pipeline.types import Exchange

log = logging.getLogger(__name__)


async def _next(ex: Exchange) -> Any:
    """The next upstream delta (None at the end), within the attempt's total deadline."""
    start = ex.stream
    assert start is not None
    if start.first is not None:
        item, start.first = start.first, None
        return item
    remaining = None
    if start.deadline is not None:
        remaining = max(0.0, start.deadline - asyncio.get_running_loop().time())
    try:
        return await within(start.rest.__anext__(), remaining, str(ex.ctx.target), "end of stream")
    except StopAsyncIteration:
        return None


async def _deltas(ex: Exchange, raw: list[str]) -> AsyncIterator[Any]:
    """The upstream deltas; their texts, as received, are kept in ``raw``."""
    while (d := await _next(ex)) is not None:
        if d.text:
            raw.append(d.text)
        yield d


async def _pieces(
    ex: Exchange, windows: StreamGuard | None, raw: list[str]
) -> AsyncIterator[tuple[Any, list[str]]]:
    """(delta or None, text released now): through the output windows when checked.

    With windows, their time bound releases held text even while no delta arrives.
    """
    if windows is None:
        async for d in _deltas(ex, raw):
            yield d, [d.text] if d.text else []
        return
    async for item in paced(windows, _deltas(ex, raw), lambda d: d.text):
        yield item


def _failed_midway(ex: Exchange, err: WorkbenchError) -> None:
    ctx = ex.ctx
    ctx.error = err
    if ctx.routing_attempts:
        ctx.routing_attempts[-1].update(status=err.code, after_first_byte=True)
    if ex.router is not None and ctx.target and not err.code == "guardrail_denied":
        ex.router.state.record(ctx.target, ok=False, latency_ms=None, breaker_failure=True)


def _keep_raw(ex: Exchange, raw: list[str], final: Any) -> None:
    """The stream's text as received, before output guardrails, for the log."""
    ctx = ex.ctx
    ctx.add_upstream_output(
        ctx.target,
        "".join(raw),
        getattr(final, "finish_reason", None),
        getattr(final, "prompt_tokens", None),
        getattr(final, "completion_tokens", None),
    )


async def sse_body(
    ex: Exchange, rid: str, chat: bool, price: Callable[[Exchange], None]
) -> AsyncIterator[bytes]:
    """The SSE byte stream of one streamed answer.

    On success the exchange is complete (body, verdicts, usage, cost; the upstream stream
    closed) before the final ``[DONE]`` is yielded, so a host that records before sending
    the end of the stream (``LoggedStream``'s ``record_first``) records all of it."""
    from workbench.pipeline.stages.respond import apply_usage

    ctx = ex.ctx
    guard = ex.guard
    windows = guard.stream_guard() if guard is not None and guard.guards_output else None
    chunks = responses.ChunkFactory(rid, int(ctx.received), ctx.model_requested or "", chat)
    parts: list[str] = []
    raw: list[str] = []
    final = None
    include_usage = bool(ex.body.stream_options and ex.body.stream_options.include_usage)
    t0 = time.perf_counter()
    settled = False

    async def settle() -> None:
        nonlocal settled
        if settled:
            return
        settled = True
        ctx.upstream_s += time.perf_counter() - t0
        ctx.response_body = "".join(parts)
        _keep_raw(ex, raw, final)
        if windows is not None and guard is not None:
            guard.record_stream(windows)
        if guard is not None and ctx.error is None:
            guard.log_only_output(ctx.response_body)
        await _close_upstream(ex)

    try:
        if chat:
            yield chunks.first()
        async for d, pieces in _pieces(ex, windows, raw):
            for piece in pieces:
                ctx.mark_first_byte()
                parts.append(piece)
                yield chunks.text(piece)
            if d is not None and d.finish_reason is not None:
                final = d
        for piece in await windows.finish() if windows else []:
            ctx.mark_first_byte()
            parts.append(piece)
            yield chunks.text(piece)
        if final is not None:
            apply_usage(ctx, final)
        ctx.finish_reason = ctx.finish_reason or "stop"
        price(ex)
        yield chunks.finish(ctx.finish_reason)
        if include_usage:
            yield chunks.usage(ctx.prompt_tokens or 0, ctx.completion_tokens or 0)
        await settle()
        yield responses.SSE_DONE
    except WorkbenchError as err:
        _failed_midway(ex, err)
        yield responses.error_event(err.to_body())
    except Exception as exc:  # a bug: end the stream with an error event, record it
        log.exception("stream %s failed", ctx.request_id)
        bug = WorkbenchError(f"stream failed: {type(exc).__name__}")
        _failed_midway(ex, bug)
        yield responses.error_event(bug.to_body())
    finally:
        await settle()


async def _close_upstream(ex: Exchange) -> None:
    aclose = getattr(ex.stream.rest, "aclose", None) if ex.stream else None
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            log.debug("closing upstream stream of %s failed", ex.ctx.request_id)
