"""Stage: read and validate the body into a provider-neutral request.

Chat and completions become a :class:`~workbench.providers.ChatRequest` (its ``model``
is filled in per attempt, with the upstream name of the target that is tried);
embeddings become a list of texts. Malformed JSON is a 400, a field that fails
validation a 422 naming it (:func:`workbench.gateway.api.parse_body`).
"""

from __future__ import annotations

from workbench.config.gateway import GatewaySettings
from workbench.gateway.api import (
    ChatCompletionBody,
    CompletionBody,
    EmbeddingBody,
    chat_request,
    completion_request,
    parse_body,
)
from workbench.pipeline.types import Exchange, Reply, Stage


def parse(gw: GatewaySettings) -> Stage:
    """The stage for the chat, completions and embeddings endpoints."""

    async def stage(ex: Exchange) -> Reply | None:
        ctx = ex.ctx
        raw = await ex.incoming.read_body(gw.max_body_bytes)
        if ctx.store_bodies:
            ctx.request_body = ctx.request_original = raw.decode("utf-8", "replace")
        if ex.kind == "embeddings":
            emb = parse_body(raw, EmbeddingBody)
            ex.body, ctx.user, ctx.model_requested = emb, emb.user, emb.model
            ex.texts = emb.texts()
            return None
        body: ChatCompletionBody | CompletionBody
        if ex.kind == "chat":
            body = parse_body(raw, ChatCompletionBody)
            ex.creq = chat_request(body, body.model, None)
        else:
            body = parse_body(raw, CompletionBody)
            ex.creq = completion_request(body, body.model, None)
        ex.body = body
        ctx.model_requested = body.model
        ctx.user, ctx.metadata, ctx.stream = body.user, body.metadata, body.stream
        ctx.temperature, ctx.top_p = body.temperature, body.top_p
        ctx.seed, ctx.n = body.seed, body.n
        ctx.max_tokens = ex.creq.params.max_tokens
        return None

    return stage
