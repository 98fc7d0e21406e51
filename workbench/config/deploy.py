"""Deploy-config resolution: a gateway config and a cluster layout -> one Serve config.

``workbench deploy`` (and anyone scripting a cluster deploy) calls
:func:`resolve_gateway_config` and :func:`serve_config`. Every path the gateway will
open is made absolute here, in the CLI, relative to the *project root* (the directory
``workbench deploy`` runs in, or ``--project``), and checked: a missing file is a
:class:`~workbench.errors.ConfigError` naming the field before anything starts. Serve's
replicas then never resolve a relative path against the directory ``ray start`` ran in.

Placement (what ``ray_cluster.yaml`` declares, see :data:`HEAD_RESOURCE`):

- the ingress (``Gateway``): ``num_replicas`` replicas (default: one per alive node) with
  ``max_replicas_per_node: 1``, so they spread across nodes;
- the ``LogSink`` and the authority actors (limits, head state, routing state) ask for a
  sliver of the custom resource ``workbench_head`` that only the head node advertises, so
  they run where the state and the keys live (the head's local disk);
- model replicas, the scorer and the embedder go where their resources fit.

No Ray import here: the CLI's ``--dry-run`` and the tests use this module without Ray.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config.gateway import GatewayConfig, parse_config
from workbench.errors import ConfigError

__all__ = [
    "APP_NAME",
    "HEAD_RESOURCE",
    "HEAD_RESOURCE_ENV",
    "HEAD_SLIVER",
    "ClusterLayout",
    "ResolvedConfig",
    "layout_data",
    "resolve_gateway_config",
    "resolve_path",
    "serve_config",
]

APP_NAME = "gateway"
#: The custom resource the head node advertises (``ray_cluster.yaml``, ``ray start
#: --resources``); pinned deployments and actors ask for :data:`HEAD_SLIVER` of it.
HEAD_RESOURCE = "workbench_head"
HEAD_SLIVER = 0.01
#: Names the head resource in every replica's environment (the app's runtime_env): with
#: it set, authority actors pin themselves to the head and ingress replicas on other
#: nodes read keys and policies through the head (serve/headstate.py).
HEAD_RESOURCE_ENV = "WORKBENCH_HEAD_RESOURCE"


def resolve_path(value: str, root: Path, *, where: str, field_name: str, kind: str) -> str:
    """``value`` made absolute (``~`` expanded; relative: against ``root``), and checked.

    ``kind``: ``file`` (must be a file), ``dir`` (must be a directory) or ``newdir`` (may
    not exist yet, but its parent must be a directory). Raises :class:`ConfigError`
    naming ``where`` (the config file) and ``field_name``.
    """
    path = Path(value).expanduser()
    path = (path if path.is_absolute() else root / path).resolve()
    problem = None
    if kind == "file" and not path.is_file():
        problem = "file not found" if not path.exists() else "not a file"
    elif kind == "dir" and not path.is_dir():
        problem = "directory not found" if not path.exists() else "not a directory"
    elif kind == "newdir" and not (path.is_dir() or path.parent.is_dir()):
        problem = "neither it nor its parent directory exists"
    if problem:
        raise ConfigError(f"{problem}: {path} (given as {value!r})", path=where, field=field_name)
    return str(path)


def _looks_like_path(model: str) -> bool:
    """A local target's ``model`` is a path when written as one (else a hub id/``tiny``)."""
    return model.startswith(("/", "./", "../", "~"))


@dataclass
class ResolvedConfig:
    """A gateway config with every path absolute: the data to write and its model."""

    source: Path
    data: dict[str, Any]
    config: GatewayConfig


def resolve_gateway_config(
    config_path: str | Path,
    project_root: str | Path,
    *,
    log_dir: str | None = None,
) -> ResolvedConfig:
    """Load ``config_path`` (relative: to ``project_root``), validate it, and make its
    paths absolute: ``pricing``, ``logging.dir`` (``log_dir`` when the config has none),
    each model's ``api_key_file`` and a local model given as a path."""
    from workbench.config._yamlsource import load_yaml_with_lines

    root = Path(project_root).expanduser().resolve()
    if not root.is_dir():
        raise ConfigError(f"project root is not a directory: {root}")
    source = Path(resolve_path(str(config_path), root, where="workbench deploy",
                               field_name="--config", kind="file"))  # fmt: skip
    where = str(source)
    raw, locate = load_yaml_with_lines(source)
    parse_config(raw, path=where, locate=locate)  # schema errors first, with their line
    data = copy.deepcopy(raw)
    if data.get("pricing"):
        data["pricing"] = resolve_path(data["pricing"], root, where=where,
                                       field_name="pricing", kind="file")  # fmt: skip
    logging = data.setdefault("logging", {}) or {}
    data["logging"] = logging
    chosen = logging.get("dir") or log_dir
    if chosen:
        logging["dir"] = resolve_path(chosen, root, where=where,
                                      field_name="logging.dir", kind="newdir")  # fmt: skip
    for idx, model in enumerate(data.get("models") or []):
        if model.get("api_key_file"):
            model["api_key_file"] = resolve_path(
                model["api_key_file"], root, where=where,
                field_name=f"models.{idx}.api_key_file", kind="file",
            )  # fmt: skip
        if model.get("provider") == "local" and _looks_like_path(str(model.get("model") or "")):
            model["model"] = resolve_path(model["model"], root, where=where,
                                          field_name=f"models.{idx}.model", kind="dir")  # fmt: skip
    return ResolvedConfig(source=source, data=data, config=parse_config(data, path=where))


@dataclass
class ClusterLayout:
    """Where things run and bind on the cluster (``workbench deploy``'s options)."""

    home: str
    ingress_replicas: int = 1
    max_ingress_per_node: int = 1
    head_resource: str = HEAD_RESOURCE
    proxy_location: str = "EveryNode"
    host: str | None = None  # None: the gateway config's gateway.host
    port: int | None = None
    autoscaling: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)


def layout_data(resolved: ResolvedConfig, layout: ClusterLayout) -> dict[str, Any]:
    """The resolved config's data for ``layout``: ``gateway.ingress_replicas`` is the
    replica count (the autoscaler's maximum), so that limits and routing state are shared
    through the head's actors as soon as there can be more than one ingress replica."""
    data = copy.deepcopy(resolved.data)
    most = int((layout.autoscaling or {}).get("max_replicas", layout.ingress_replicas))
    gateway = data.get("gateway") or {}
    data["gateway"] = {**gateway, "ingress_replicas": max(1, most)}
    return data


def _pinned(layout: ClusterLayout) -> dict[str, Any]:
    return {"num_cpus": 0, "resources": {layout.head_resource: HEAD_SLIVER}}


def _ingress(layout: ClusterLayout) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "Gateway", "max_replicas_per_node": layout.max_ingress_per_node}
    if layout.autoscaling:  # "auto": overrides the replica count the code binds with
        spec["num_replicas"] = "auto"
        spec["autoscaling_config"] = dict(layout.autoscaling)
    else:
        spec["num_replicas"] = layout.ingress_replicas
    return spec


def serve_config(
    resolved_path: str | Path, cfg: GatewayConfig, layout: ClusterLayout
) -> dict[str, Any]:
    """The Serve config (``serve deploy`` schema) for the resolved gateway config at
    ``resolved_path`` and ``layout``. Every path in it is absolute."""
    host = layout.host or cfg.gateway.host
    port = layout.port or cfg.gateway.port
    env = {
        "WORKBENCH_HOME": layout.home,
        HEAD_RESOURCE_ENV: layout.head_resource,
        **layout.env,
    }
    if cfg.logging.dir:
        env["WORKBENCH_LOG_DIR"] = cfg.logging.dir
    return {
        "proxy_location": layout.proxy_location,
        "http_options": {"host": host, "port": port},
        "applications": [
            {
                "name": APP_NAME,
                "route_prefix": "/",
                "import_path": "serve.app:build_app",
                "args": {"config": str(Path(resolved_path).resolve()), "home": layout.home},
                "runtime_env": {"env_vars": env},
                "deployments": [
                    _ingress(layout),
                    {"name": "LogSink", "ray_actor_options": _pinned(layout)},
                ],
            }
        ],
    }
