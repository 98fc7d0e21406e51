"""Stage: the reply (JSON, or an SSE stream), priced at the target that answered."""

from __future__ import annotations

from typing import Any

from workbench.gateway import responses
from workbench.pipeline.context import RequestContext
from workbench.pipeline.stream import sse_body
from workbench.pipeline.types import Exchange, Reply, Stage
from workbench.providers import Completion, Delta


def apply_usage(ctx: RequestContext, c: Completion | Delta) -> None:
    """Copy an answer's finish reason, tokens and replica facts into the record."""
    ctx.finish_reason = c.finish_reason
    if c.prompt_tokens is not None:
        ctx.prompt_tokens = c.prompt_tokens
    if c.completion_tokens is not None:
        ctx.completion_tokens = c.completion_tokens
    ctx.replica = c.replica or ctx.replica
    ctx.batch_size = c.batch_size
    ctx.queue_wait_ms = c.queue_wait_ms
    ctx.upstream_request_id = c.upstream_request_id


class Pricer:
    """Puts ``cost_usd`` on the record, at the rate of the target that answered."""

    def __init__(self, prices: Any) -> None:
        self.prices = prices

    def __call__(self, ex: Exchange) -> None:
        ctx, target = ex.ctx, ex.target
        if self.prices is None or target is None:
            return
        ctx.price_table_version = self.prices.version
        ctx.cost_usd = self.prices.cost(
            target.model or target.name,
            target.provider,
            ctx.prompt_tokens or 0,
            ctx.completion_tokens or 0,
        )


def _json(ex: Exchange, data: bytes) -> Reply:
    ex.ctx.mark_first_byte()
    headers = {"x-workbench-request-id": ex.ctx.request_id, **ex.extra_headers}
    return Reply(body=data, headers=headers)


def respond(price: Pricer) -> Stage:
    """The stage."""

    async def stage(ex: Exchange) -> Reply | None:
        ctx = ex.ctx
        model = ctx.model_requested or ""
        if ex.embedding is not None:
            res = ex.embedding
            ctx.prompt_tokens, ctx.completion_tokens = res.prompt_tokens, 0
            price(ex)
            body = ex.body
            data = responses.dumps(
                responses.embeddings(
                    res.vectors, model, res.prompt_tokens, body.encoding_format, body.dimensions
                )
            )
            if ctx.store_bodies:
                ctx.response_body = f'{{"object":"list","n":{len(res.vectors)}}}'
            return _json(ex, data)
        chat = ex.kind == "chat"
        rid = ("chatcmpl-" if chat else "cmpl-") + ctx.request_id
        if ex.stream is not None:
            headers = {
                "x-workbench-request-id": ctx.request_id,
                "cache-control": "no-cache",
                **ex.extra_headers,
            }
            body_iter = sse_body(ex, rid, chat, price)
            return Reply(stream=body_iter, media_type="text/event-stream", headers=headers)
        comp = ex.completion
        assert comp is not None
        apply_usage(ctx, comp)
        price(ex)
        build = responses.chat_completion if chat else responses.text_completion
        data = responses.dumps(build(rid, int(ctx.received), model, comp))
        if ctx.store_bodies:
            ctx.response_body = data.decode()
        return _json(ex, data)

    return stage
