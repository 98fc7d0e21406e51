"""The pipeline's limits stage: reserve before the call, reconcile after the answer.

Before the request goes on, :class:`LimitsStage` takes from every counter that applies
to (key, user, workspace, model): one request, one concurrency slot, the worst-case
tokens (prompt estimate + ``max_tokens``, or the target's default, times ``n``), and the
worst-case cost: those tokens at the price of the dearest target the requested model
can be routed to (the answering target is not known yet). A refusal is a 429:
``budget_exceeded`` or ``rate_limit_exceeded`` naming the rule, with ``Retry-After``.

When the request's record is made (always exactly once, streams included: a stream is
recorded in its generator's ``finally`` path, :class:`~workbench.pipeline.runner.LoggedStream`),
:meth:`LimitsStage.settle` reconciles: the answer's priced cost and tokens are charged
and the rest of the reservation released; a stream cut before its usage arrived is
charged for the text it produced (4 characters a token); an error releases everything.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Mapping
from typing import Any

from workbench.limits.client import LimitDenied, Limiter
from workbench.limits.rules import NANO
from workbench.pipeline.runner import Recorder
from workbench.pipeline.targets import Target
from workbench.pipeline.types import Exchange, Reply

__all__ = ["LimitsStage", "prompt_estimate"]

log = logging.getLogger(__name__)


def prompt_estimate(ex: Exchange) -> int:
    """A generous prompt-token estimate: a token per 3 characters, 8 per message."""
    if ex.creq is None:
        return sum(math.ceil(len(t) / 3) + 8 for t in ex.texts)
    if ex.creq.prompt is not None:
        return math.ceil(len(ex.creq.prompt) / 3) + 8
    total = 8
    for m in ex.creq.messages or []:
        c = m.get("content")
        chars = len(c) if isinstance(c, str) else len(str(c or ""))
        total += math.ceil(chars / 3) + 8
    return total


def _leaves(node: Any, out: set[str]) -> None:
    if node is None:
        return
    if node.target is not None:
        out.add(node.target)
    for child in node.targets or []:
        _leaves(child, out)
    for rule in node.conditions or []:
        _leaves(rule.then, out)
    _leaves(node.default, out)


class LimitsStage:
    """The stage (``await stage(ex)``) and its reconciliation (``settle(ex)``)."""

    def __init__(self, limiter: Limiter, targets: Mapping[str, Target], prices: Any) -> None:
        self.limiter, self.targets, self.prices = limiter, targets, prices

    async def __call__(self, ex: Exchange) -> Reply | None:
        ctx = ex.ctx
        subjects = {"key": ctx.key_id, "user": ctx.user, "workspace": ctx.workspace,
                    "model": ctx.model_requested}  # fmt: skip
        tokens, cost = 0, 0
        if not self.limiter.rules.kinds.isdisjoint(("tokens", "budget")):
            tokens, cost = self.worst_case(ex)
        needs = {"requests": 1, "concurrent": 1, "tokens": tokens, "budget": cost}
        try:
            adm = await self.limiter.admit(subjects, ctx.workspace, needs)
        except LimitDenied as denied:
            ex.extra_headers.update(denied.headers)
            raise
        ctx.limits_hold = adm
        ex.extra_headers.update(adm.headers)
        return None

    def candidates(self, ex: Exchange) -> list[Target]:
        """The targets the requested model may be answered by."""
        model = ex.ctx.model_requested or ""
        names: set[str] = set()
        router = ex.router
        node = router.config.routes.get(model) if router is not None else None
        if node is not None:
            _leaves(node, names)
        else:
            names.add(model)
        return [self.targets[n] for n in sorted(names) if n in self.targets]

    def worst_case(self, ex: Exchange) -> tuple[int, int]:
        """(tokens, nano-USD) the request may cost at most."""
        prompt = prompt_estimate(ex)
        worst_tokens, worst_cost = prompt, 0
        for t in self.candidates(ex):
            out = 0
            if ex.creq is not None:
                out = (ex.ctx.max_tokens or t.config.max_new_tokens_default) * (ex.ctx.n or 1)
            worst_tokens = max(worst_tokens, prompt + out)
            cost = self._cost(t.config, prompt, out)
            worst_cost = max(worst_cost, cost)
        return worst_tokens, worst_cost

    def _cost(self, target: Any, prompt: int, completion: int) -> int:
        if self.prices is None:
            return 0
        usd = self.prices.cost(target.model or target.name, target.provider, prompt, completion)
        return 0 if usd is None else math.ceil(usd * NANO)

    # -- reconciliation -----------------------------------------------------------------
    def settle(self, ex: Exchange) -> None:
        """Charge what the request used, release the rest (idempotent)."""
        adm = ex.ctx.limits_hold
        if adm is None:
            return
        ex.ctx.limits_hold = None
        try:
            tokens, cost = self.actual(ex)
            self.limiter.settle(adm, {"tokens": tokens, "budget": cost})
        except Exception:  # reconciliation must never fail the record
            log.exception("limits settlement of %s failed", ex.ctx.request_id)

    def actual(self, ex: Exchange) -> tuple[int, int]:
        """(tokens, nano-USD) the request used."""
        ctx = ex.ctx
        pt, ct = ctx.prompt_tokens, ctx.completion_tokens
        if ex.target is None:  # no target answered (refused, failed, a cache hit)
            return 0, 0
        if ctx.cost_usd is not None:
            return (pt or 0) + (ct or 0), math.ceil(ctx.cost_usd * NANO)
        if ctx.stream and ct is None:  # cut before its usage: charge the text produced
            text = "".join(o.get("text") or "" for o in ctx.upstream_outputs)
            pt = pt if pt is not None else prompt_estimate(ex)
            ct = math.ceil(len(text) / 4)
            return pt + ct, self._cost(ex.target, pt, ct)
        return (pt or 0) + (ct or 0), 0

    def recording(self, record: Recorder) -> Recorder:
        """``record`` preceded by the settlement (the pipeline's one end of a request)."""

        def settle_then_record(ex: Exchange) -> Awaitable[None] | None:
            self.settle(ex)
            return record(ex)

        return settle_then_record
