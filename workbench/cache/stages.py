"""The cache stages of the request pipeline: lookup, store, and the commit at record time.

::

    ... -> input guardrails -> cache lookup -> route + call -> cache store -> respond
        -> record (the commit stores a clean answer, then the record is written)

Lookup (after the input guardrails, so a request the policy denies is denied even when
an answer is cached): with the policy's ``cache`` section on and no client opt-out, the
exact entry (:func:`~workbench.cache.match.exact_key`) is served as ``hit``; on an exact
miss, an eligible request (:meth:`~workbench.cache.match.NearDupRule.eligible`) asks the
semantic index for neighbours in its scope and serves the first whose cosine and second
stage pass (:meth:`~workbench.cache.match.NearDupRule.matches`) and whose entry is still
in the store, as ``semantic_hit``. A hit skips routing and the model call, and it skips
the output guardrails too: the stored text already passed them under the same policy
hash (the key holds it), so checking it again would give the same verdicts.

Store: only a clean answer is kept: status 200, no error, no truncated or cut stream, no
failed verdict other than a redact/fix rewrite (so no denial, no flag, no failed log-only
check), answered by the first target tried (no retry, failover or policy fallback). A
rewritten answer is stored rewritten. The decision waits for the log-only checks (it is
made when the record is), and the record is written after the entry is stored, so once a
request is in the log its entry is served. Cache errors never fail a request: a failed
lookup is a miss, a failed store is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Coroutine
from typing import Any

from workbench.cache._plan import Plan, flagged, make_plan, opt_out, settings_of
from workbench.cache._types import Entry, EntryStore, SemanticIndex
from workbench.cache.replay_sse import answer_text, restamped, sse_replay, usage_of
from workbench.cache.replay_sse import finish_reason as finish_of
from workbench.gateway import responses
from workbench.pipeline.recorder import Recorder, Submit
from workbench.pipeline.types import Exchange, Reply
from workbench.providers import Completion

log = logging.getLogger(__name__)

HEADER = "x-workbench-cache"
SIMILARITY_HEADER = "x-workbench-cache-similarity"


class CacheStages:
    """The lookup and store stages over one entry store and an optional semantic index
    (None: semantic caching is off whatever the policies say)."""

    def __init__(self, store: EntryStore, index: SemanticIndex | None = None) -> None:
        self.store, self.index = store, index
        self._jobs: set[asyncio.Task[None]] = set()

    # ---------------------------------------------------------------- lookup

    async def lookup(self, ex: Exchange) -> Reply | None:
        """The lookup stage (see the module docstring)."""
        ctx = ex.ctx
        settings = settings_of(ex)
        if settings is None or not settings.active:
            return _status(ex, "disabled")
        opt = opt_out(ex.incoming.headers, ctx.metadata)
        plan = make_plan(ex, settings, self.index is not None, opt)
        ctx.cache_plan = plan
        if not plan.read:
            return _status(ex, "bypass")
        try:
            found = await self._find(plan)
        except Exception:
            log.warning("cache lookup failed for %s; answering uncached", ctx.request_id,
                        exc_info=True)  # fmt: skip
            found = None
        if found is None:
            return _status(ex, "miss")
        entry, similarity = found
        return _hit(ex, entry, similarity)

    async def _find(self, plan: Plan) -> tuple[Entry, float | None] | None:
        if plan.exact:
            entry = await self.store.get(plan.key)
            if entry is not None and entry.scope == plan.scope:
                return entry, None
        if plan.semantic and self.index is not None and plan.text is not None:
            rule = plan.settings.semantic.rule()
            for cand in await self.index.lookup(plan.scope, plan.text):
                if not rule.matches(cand.similarity, plan.text, cand.text):
                    continue
                entry = await self.store.get(cand.key)
                if entry is not None and entry.scope == plan.scope:
                    return entry, cand.similarity
        return None

    # ---------------------------------------------------------------- store

    async def store_stage(self, ex: Exchange) -> Reply | None:
        """The store stage: note whether the answer came from the first target tried."""
        plan = ex.ctx.cache_plan
        if isinstance(plan, Plan) and plan.write:
            plan.ready = len(ex.ctx.routing_attempts) <= 1 and ex.answered_by is None
        return None

    def commit(self, ex: Exchange) -> Coroutine[Any, Any, None] | None:
        """At record time (log-only checks done): the job that stores a clean answer,
        or None when nothing is to be stored."""
        ctx = ex.ctx
        plan = ctx.cache_plan
        if not isinstance(plan, Plan) or not plan.ready or not _clean(ex):
            return None
        body = _answer_body(ex)
        if body is None:
            return None
        now = time.time()
        entry = Entry(
            key=plan.key,
            workspace=ctx.workspace or "",
            scope=plan.scope,
            endpoint=ctx.endpoint,
            model=ctx.model_requested or "",
            model_served=ctx.model_served,
            body=body,
            text=plan.text if plan.semantic else None,  # prompts on disk only when needed
            cost_usd=ctx.cost_usd,
            created_at=now,
            expires_at=now + plan.settings.ttl_s,
            extra={"policy": plan.policy, "provider": ctx.provider, "kind": ex.kind},
        )
        return self._put(ex, entry, plan)

    async def _put(self, ex: Exchange, entry: Entry, plan: Plan) -> None:
        try:
            put_evicting = getattr(self.store, "put_evicting", None)
            if put_evicting is not None:
                s = plan.settings
                gone = await put_evicting(entry, max_entries=s.max_entries, max_bytes=s.max_bytes)
            else:
                await self.store.put(entry)
                gone = []
            ex.ctx.cache_key = entry.key
            if self.index is not None:
                if plan.semantic and plan.text is not None:
                    await self.index.add(plan.scope, plan.text, entry.key, entry.expires_at)
                if gone:
                    await self.index.remove(list(gone))
        except Exception:
            log.warning("could not cache the answer of %s", ex.ctx.request_id, exc_info=True)

    def track(self, task: asyncio.Task[None]) -> None:
        """Keep a background store job alive until it is done."""
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def flush(self) -> None:
        """Wait for the store jobs in flight (tests, shutdown)."""
        while self._jobs:
            await asyncio.gather(*list(self._jobs), return_exceptions=True)


def _status(ex: Exchange, status: str) -> Reply | None:
    """Set the cache status (record and header); None: the chain goes on."""
    ex.ctx.cache_status = status
    ex.extra_headers[HEADER] = status
    return None


def _clean(ex: Exchange) -> bool:
    ctx = ex.ctx
    if ctx.error is not None or ctx.http_status != 200 or flagged(ctx.guardrail_verdicts):
        return False
    return ex.kind == "embeddings" or bool(ctx.finish_reason)


def _answer_body(ex: Exchange) -> dict[str, Any] | None:
    """The answer as the client received it, in the non-streaming shape."""
    ctx = ex.ctx
    model = ctx.model_requested or ""
    if ex.kind == "embeddings":
        res = ex.embedding
        if res is None:
            return None
        fmt, dims = ex.body.encoding_format, ex.body.dimensions
        return responses.embeddings(res.vectors, model, res.prompt_tokens, fmt, dims)
    comp = ex.completion
    if ex.stream is not None:
        comp = Completion(
            text=ctx.response_body or "",
            finish_reason=ctx.finish_reason or "stop",
            prompt_tokens=ctx.prompt_tokens or 0,
            completion_tokens=ctx.completion_tokens or 0,
        )
    if comp is None:
        return None
    chat = ex.kind == "chat"
    rid = ("chatcmpl-" if chat else "cmpl-") + ctx.request_id
    build = responses.chat_completion if chat else responses.text_completion
    return build(rid, int(ctx.received), model, comp)


def _hit(ex: Exchange, entry: Entry, similarity: float | None) -> Reply:
    """Answer from ``entry``: the record says what was saved; no model was called."""
    ctx = ex.ctx
    ctx.cache_plan = None  # nothing to store
    _status(ex, "hit" if similarity is None else "semantic_hit")
    if similarity is not None:
        ex.extra_headers[SIMILARITY_HEADER] = f"{similarity:.4f}"
    ctx.cache_key, ctx.cache_similarity = entry.key, similarity
    ctx.cost_usd, ctx.cost_saved_usd = 0.0, entry.cost_usd
    ctx.model_served = entry.model_served
    ctx.provider = entry.extra.get("provider")
    ctx.prompt_tokens, ctx.completion_tokens = usage_of(entry.body)
    headers = {"x-workbench-request-id": ctx.request_id, **ex.extra_headers}
    model = ctx.model_requested or entry.model
    if ex.kind == "embeddings":
        ctx.completion_tokens = 0
        if ctx.store_bodies:
            ctx.response_body = f'{{"object":"list","n":{len(entry.body.get("data") or [])}}}'
        ctx.mark_first_byte()
        return Reply(body=responses.dumps({**entry.body, "model": model}), headers=headers)
    chat = ex.kind == "chat"
    rid = ("chatcmpl-" if chat else "cmpl-") + ctx.request_id
    ctx.finish_reason = finish_of(entry.body)
    if ctx.stream:
        opts = getattr(ex.body, "stream_options", None)
        stream = sse_replay(
            entry.body,
            rid=rid,
            created=int(ctx.received),
            model=model,
            chat=chat,
            include_usage=bool(opts and opts.include_usage),
            on_first_byte=ctx.mark_first_byte,
        )
        ctx.response_body = answer_text(entry.body)
        headers["cache-control"] = "no-cache"
        return Reply(stream=stream, media_type="text/event-stream", headers=headers)
    data = responses.dumps(restamped(entry.body, rid, int(ctx.received), model))
    if ctx.store_bodies:
        ctx.response_body = data.decode()
    ctx.mark_first_byte()
    return Reply(body=data, headers=headers)


class CacheRecorder(Recorder):
    """The pipeline's recorder with the cache's commit in front: a clean answer is
    stored first, then the record is written (see the module docstring)."""

    def __init__(
        self, submit: Submit, cache: CacheStages, *, observe: bool = True, acked: bool = False
    ) -> None:
        super().__init__(submit, observe=observe, acked=acked)
        self.cache = cache

    def __call__(self, ex: Exchange) -> Awaitable[None] | None:
        """Store a clean answer, then record; with ``acked``, the awaitable of both."""
        if ex.ctx.pending:  # the base class waits for them, then calls us again
            return super().__call__(ex)
        job = self.cache.commit(ex)
        if job is None:
            return super().__call__(ex)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a stream collected late): record, store nothing
            job.close()
            return super().__call__(ex)

        async def store_then_record() -> None:
            try:
                await job
            finally:
                ack = Recorder.__call__(self, ex)
                if ack is not None:
                    await ack

        task = loop.create_task(store_then_record())
        self.cache.track(task)
        return task if self.acked else None


__all__ = ["HEADER", "SIMILARITY_HEADER", "CacheRecorder", "CacheStages"]
