"""``Gateway``: the HTTP ingress. A thin Ray layer over :mod:`workbench.gateway.app`.

Cheap work (auth, validation, remote provider calls over aiohttp) happens in-process;
local models and the embedder are reached through deployment handles; log records
go to the LogSink in batches.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from serve.health import HealthProbe
from serve.limits import limiter_for
from serve.routing_state import routing_state_for
from workbench.errors import ServiceUnavailableError, UpstreamError, WorkbenchError
from workbench.providers import ChatRequest, Completion, Delta, EmbeddingResult

log = logging.getLogger("ray.serve")


def _wrap(exc: Exception) -> WorkbenchError:
    cause = getattr(exc, "cause", None)  # RayTaskError carries the replica's exception
    if isinstance(cause, WorkbenchError):
        return cause
    if isinstance(exc, WorkbenchError) and hasattr(exc, "message"):
        return exc
    name = type(exc).__name__
    if "Unavailable" in name or "BackPressure" in name or "ActorDied" in name:
        return ServiceUnavailableError(f"model replica unavailable: {name}")
    return UpstreamError(f"model replica failed: {name}: {str(exc)[:300]}")


class ReplicaBackend:
    """A local model served by a ModelReplica deployment."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle
        self.streaming = handle.options(stream=True)

    async def chat(self, req: ChatRequest) -> Completion:
        try:
            result: Completion = await self.handle.generate.remote(req)
            return result
        except Exception as exc:
            raise _wrap(exc) from exc

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        try:
            async for d in self.streaming.stream.remote(req):
                yield d
        except Exception as exc:
            raise _wrap(exc) from exc

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        raise UpstreamError("local chat models do not embed")


class EmbedderBackend:
    """The MiniLM Embedder deployment."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle

    async def chat(self, req: ChatRequest) -> Completion:
        raise UpstreamError("embedding models do not chat")

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        raise UpstreamError("embedding models do not chat")
        yield Delta()  # pragma: no cover

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        try:
            result: EmbeddingResult = await self.handle.embed.remote(texts)
            return result
        except Exception as exc:
            raise _wrap(exc) from exc


class HandleScorer:
    """The engine's Scorer, backed by the GuardrailScorer deployment."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle

    async def score(self, classifier: str, texts: list[str]) -> list[float]:
        try:
            result: list[float] = await self.handle.score.remote(classifier, texts)
            return result
        except Exception as exc:
            raise _wrap(exc) from exc

    async def tag(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        try:
            result: list[list[dict[str, Any]]] = await self.handle.tag.remote(texts)
            return result
        except Exception as exc:
            raise _wrap(exc) from exc

    async def score_many(self, items: list[tuple[str, list[str]]]) -> list[list[Any]]:
        """Several classifiers in one round trip (the engine's stage call)."""
        try:
            result: list[list[Any]] = await self.handle.score_many.remote(items)
            return result
        except Exception as exc:
            raise _wrap(exc) from exc


def _ack_records(cfg: Any) -> bool:
    """Whether answers wait for their record's acknowledgement (``logging.
    ack_before_response``; unset: on a cluster, where a node can be lost)."""
    from workbench.config.deploy import HEAD_RESOURCE_ENV

    chosen = cfg.logging.ack_before_response
    return bool(os.environ.get(HEAD_RESOURCE_ENV)) if chosen is None else bool(chosen)


@serve.deployment(
    ray_actor_options={"num_cpus": 0},
    max_ongoing_requests=256,
    # In-flight requests get this long to finish on shutdown; the default (20 s, plus
    # the controller's 30 s tier wait) made every `workbench down` take 30 s.
    graceful_shutdown_wait_loop_s=0.5,
    graceful_shutdown_timeout_s=5,
)
@serve.ingress()
class Gateway:
    """OpenAI-compatible ingress."""

    def __init__(
        self,
        config: dict[str, Any],
        home: str,
        log_sink: DeploymentHandle,
        replicas: dict[str, DeploymentHandle],
        scorer: DeploymentHandle | None = None,
        cache_index: DeploymentHandle | None = None,
    ) -> None:
        from serve.headstate import local_home

        self.head_home = home
        home, self.mirror = local_home(home)  # off the head node: a mirror of its state
        os.environ["WORKBENCH_HOME"] = home
        from workbench.config.gateway import GatewayConfig

        cfg = GatewayConfig.model_validate(config)
        self.cfg = cfg
        self.log_sink = log_sink
        self.draining = False
        self.cache_index = cache_index  # the CacheIndex deployment (None: no semantic cache)
        self._asgi = self._build(cfg, replicas, scorer)

    def _hosted(self, cfg: Any, replicas: dict[str, DeploymentHandle]) -> dict[str, Any]:
        from workbench.providers import registry

        hosted: dict[str, Any] = {}
        for target in cfg.models:
            spec = registry.get(target.provider)
            if spec.runs_in != "replica":
                continue
            if "embeddings" in spec.capabilities and "chat" not in spec.capabilities:
                hosted[target.name] = EmbedderBackend(replicas[target.name])
            else:
                hosted[target.name] = ReplicaBackend(replicas[target.name])
        return hosted

    def _build(
        self, cfg: Any, replicas: dict[str, DeploymentHandle], scorer: DeploymentHandle | None
    ) -> Any:
        from workbench.gateway.app import create_app
        from workbench.gateway.metrics import LOG_BACKLOG
        from workbench.gateway.policies import PolicyRuntime
        from workbench.gateway.shipping import LogShipper
        from workbench.keys import KeyStore
        from workbench.pipeline import build_pipeline
        from workbench.policy import PolicyStore
        from workbench.pricing import load_prices

        async def send(batch: list[dict[str, Any]]) -> Any:
            return await self.log_sink.write.remote(batch)

        from workbench.home import logs_dir

        log_root = Path(cfg.logging.dir).expanduser().resolve() if cfg.logging.dir else logs_dir()
        self.shipper = LogShipper(
            send,
            batch_max=cfg.logging.batch_max_records,
            interval_s=cfg.logging.batch_interval_s,
            dead_letter_root=log_root,
            ack_timeout_s=cfg.logging.ack_timeout_s,
        )

        self.ack_records = _ack_records(cfg)

        def submit(record: dict[str, Any]) -> Any:
            ack = self.shipper.submit_acked(record) if self.ack_records else None
            if ack is None:
                self.shipper.submit(record)
            LOG_BACKLOG.set(self.shipper.backlog)
            return ack

        self.policies = PolicyRuntime(
            PolicyStore(),
            scorer=HandleScorer(scorer) if scorer is not None else None,
            poll_s=cfg.guardrails.policy_poll_s,
        )
        self.routing_state = routing_state_for(cfg.gateway.ingress_replicas)
        self.limiter = limiter_for(cfg.gateway.ingress_replicas, self.head_home)
        self.health = HealthProbe(
            cfg, self.shipper, self.policies, scorer is not None, routing=self.routing_state
        )
        self.pipeline = build_pipeline(
            cfg,
            submit_record=submit,
            hosted=self._hosted(cfg, replicas),
            auth=KeyStore() if cfg.gateway.require_auth else None,
            prices=load_prices(Path(cfg.pricing) if cfg.pricing else None),
            policies=self.policies,
            routing_state=self.routing_state,
            limiter=self.limiter,
            draining=lambda: self.draining,
            semantic_index=self._semantic_index(),
            ack_records=self.ack_records,
        )
        app = create_app(self.pipeline, health=self._health, draining=lambda: self.draining)
        app = self._track_inflight(app)
        if self.mirror is not None:  # not the head node: admin writes go to the head
            from serve.headstate import RefuseAdminWrites

            app.add_middleware(RefuseAdminWrites)
            if self.pipeline.auth is not None:
                self.mirror.listeners.append(self.pipeline.auth.clear_cache)
        return app

    def _health(self) -> dict[str, Any]:
        """/health's facts, with where this replica's keys and policies come from."""
        state = {"state": "head" if self.mirror is None else self.mirror.info()}
        return {**self.health.report(), **state}

    def _semantic_index(self) -> Any:
        """The semantic index over the CacheIndex handle (None when not deployed). The exact
        store is the node's SQLite file, opened by the pipeline (see workbench.cache.store)."""
        if self.cache_index is None:
            return None
        from serve.cache_index import LANE_ENV, HandleSemanticIndex

        lane = os.environ.get(LANE_ENV, "on").strip().lower() not in ("0", "off", "false", "no")
        return HandleSemanticIndex(self.cache_index, lane=lane)

    def __serve_build_asgi_app__(self) -> Any:
        return self._asgi

    def _track_inflight(self, app: Any) -> Any:
        """Track the HTTP requests in flight, so that :meth:`drain` can wait for them.

        Adds a pure-ASGI middleware to the (not yet started) FastAPI ``app`` and returns
        the app. A request counts until its response's last byte (a stream until it
        ends). One that :meth:`drain` cuts at its deadline is cancelled, so the pipeline
        records it (``cut_at_shutdown``); if its response had not started, the client
        gets a 503 ``cut_at_shutdown`` error, else its stream simply stops. Each request's
        id is chosen here (``request.state.workbench_request_id``), so that a 503 sent
        for a cut request names the request the log records.
        """
        import json

        from workbench.pipeline.context import new_request_id

        inflight: dict[asyncio.Task[Any], bool] = {}  # task -> response started
        cut: set[asyncio.Task[Any]] = set()
        self._inflight, self._cut = inflight, cut
        refusal = ServiceUnavailableError(
            "the gateway shut down before this request finished; retry",
            code="cut_at_shutdown",
        ).to_body()
        body = json.dumps(refusal).encode()

        class InflightMiddleware:
            def __init__(self, inner: Any) -> None:
                self.inner = inner

            async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
                task = asyncio.current_task()
                if scope["type"] != "http" or task is None:
                    await self.inner(scope, receive, send)
                    return
                inflight[task] = False
                rid = new_request_id()
                scope.setdefault("state", {})["workbench_request_id"] = rid

                async def sending(message: Any) -> None:
                    if message["type"] == "http.response.start":
                        inflight[task] = True
                    await send(message)

                try:
                    await self.inner(scope, receive, sending)
                except asyncio.CancelledError:
                    if task not in cut:
                        raise
                    task.uncancel()
                    if not inflight.get(task):
                        headers = [
                            (b"content-type", b"application/json"),
                            (b"x-workbench-request-id", rid.encode()),
                        ]
                        start = {"type": "http.response.start", "status": 503}
                        await send({**start, "headers": headers})
                        await send({"type": "http.response.body", "body": body})
                finally:
                    inflight.pop(task, None)
                    cut.discard(task)

        app.add_middleware(InflightMiddleware)
        return app

    async def drain(self, grace_s: float) -> dict[str, Any]:
        """Stop accepting, let requests in flight finish, ship the log (``workbench up``
        calls this on every ingress replica when it is told to stop).

        New requests get 503 ``shutting_down`` (``self.draining``); requests in flight get
        up to ``grace_s`` seconds; any still running then are cut (:meth:`_track_inflight`);
        then every log record is shipped to the LogSink. Calls after the first share its
        result. Returns this replica's figures.
        """
        task: asyncio.Task[dict[str, Any]] | None = getattr(self, "_drain_task", None)
        if task is None:
            task = self._drain_task = asyncio.create_task(self._drain(grace_s))
        return await asyncio.shield(task)

    async def _drain(self, grace_s: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.draining = True
        inflight, cut = self._inflight, self._cut
        at_start = len(inflight)
        while inflight and loop.time() - start < grace_s:
            await asyncio.sleep(0.05)
        left = list(inflight)
        for t in left:
            cut.add(t)
            t.cancel()
        if left:
            await asyncio.wait(left, timeout=5.0)
        shipped = await self.shipper.drain(timeout=60.0)
        return {
            "replica": serve.get_replica_context().replica_tag,
            "in_flight_at_start": at_start,
            "cut": len(left),
            "waited_s": round(loop.time() - start, 3),
            "log_shipped": shipped,
            "log_backlog": self.shipper.backlog,
        }

    async def __del__(self) -> None:
        try:
            await self.shipper.drain(timeout=10.0)
        except Exception:
            pass
        for t in self.pipeline.targets.values():
            close = getattr(t.backend, "close", None)
            if close is None:
                continue
            try:
                await close()
            except Exception:
                pass
        try:
            await self.limiter.close()  # return this replica's leases
        except Exception:
            pass
        close_state = getattr(self.routing_state, "close", None)  # shared state only
        try:
            if close_state is not None:
                await close_state()
        except Exception:
            pass
        await asyncio.sleep(0)
