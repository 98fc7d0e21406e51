"""The router: walks a route's strategy tree and makes the upstream attempts.

``await router.execute(req, call, attempts)`` resolves ``req.model`` (a route, or a gateway
model, which is routed as ``single``), then tries targets as the tree says:

- ``single`` tries its one child; ``fallback`` tries its children in order and moves on
  when a child fails with a listed status code (``on_status_codes``), an error kind
  listed in ``on_errors`` (timeout, connection, malformed), or an output-guardrail
  rejection (``on_guardrail_failure``); ``loadbalance``, ``least-latency`` and
  ``least-cost`` choose one child (see :mod:`workbench.routing.selection`) and do not move
  on when it fails (nest them in a ``fallback`` for that); ``conditional`` takes the
  first rule whose condition matches, else ``default``.
- Each concrete target is retried (``retry``: nearest node's, else the section's) with
  backoff or its ``Retry-After``, never sleeping past the request budget.
- A target whose breaker is open is skipped by every strategy (recorded as ``skipped``).
- Every attempt gets timeouts clipped to what is left of ``request_timeout_s`` and is cut
  off by the router itself at its ``total``.

``call(attempt)`` performs one attempt: it returns the result or raises a
:class:`~workbench.errors.WorkbenchError`, or :class:`OutputRejected`. Each attempt is
appended to ``attempts`` as a dict (see :func:`workbench.routing.run.attempt_record`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from workbench.errors import (
    InvalidRequestError,
    NotFoundError,
    ServiceUnavailableError,
    UpstreamTimeoutError,
)
from workbench.routing.conditions import matches
from workbench.routing.config import RouteNode, RoutingConfig
from workbench.routing.outcome import classify, retry_wait_s
from workbench.routing.run import Run, Scope, Skipped, attempt_timeouts
from workbench.routing.selection import Selector
from workbench.routing.state import RoutingState
from workbench.routing.types import Attempt, OutputRejected, Reason, RouteRequest, TargetInfo
from workbench.routing.validate import routing_problems

__all__ = ["Router"]

T = TypeVar("T")
_MAX_DEPTH = 32


class Router:
    """Routes requests by one routing section over the gateway's concrete targets."""

    def __init__(
        self,
        config: RoutingConfig | None,
        targets: Mapping[str, TargetInfo],
        state: RoutingState,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config if config is not None else RoutingConfig()
        self.targets = dict(targets)
        self.state = state
        self.rng = rng if rng is not None else random.Random()
        self.sleep = sleep
        self.clock = clock
        self.selector = Selector(state, self.targets, self.config.dynamic, self.rng)
        self._entries: dict[str, RouteNode] = {}
        self.problems: list[str] = [
            f"routing.{'.'.join(map(str, loc))}: {msg}"
            for loc, msg in routing_problems(self.config, known_targets=self.targets)
        ]
        """Problems of the section against these targets (unknown targets are skipped)."""

    def routes(self) -> list[str]:
        """The virtual model names the section defines."""
        return sorted(self.config.routes)

    def knows(self, model: str) -> bool:
        """Whether ``model`` is a route or a concrete target."""
        return model in self.config.routes or model in self.targets

    async def execute(
        self,
        req: RouteRequest,
        call: Callable[[Attempt], Awaitable[T]],
        attempts: list[dict[str, Any]],
    ) -> tuple[Attempt, T]:
        """Route ``req``: the attempt that answered and its result, or the final error."""
        if not self.knows(req.model):
            raise NotFoundError(
                f"The model {req.model!r} does not exist", param="model", code="model_not_found"
            )
        run: Run[T] = Run(req, call, attempts, self.clock() + self.config.request_timeout_s)
        scope = Scope(route=None, reason="primary", retry=self.config.retry)
        try:
            return await self._node(run, self._entry(req.model), scope)
        except Skipped:
            last = run.last_error
            if isinstance(last, OutputRejected):
                raise last.error from None
            if last is not None:
                raise last from None
            raise run.all_skipped() from None
        except OutputRejected as exc:
            raise exc.error from None

    def _entry(self, model: str) -> RouteNode:
        node = self._entries.get(model)
        if node is None:
            node = RouteNode(target=model)
            if len(self._entries) < 4096:  # model names are checked by knows() first
                self._entries[model] = node
        return node

    # -- the tree ----------------------------------------------------------------------
    async def _node(self, run: Run[T], node: RouteNode, scope: Scope) -> tuple[Attempt, T]:
        scope = scope.inherit(node)
        if node.target is not None:
            name = node.target
            if name in self.config.routes and name != scope.route:
                if scope.depth >= _MAX_DEPTH:
                    raise ServiceUnavailableError("route nesting too deep (a cycle of routes?)")
                return await self._node(run, self.config.routes[name], scope.enter(name))
            return await self._leaf(run, name, scope)
        if node.mode == "fallback":
            return await self._fallback(run, node, scope)
        if node.mode == "conditional":
            return await self._conditional(run, node, scope)
        if node.mode == "single" or node.mode is None:
            children = node.targets or []
            if not children:
                raise Skipped()
            return await self._node(run, children[0], scope)
        return await self._choose(run, node, scope)

    async def _fallback(self, run: Run[T], node: RouteNode, scope: Scope) -> tuple[Attempt, T]:
        last: Exception | None = None
        guardrail = node.on_guardrail_failure is not False
        for i, child in enumerate(node.targets or []):
            if i > 0 and run.remaining(self.clock()) <= 0:
                break
            try:
                return await self._node(run, child, scope if i == 0 else scope.fallback())
            except Skipped:
                continue
            except OutputRejected as exc:
                if not guardrail:
                    raise
                last = exc
            except Exception as exc:
                if not classify(exc).matches(node.fallback_codes(), node.fallback_errors()):
                    raise
                last = exc
        if last is not None:
            raise last
        raise Skipped()

    async def _conditional(self, run: Run[T], node: RouteNode, scope: Scope) -> tuple[Attempt, T]:
        for rule in node.conditions or []:
            if matches(rule.when, run.req):
                return await self._node(run, rule.then, scope.because("conditional"))
        if node.default is not None:
            return await self._node(run, node.default, scope.because("conditional"))
        raise InvalidRequestError(
            f"no routing rule of {scope.route or run.req.model!r} matches this request "
            "and it has no default",
            param="model",
            code="no_route_matched",
        )

    async def _choose(self, run: Run[T], node: RouteNode, scope: Scope) -> tuple[Attempt, T]:
        reason: Reason = "loadbalance"
        if node.mode == "least-latency" or node.mode == "least-cost":
            reason = node.mode
        for child in self.selector.order(node):
            try:
                result = await self._node(run, child, scope.because(reason))
            except Skipped:
                continue
            except BaseException:
                self.selector.picked(node, child)
                raise
            self.selector.picked(node, child)
            return result
        raise Skipped()

    # -- one concrete target -------------------------------------------------------------
    async def _leaf(self, run: Run[T], name: str, scope: Scope) -> tuple[Attempt, T]:
        info = self.targets.get(name)
        if info is None:
            run.skip(name, None, "unknown_target")
            raise Skipped()
        breaker = self.config.circuit_breaker
        policy = scope.retry
        retry, wait = 0, 0.0
        while True:
            remaining = run.remaining(self.clock())
            if remaining <= 0:
                raise run.exhausted(self.config.request_timeout_s)
            if not self.state.allow(name, breaker):
                run.skip(name, info.provider, "breaker_open")
                if retry == 0:
                    raise Skipped()
                assert run.last_error is not None
                raise run.last_error
            attempt = Attempt(
                target=name,
                provider=info.provider,
                number=run.number + 1,
                retry=retry,
                reason="retry" if retry else scope.reason,
                timeouts=attempt_timeouts(info, scope.timeouts, remaining),
                deadline=run.deadline,
                route=scope.route,
            )
            try:
                return attempt, await self._attempt(run, attempt, wait)
            except OutputRejected:
                raise
            except Exception as exc:
                failure = classify(exc)
                if retry >= policy.attempts or not failure.matches(
                    policy.on_status_codes, policy.on_errors
                ):
                    raise
                next_wait = retry_wait_s(policy, retry + 1, _retry_after(exc), self.rng)
                if next_wait is None or self.clock() + next_wait >= run.deadline:
                    raise
            wait = next_wait
            await self.sleep(wait)
            retry += 1

    async def _attempt(self, run: Run[T], attempt: Attempt, wait_s: float) -> T:
        run.number += 1
        entry = run.begin(attempt, wait_s)
        start = self.clock()
        breaker, alpha = self.config.circuit_breaker, self.config.dynamic.ewma_alpha
        try:
            async with asyncio.timeout(attempt.timeouts.total):
                result = await run.call(attempt)
        except OutputRejected as exc:
            latency = (self.clock() - start) * 1000.0
            run.fail(entry, exc, latency, exc.error.code or "output_rejected", None)
            self.state.record(attempt.target, False, latency, False, breaker, alpha)
            raise
        except TimeoutError as exc:
            err = UpstreamTimeoutError(
                f"the upstream of {attempt.target!r} timed out "
                f"(this attempt's limit: {attempt.timeouts.total:.3g} s)"
            )
            latency = (self.clock() - start) * 1000.0
            run.fail(entry, err, latency, err.code or "upstream_timeout", None)
            self.state.record(attempt.target, False, None, True, breaker, alpha)
            raise err from exc
        except Exception as exc:
            failure = classify(exc)
            latency = (self.clock() - start) * 1000.0
            run.fail(entry, exc, latency, failure.code, failure.http_status)
            self.state.record(attempt.target, False, None, failure.breaker_failure, breaker, alpha)
            raise
        latency = (self.clock() - start) * 1000.0
        run.succeed(entry, latency)
        self.state.record(attempt.target, True, latency, False, breaker, alpha)
        return result


def _retry_after(exc: BaseException) -> float | None:
    value = getattr(exc, "retry_after_s", None)
    return float(value) if isinstance(value, int | float) else None
