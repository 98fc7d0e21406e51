"""Stages: pick the live policy for the request, then run its input checks.

``select_policy`` resolves the most specific live policy for (workspace, model), which
brings the request's guardrail engine and its router (the policy's ``routing``
section), and refuses unknown models. ``input_guardrails`` runs the policy's input
stage on every text the caller sent (deny raises; redact/fix rewrite in place).
"""

from __future__ import annotations

from collections.abc import Callable

from workbench.errors import NotFoundError
from workbench.gateway.guarding import RequestGuard
from workbench.guardrails.engine import GuardrailEngine
from workbench.pipeline.types import Exchange, Reply, Stage
from workbench.routing import Router

EngineFor = Callable[[str | None, str], GuardrailEngine | None]
RouterFor = Callable[[GuardrailEngine | None], Router]


def select_policy(engine_for: EngineFor | None, router_for: RouterFor) -> Stage:
    """The stage: ``ex.guard`` (or None without a live policy) and ``ex.router``."""

    async def stage(ex: Exchange) -> Reply | None:
        ctx = ex.ctx
        model = ctx.model_requested or ""
        engine = engine_for(ctx.workspace, model) if engine_for is not None else None
        router = router_for(engine)
        if not router.knows(model):
            raise NotFoundError(
                f"The model '{model}' does not exist", param="model", code="model_not_found"
            )
        ex.router = router
        if engine is not None:
            if ex.creq is not None:
                ex.guard = RequestGuard(engine, ctx, ex.creq)
            else:
                ex.guard = RequestGuard.for_embeddings(engine, ctx, ex.texts)
        return None

    return stage


async def input_guardrails(ex: Exchange) -> Reply | None:
    """The stage: the input checks of the request's policy."""
    if ex.guard is not None:
        await ex.guard.check_input()
        if ex.creq is None:
            ex.texts = ex.guard.texts
    return None
