"""Stages that later issues fill: limits (rate, budget) and the cache.

Each is a real stage in the chain today, so filling it changes no other code: a
limits stage raises :class:`~workbench.errors.RateLimitError` to refuse; a cache
lookup returns a :class:`~workbench.pipeline.types.Reply` (and sets
``ctx.cache_status = "hit"``) to answer without calling a model; a cache store runs
after a successful answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.pipeline.types import Exchange, Reply, Stage


def chain(hooks: Sequence[Stage]) -> Stage:
    """One stage running ``hooks`` in order (the first reply wins)."""

    async def stage(ex: Exchange) -> Reply | None:
        for hook in hooks:
            reply = await hook(ex)
            if reply is not None:
                return reply
        return None

    return stage
