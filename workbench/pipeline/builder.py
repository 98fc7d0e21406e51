"""``build_pipeline``: the production request pipeline from a gateway config.

The FastAPI adapter, the Ray Serve ingress, tests and notebooks all build the gateway
this way; the host supplies only the few things that differ (backends for targets that
run in their own replicas, the key store, where records go, the live policies, the
shared routing state). Nothing here imports Ray or a web framework.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from workbench.config.gateway import GatewayConfig
from workbench.errors import (
    InvalidRequestError,
    NotFoundError,
    ServiceUnavailableError,
    WorkbenchError,
)
from workbench.gateway import metrics, responses
from workbench.governance.permissions import CALL_MODELS
from workbench.governance.proxies import client_ip, parse_networks
from workbench.guardrails.engine import GuardrailEngine
from workbench.pipeline.context import RequestContext, new_request_id
from workbench.pipeline.recorder import Submit
from workbench.pipeline.runner import Pipeline
from workbench.pipeline.stages import seams
from workbench.pipeline.stages.auth import Authenticator, authenticate, authorize_model
from workbench.pipeline.stages.call import route_and_call
from workbench.pipeline.stages.parse import parse
from workbench.pipeline.stages.policy import EngineFor, input_guardrails, select_policy
from workbench.pipeline.stages.respond import Pricer, respond
from workbench.pipeline.targets import Backend, Target
from workbench.pipeline.types import Exchange, Incoming, Reply, Stage
from workbench.providers import registry
from workbench.routing import LocalRoutingState, Router, RoutingState, TargetInfo

if TYPE_CHECKING:  # the cache stages import the pipeline's types: imported when built
    from workbench.cache._types import EntryStore, SemanticIndex
    from workbench.cache.stages import CacheRecorder
    from workbench.limits import Limiter, LimitsStage


def make_targets(cfg: GatewayConfig, hosted: Mapping[str, Backend]) -> dict[str, Target]:
    """Every configured target with its backend: ``hosted`` for replica-run providers,
    an in-process client (the provider's factory) for the others."""
    out: dict[str, Target] = {}
    for t in cfg.models:
        spec = registry.get(t.provider)
        if t.name in hosted:
            backend = hosted[t.name]
        elif spec.runs_in == "ingress":
            backend = spec.factory(t)
        else:
            continue  # a replica-run target whose host supplied no backend: not served
        out[t.name] = Target(config=t, backend=backend, capabilities=spec.capabilities)
    return out


def _target_infos(targets: Mapping[str, Target], prices: Any) -> dict[str, TargetInfo]:
    infos = {}
    for name, t in targets.items():
        cost = None
        if prices is not None:
            cost = prices.cost(t.upstream_model, t.config.provider, 500_000, 500_000)
        infos[name] = TargetInfo(
            name=name, provider=t.config.provider, cost_per_mtok=cost, timeouts=t.config.timeouts
        )
    return infos


class Routers:
    """One router per live policy version (its ``routing`` section), sharing one state."""

    def __init__(self, infos: Mapping[str, TargetInfo], state: RoutingState) -> None:
        self.infos, self.state = infos, state
        self.default = Router(None, infos, state)
        self._by_hash: dict[str, Router] = {}

    def __call__(self, engine: GuardrailEngine | None) -> Router:
        if engine is None:
            return self.default
        key = str(engine.policy_hash or engine.policy_id)
        router = self._by_hash.get(key)
        if router is None:
            if len(self._by_hash) > 64:
                self._by_hash.clear()
            router = Router(engine.policy.routing, self.infos, self.state)
            self._by_hash[key] = router
            metrics.add_known_models(router.routes())
        return router


def _unknown(ex: Exchange) -> WorkbenchError:
    inc = ex.incoming
    if inc.status_hint == 503:
        return ServiceUnavailableError(
            "the gateway is shutting down; retry shortly", code="shutting_down"
        )
    if inc.status_hint == 400:
        return InvalidRequestError("malformed request")
    if inc.status_hint == 405:
        err = InvalidRequestError(
            f"method {inc.method} not allowed on {inc.path[:200]}", code="method_not_allowed"
        )
        err.status = 405
        return err
    return NotFoundError(f"no route {inc.method} {inc.path[:200]}", code="unknown_route")


class GatewayPipeline:
    """The gateway's chains: generate (chat, completions, embeddings), models, unknown."""

    def __init__(
        self,
        cfg: GatewayConfig,
        targets: dict[str, Target],
        routers: Routers,
        auth: Authenticator | None,
        record: CacheRecorder,
        engine_for: EngineFor | None,
        prices: Any,
        draining: Callable[[], bool],
        policies: Any = None,
        limits: LimitsStage | None = None,
    ) -> None:
        self.cfg, self.targets, self.routers, self.policies = cfg, targets, routers, policies
        self.draining = draining
        self.auth = auth  # the key store (the admin API authenticates with it too)
        self.trusted_proxies = parse_networks(cfg.gateway.trusted_proxies)
        require = auth if cfg.gateway.require_auth else None
        self.limits: list[Stage] = [limits] if limits is not None else []
        self.limits_stage = limits
        self.cache = record.cache  # the exact store (+ semantic index), built once here
        self.cache_lookup: list[Stage] = [self.cache.lookup]
        self.cache_store: list[Stage] = [self.cache.store_stage]
        self.generate = Pipeline(
            [
                authenticate(require, CALL_MODELS),
                parse(cfg.gateway),
                authorize_model,
                select_policy(engine_for, routers),
                seams.chain(self.limits),
                input_guardrails,
                seams.chain(self.cache_lookup),
                route_and_call(targets),
                seams.chain(self.cache_store),
                respond(Pricer(prices)),
            ],
            limits.recording(record) if limits is not None else record,
            self.start,
            draining,
            record.acked,
        )
        self.models = Pipeline(
            [authenticate(require), self._models], record, self.start, draining, record.acked
        )
        self.unknown = Pipeline([self._unknown], record, self.start, draining, record.acked)
        metrics.set_known_models(self.model_names())

    def start(self, incoming: Incoming) -> Exchange:
        """A fresh exchange with the request's context."""
        ctx = RequestContext(
            endpoint=incoming.endpoint,
            method=incoming.method,
            store_bodies=self.cfg.gateway.store_bodies,
            # a given id: no uuid4 (an urandom call) made only to be replaced
            request_id=incoming.request_id or new_request_id(),
        )
        h = incoming.headers
        ctx.trace_id = h.get("x-trace-id") or h.get("traceparent")
        ctx.user_agent = h.get("user-agent")
        ctx.client_ip = client_ip(
            incoming.client_host, h.get("x-forwarded-for"), self.trusted_proxies
        )
        return Exchange(incoming=incoming, ctx=ctx)

    async def handle(self, incoming: Incoming) -> Reply:
        """Answer one request (always exactly one log record)."""
        if incoming.kind in ("chat", "completions", "embeddings"):
            return await self.generate.run(incoming)
        if incoming.kind == "models":
            return await self.models.run(incoming)
        return await self.unknown.run(incoming)

    def model_names(self) -> list[str]:
        """Every name a client may send: targets and the routes of live policies."""
        names = list(self.targets)
        engines = getattr(self.policies, "engines", {}) if self.policies is not None else {}
        for engine in list(engines.values()):
            for route in self.routers(engine).routes():
                if route not in names:
                    names.append(route)
        return names

    def _model_entry(self, name: str) -> dict[str, Any]:
        t = self.targets.get(name)
        owner = t.config.provider if t is not None else "workbench-route"
        return {"id": name, "object": "model", "created": 0, "owned_by": owner}

    async def _models(self, ex: Exchange) -> Reply:
        who = ex.ctx.principal  # a key lists and shows only the models it may call
        names = [n for n in self.model_names() if who is None or who.may_call(n)]
        if ex.incoming.model_id is None:
            data: Any = {"object": "list", "data": [self._model_entry(n) for n in names]}
        elif ex.incoming.model_id in names:
            data = self._model_entry(ex.incoming.model_id)
        else:
            raise NotFoundError(
                f"The model '{ex.incoming.model_id[:200]}' does not exist",
                param="model",
                code="model_not_found",
            )
        return Reply(body=responses.dumps(data))

    async def _unknown(self, ex: Exchange) -> Reply:
        raise _unknown(ex)


def build_pipeline(
    cfg: GatewayConfig,
    *,
    submit_record: Submit,
    hosted: Mapping[str, Backend] | None = None,
    auth: Authenticator | None = None,
    prices: Any = None,
    policies: Any = None,
    routing_state: RoutingState | None = None,
    draining: Callable[[], bool] = lambda: False,
    observe_metrics: bool = True,
    cache_store: EntryStore | None = None,
    semantic_index: SemanticIndex | None = None,
    limiter: Limiter | None = None,
    ack_records: bool = False,
) -> GatewayPipeline:
    """The production pipeline for ``cfg``.

    ``hosted``: backends of targets whose provider runs in its own replica (the Serve
    ingress passes Ray handles; a notebook may pass in-process engines). ``policies``: a
    :class:`~workbench.gateway.policies.PolicyRuntime` (live policies), or None.
    ``routing_state``: shared breaker/latency state (in-process by default).
    ``observe_metrics=False`` keeps the records out of the Prometheus metrics (a replay
    in a notebook is not gateway traffic). ``cache_store``: where cached answers live
    (default: the node's SQLite file, :class:`~workbench.cache.store.SqliteEntryStore`,
    opened only when a policy caches); ``semantic_index``: the near-duplicate index
    (None: semantic caching off whatever the policies say). ``limiter``: budgets and rate
    limits (:class:`~workbench.limits.Limiter`; None: no limits stage). ``ack_records``:
    ``submit_record`` returns the record's acknowledgement, and a non-streamed reply is
    recorded and acknowledged before it is sent (a cluster gateway: see
    :mod:`workbench.pipeline.recorder`).
    """
    targets = make_targets(cfg, hosted or {})
    state = routing_state if routing_state is not None else LocalRoutingState()
    routers = Routers(_target_infos(targets, prices), state)
    from workbench.cache.stages import CacheRecorder, CacheStages
    from workbench.cache.store import SqliteEntryStore

    engine_for = policies.for_request if policies is not None else None
    cache = CacheStages(cache_store if cache_store is not None else SqliteEntryStore(),
                        semantic_index)  # fmt: skip
    return GatewayPipeline(
        cfg,
        targets,
        routers,
        auth,
        CacheRecorder(submit_record, cache, observe=observe_metrics, acked=ack_records),
        engine_for,
        prices,
        draining,
        policies,
        _limits_stage(limiter, targets, prices),
    )


def _limits_stage(limiter: Limiter | None, targets: dict[str, Target], prices: Any) -> Any:
    if limiter is None:
        return None
    from workbench.limits import LimitsStage

    return LimitsStage(limiter, targets, prices)
