"""Stage: route the request and call the model, attempt by attempt.

The router (:mod:`workbench.routing`) chooses targets, retries, falls back and keeps the
circuit breakers; this stage supplies one *attempt*: call the chosen target within the
attempt's time limits, and, for a whole (non-streamed) answer, run the output
guardrails on it, so that an answer the policy refuses can fall back to the next
target. A stream fails over only before its first byte (see :mod:`.respond`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from workbench.gateway.api import check_capabilities, check_embedding_request
from workbench.governance._resolver import workspace_scope
from workbench.pipeline.stages.output import checked_completion
from workbench.pipeline.targets import Target, capability_of, within
from workbench.pipeline.types import Exchange, Reply, Stage, StreamStart
from workbench.routing import Attempt, RouteRequest


def _estimate_tokens(ex: Exchange) -> int:
    if ex.creq is None:
        return sum(len(t) for t in ex.texts) // 4
    if ex.creq.prompt is not None:
        return len(ex.creq.prompt) // 4
    total = 0
    for m in ex.creq.messages or []:
        c = m.get("content")
        if isinstance(c, str):
            total += len(c)
        elif isinstance(c, list):
            total += sum(len(str(p.get("text", ""))) for p in c if isinstance(p, dict))
    return total // 4


def _route_request(ex: Exchange) -> RouteRequest:
    ctx = ex.ctx
    return RouteRequest(
        model=ctx.model_requested or "",
        workspace=ctx.workspace,
        user=ctx.user,
        metadata=dict(ctx.metadata or {}),
        prompt_tokens=_estimate_tokens(ex),
        stream=ctx.stream,
    )


def _limit(attempt: Attempt, name: str) -> float | None:
    value = getattr(attempt.timeouts, name, None)
    return float(value) if value else None


class Caller:
    """One attempt against one target, for each kind of request."""

    def __init__(self, ex: Exchange, targets: Mapping[str, Target]) -> None:
        self.ex = ex
        self.targets = targets

    def _target(self, attempt: Attempt) -> Target:
        target = self.targets[attempt.target]
        target.require(capability_of(self.ex.kind))
        if self.ex.creq is not None:
            check_capabilities(self.ex.creq, target.config)
        else:
            check_embedding_request(self.ex.body, target.config)
        return target

    async def __call__(self, attempt: Attempt) -> Any:
        target = self._target(attempt)
        t0 = time.perf_counter()
        # the provider client picks the workspace's bound credential by this (a stream
        # sends its request within the first __anext__, inside this scope)
        scope = workspace_scope.set(self.ex.ctx.workspace)
        try:
            if self.ex.kind == "embeddings":
                return await within(
                    target.backend.embed(self.ex.texts),
                    _limit(attempt, "total"),
                    target.name,
                    "answer",
                )
            assert self.ex.creq is not None
            req = target.request_for(self.ex.creq)
            if self.ex.ctx.stream:
                return await self._open_stream(target, req, attempt)
            return await checked_completion(
                self.ex, target, req, _limit(attempt, "total"), self.targets
            )
        finally:
            workspace_scope.reset(scope)
            self.ex.ctx.upstream_s += time.perf_counter() - t0

    async def _open_stream(self, target: Target, req: Any, attempt: Attempt) -> StreamStart:
        total = _limit(attempt, "total")
        first_byte = _limit(attempt, "first_byte")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + total if total else None
        limit = min(x for x in (first_byte, total) if x) if (first_byte or total) else None
        it = target.backend.stream(req).__aiter__()
        try:
            first = await within(it.__anext__(), limit, target.name, "first byte")
        except StopAsyncIteration:
            first = None
        except BaseException:
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                await aclose()
            raise
        return StreamStart(first=first, rest=it, deadline=deadline)


def route_and_call(targets: Mapping[str, Target]) -> Stage:
    """The stage: ``ex.completion`` / ``ex.stream`` / ``ex.embedding`` from the attempt."""

    async def stage(ex: Exchange) -> Reply | None:
        assert ex.router is not None
        attempts = ex.ctx.routing_attempts
        try:
            attempt, result = await ex.router.execute(
                _route_request(ex), Caller(ex, targets), attempts
            )
        finally:
            tried = sum(1 for a in attempts if a.get("status") != "skipped")
            ex.extra_headers["x-workbench-attempts"] = str(tried)
        served = ex.answered_by or targets[attempt.target]
        ex.attempt, ex.target = attempt, served.config
        ctx = ex.ctx
        ctx.target, ctx.provider = served.name, served.config.provider
        ctx.model_served = served.upstream_model
        ex.extra_headers["x-workbench-target"] = served.name
        if isinstance(result, StreamStart):
            ex.stream = result
        elif ex.kind == "embeddings":
            ex.embedding = result
            ctx.model_served = result.model or ctx.model_served
        else:
            ex.completion = result
        return None

    return stage
