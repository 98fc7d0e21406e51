"""The deployment graph builder, named by ``import_path`` in a Serve config.

``serve run serve.app:build_app config=path/to/gateway.yaml`` or the ``applications``
entry of ``serve/config.yaml``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ray import serve
from ray.serve import Application

from serve.cache_index import CacheIndex
from serve.embedder import Embedder
from serve.gateway import Gateway
from serve.logsink import LogSink
from serve.replica import ModelReplica
from serve.scorer import GuardrailScorer
from workbench.config.deploy import HEAD_RESOURCE_ENV
from workbench.config.gateway import GatewayConfig, ModelTarget, load_config
from workbench.home import home, logs_dir
from workbench.providers import registry

log = logging.getLogger(__name__)


def _gpus(target_gpus: float | None) -> float:
    if target_gpus is not None:
        return target_gpus
    try:
        import torch

        return 1.0 if torch.cuda.is_available() else 0.0
    except Exception:
        return 0.0


def resolve_local_models(cfg: GatewayConfig) -> list[str]:
    """Resolve each local target's model once, in the driver, before deploying.

    A hub id that cannot be had offline falls back to the tiny LM (when the target
    allows it); the config is updated in place so every replica loads the same
    thing. Returns the start-up notes to print.
    """
    from workbench.providers.local import resolve_model

    notes = []
    for target in cfg.models:
        if target.provider != "local":
            continue
        resolved = resolve_model(target.model or "tiny", fallback=target.fallback)
        if resolved.is_fallback:
            notes.append(
                f"WARNING: model '{target.name}': {target.model!r} is not available "
                f"({resolved.reason}); serving the tiny random-weight test LM from "
                f"{resolved.path_or_id} instead. Its output is gibberish."
            )
            log.warning(notes[-1])
        target.model = str(resolved.path_or_id)
        target.fallback = None
    return notes


#: Serve's per-request access log line is off on every deployment: the request log
#: records every request already, and the line (a LogRecord formatted and written per
#: request in each replica) cost the ingress about 0.15-0.2 ms of GIL time per request
#: (py-spy --gil, c=8). Serve's own errors and warnings are still logged.
SERVE_LOGGING = {"enable_access_log": False}


def build_graph(cfg: GatewayConfig) -> Application:
    """Bind the deployments for a validated config (the price table is checked here)."""
    from workbench.pricing import load_prices

    load_prices(Path(cfg.pricing) if cfg.pricing else None)  # fail fast, in the driver
    home_dir = str(home())
    log_root = (
        str(Path(cfg.logging.dir).expanduser().resolve()) if cfg.logging.dir else str(logs_dir())
    )
    sink = LogSink.options(logging_config=SERVE_LOGGING).bind(
        log_root,
        cfg.logging.flush_rows,
        cfg.logging.flush_interval_s,
        home_dir,
        cfg.logging.compact_interval_s,
        cfg.logging.compact_grace_s,
    )
    replicas: dict[str, Application] = {}
    for target in cfg.models:
        spec = registry.get(target.provider)
        if spec.runs_in != "replica":
            continue
        dumped = target.model_dump()
        if "chat" in spec.capabilities:
            gpus = _gpus(target.num_gpus)
            replicas[target.name] = ModelReplica.options(
                name=f"model-{target.name}",
                **replica_count(target),
                ray_actor_options={"num_cpus": 0, "num_gpus": gpus},
                logging_config=SERVE_LOGGING,
            ).bind(dumped, home_dir)
        else:
            replicas[target.name] = Embedder.options(
                name=f"embed-{target.name}",
                **replica_count(target),
                logging_config=SERVE_LOGGING,
            ).bind(dumped, home_dir)
    scorer = (
        GuardrailScorer.options(logging_config=SERVE_LOGGING).bind(home_dir)
        if cfg.guardrails.scorer
        else None
    )
    # The semantic cache's index embeds with its own copy of the configured MiniLM target
    # (the embedded defaults have one), loaded when a policy first caches semantically.
    # Without one, no index is deployed: a policy's semantic cache is then off and its
    # exact cache still works.
    minilm = next((t for t in cfg.models
                   if t.provider == "embeddings" and t.name in replicas), None)  # fmt: skip
    cache_index = (  # it embeds with its own copy of that target's engine (one hop less)
        CacheIndex.options(logging_config=SERVE_LOGGING).bind(
            None, home_dir, target=minilm.model_dump()
        )
        if minilm
        else None
    )
    return Gateway.options(
        num_replicas=cfg.gateway.ingress_replicas,
        max_ongoing_requests=cfg.gateway.max_ongoing_requests,
        logging_config=SERVE_LOGGING,
    ).bind(cfg.model_dump(), home_dir, sink, replicas, scorer, cache_index)


def replica_count(target: ModelTarget) -> dict[str, Any]:
    """A model deployment's replica options: ``num_replicas``, or Serve autoscaling
    between the target's bounds (``models[].autoscaling``)."""
    scale = target.autoscaling
    if scale is None:
        return {"num_replicas": target.num_replicas}
    return {"num_replicas": "auto", "autoscaling_config": scale.model_dump()}


def build_app(args: dict[str, Any]) -> Application:
    """Serve's application builder: ``args`` may name ``config`` (a gateway YAML) and
    ``home`` (the head's WORKBENCH_HOME; ``workbench deploy`` writes both as absolute
    paths). A relative ``config`` is resolved against the current directory, and a
    missing one is an error naming the absolute path tried."""
    if args.get("home"):
        os.environ["WORKBENCH_HOME"] = str(args["home"])
    path = args.get("config") or os.environ.get("WORKBENCH_CONFIG")
    if path is not None:
        path = str(Path(path).expanduser().resolve())
    cfg = load_config(path)
    if os.environ.get(HEAD_RESOURCE_ENV):
        # On a cluster (`workbench deploy`'s Serve config): limits and routing state always
        # go through the head-pinned actors, whatever replica count the Serve config sets.
        cfg.gateway.ingress_replicas = max(2, cfg.gateway.ingress_replicas)
    resolve_local_models(cfg)
    return build_graph(cfg)


__all__ = ["build_app", "build_graph", "replica_count", "resolve_local_models", "serve"]
