"""``workbench deploy``: the documented way to run the gateway on a Ray cluster.

Run it on the head node (``ray attach ray_cluster.yaml``), in the project directory:

1. the gateway config is loaded and every path in it made absolute, relative to the
   project root (:mod:`workbench.config.deploy`); a bad path is an error here, before
   anything starts;
2. it connects to the cluster (``--address``, default ``auto``), checks that a node
   advertises the head resource, and counts the alive nodes (one ingress replica each);
3. it writes the resolved gateway config and the Serve config (``--out``) and applies
   that Serve config, with the job environment Serve needs: the HAProxy fast path when
   ``gateway.fast_proxy`` is on, and :func:`bind_internal_to_host` so HAProxy's stats and
   metrics ports bind the host the config names and replicas' gRPC servers bind their
   node's cluster address instead of every interface;
4. it waits until the application is RUNNING and exits (Serve keeps running).

``--dry-run`` stops after writing the files (no Ray needed). The written Serve config is
also valid for ``serve deploy``, except for the job environment of step 3.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from workbench.home import home

HOOK = "workbench.cli.deploy.bind_internal_to_host"
BIND_HOST_ENV = "WORKBENCH_BIND_HOST"
_TEMPLATE_BINDS = ("bind :{{ config.metrics_port }}", "bind *:{{ config.stats_port }}")


def bind_internal_to_host() -> None:
    """Ray ``worker_process_setup_hook`` on a cluster: HAProxy's stats and metrics
    frontends bind ``$WORKBENCH_BIND_HOST``; replica gRPC servers bind the node's IP."""
    from ray.serve._private import haproxy, replica
    from ray.util import get_node_ip_address

    host = os.environ.get(BIND_HOST_ENV, "127.0.0.1")
    if not getattr(haproxy, "_workbench_bind", False):
        template = haproxy.HAPROXY_CONFIG_TEMPLATE
        for wildcard in _TEMPLATE_BINDS:
            if wildcard not in template:
                raise RuntimeError(f"Ray Serve's HAProxy template has no {wildcard!r}")
            port = wildcard.split(":", 1)[1]
            template = template.replace(wildcard, f"bind {host}:{port}")
        haproxy.HAPROXY_CONFIG_TEMPLATE = template
        haproxy._workbench_bind = True  # type: ignore[attr-defined]
    original: Any = replica.add_port_to_grpc_server
    if getattr(original, "_workbench_bind", False):
        return
    node_ip = get_node_ip_address()

    def add_port_to_grpc_server(server: Any, address: str) -> Any:
        if address.startswith("[::]:"):
            address = f"{node_ip}:{address[5:]}"
        return original(server, address)

    add_port_to_grpc_server._workbench_bind = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = add_port_to_grpc_server


def job_env(fast_proxy: bool, host: str) -> dict[str, str]:
    """The environment of the deploying job (Serve's controller and proxies inherit it)."""
    from workbench.cli._embedded import (
        FAST_PROXY_ENV,
        SERVE_PATIENCE_ENV,
        SERVE_SHUTDOWN_ENV,
        haproxy_available,
    )

    env = {BIND_HOST_ENV: host, "RAY_USAGE_STATS_ENABLED": "0", **SERVE_PATIENCE_ENV}
    on = fast_proxy and haproxy_available()
    env.update({var: "1" if on else "0" for var in FAST_PROXY_ENV})  # set either way
    if on:
        env.update(SERVE_SHUTDOWN_ENV)
    return env


def _connect(address: str, env: dict[str, str]) -> Any:
    import logging

    import ray

    ray.init(
        address=address,
        namespace="workbench",
        log_to_driver=False,
        logging_level=logging.WARNING,
        runtime_env={"worker_process_setup_hook": HOOK, "env_vars": env},
    )
    return ray


def _cluster_facts(ray: Any, head_resource: str, min_nodes: int, wait_s: float) -> int:
    """Alive nodes (waiting up to ``wait_s`` for ``min_nodes``); fails when no node
    advertises ``head_resource``."""
    from workbench.config.deploy import HEAD_SLIVER

    deadline = time.time() + wait_s
    while sum(1 for n in ray.nodes() if n.get("Alive")) < min_nodes:
        if time.time() > deadline:
            raise click.ClickException(f"fewer than {min_nodes} nodes after {wait_s:.0f}s")
        time.sleep(0.5)

    if ray.cluster_resources().get(head_resource, 0) < HEAD_SLIVER:
        raise click.ClickException(
            f"no node of the cluster advertises the resource {head_resource!r}: start the head "
            f"with --resources '{{\"{head_resource}\": 1}}' (ray_cluster.yaml does)"
        )
    return sum(1 for n in ray.nodes() if n.get("Alive"))


def _apply(conf: dict[str, Any], wait_s: float) -> None:
    from ray import serve
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    serve.start(proxy_location=conf["proxy_location"], http_options=conf["http_options"])
    client = _get_global_client()
    assert client is not None  # serve.start just made it
    client.deploy_apps(ServeDeploySchema.model_validate(conf))
    name = conf["applications"][0]["name"]
    deadline = time.time() + wait_s
    status = "NOT_STARTED"
    while time.time() < deadline:
        app = serve.status().applications.get(name)
        status = str(app.status) if app is not None else "NOT_STARTED"
        if status.endswith("RUNNING"):
            return
        if status.endswith("DEPLOY_FAILED"):
            raise click.ClickException(f"deploy failed: {app.message if app else ''}")
        time.sleep(1.0)
    raise click.ClickException(f"application {name!r} not running after {wait_s:.0f}s ({status})")


def _write(path: Path, data: Any, header: str) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False))


@click.command()
@click.option(
    "--config",
    "config_path",
    default=None,
    help="Gateway config YAML (relative: to --project). Default: the embedded defaults.",
)
@click.option(
    "--project",
    type=click.Path(file_okay=False, exists=True),
    default=".",
    show_default=True,
    help="Project root that relative paths are resolved against.",
)
@click.option(
    "--address",
    default="auto",
    show_default=True,
    envvar="RAY_ADDRESS",
    help="Ray cluster address (GCS host:port). Env: RAY_ADDRESS.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Serve config to write (default $WORKBENCH_HOME/deploy/serve.yaml).",
)
@click.option(
    "--ingress-replicas",
    type=click.IntRange(min=1),
    default=None,
    help="Ingress replicas (default: one per alive node).",
)
@click.option("--max-ingress-per-node", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--autoscale",
    default=None,
    metavar="MIN:MAX",
    help="Autoscale the ingress between MIN and MAX replicas instead.",
)
@click.option(
    "--autoscale-option",
    "autoscale_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="With --autoscale: a Serve autoscaling_config number, e.g. target_ongoing_requests=8, "
    "upscale_delay_s=5, downscale_delay_s=30, look_back_period_s=10, metrics_interval_s=2 "
    "(repeatable; defaults: target 32, Ray's for the rest).",
)
@click.option(
    "--head-resource",
    default="workbench_head",
    show_default=True,
    help="Custom resource only the head node advertises (ray_cluster.yaml).",
)
@click.option(
    "--proxy-location",
    type=click.Choice(["EveryNode", "HeadOnly"]),
    default="EveryNode",
    show_default=True,
)
@click.option("--host", default=None, help="Bind address (overrides gateway.host).")
@click.option("--port", type=int, default=None, help="HTTP port (overrides gateway.port).")
@click.option(
    "--log-dir",
    default=None,
    envvar="WORKBENCH_LOG_DIR",
    help="Log lake (shared storage) when the config's logging.dir is unset.",
)
@click.option(
    "--min-nodes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Wait (up to --wait) until this many nodes are alive before counting them.",
)
@click.option("--wait", "wait_s", type=float, default=600.0, show_default=True)
@click.option("--dry-run", is_flag=True, help="Write the files only; start nothing.")
def deploy(**opts: Any) -> None:
    """Deploy the gateway to a Ray cluster (run on the head node, in the project)."""
    from workbench.cli._common import CliError
    from workbench.config.deploy import ClusterLayout, layout_data, resolve_gateway_config
    from workbench.config.deploy import serve_config as make_serve_config
    from workbench.config.gateway import default_config_path
    from workbench.errors import ConfigError

    try:
        resolved = resolve_gateway_config(
            opts["config_path"] or default_config_path(),
            opts["project"],
            log_dir=opts["log_dir"] or str(home() / "logs"),
        )
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    gw = resolved.config.gateway
    host = opts["host"] or gw.host
    layout = ClusterLayout(
        home=str(home()),
        max_ingress_per_node=opts["max_ingress_per_node"],
        head_resource=opts["head_resource"],
        proxy_location=opts["proxy_location"],
        host=host,
        port=opts["port"],
        autoscaling=_autoscale(opts["autoscale"], opts["autoscale_options"]),
    )
    ray = None
    env = job_env(gw.fast_proxy, host)
    if not opts["dry_run"]:
        ray = _connect(opts["address"], env)
        nodes = _cluster_facts(ray, layout.head_resource, opts["min_nodes"], opts["wait_s"])
        layout.ingress_replicas = opts["ingress_replicas"] or nodes
        click.echo(f"cluster: {nodes} alive node(s); ingress replicas: {layout.ingress_replicas}")
    else:
        layout.ingress_replicas = opts["ingress_replicas"] or 1
    out = Path(opts["out"] or home() / "deploy" / "serve.yaml").resolve()
    gateway_out = out.with_name(out.stem + ".gateway.yaml")
    note = f"# Written by `workbench deploy` from {resolved.source}; every path is absolute.\n"
    _write(gateway_out, layout_data(resolved, layout), note)
    conf = make_serve_config(gateway_out, resolved.config, layout)
    conf["applications"][0]["runtime_env"]["env_vars"].update(env)
    conf["applications"][0]["runtime_env"]["worker_process_setup_hook"] = HOOK
    _write(out, conf, note)
    click.echo(f"wrote {out} and {gateway_out}")
    if ray is None:
        return
    try:
        _apply(conf, opts["wait_s"])
    finally:
        ray.shutdown()
    port = opts["port"] or gw.port
    click.echo(f"gateway running: http://{host}:{port}/v1 on every node ({layout.proxy_location})")


#: The numeric fields of Serve's ``autoscaling_config`` that ``--autoscale-option`` sets.
AUTOSCALE_KEYS = (
    "target_ongoing_requests",
    "initial_replicas",
    "upscale_delay_s",
    "downscale_delay_s",
    "look_back_period_s",
    "metrics_interval_s",
    "upscaling_factor",
    "downscaling_factor",
)


def _autoscale(spec: str | None, options: tuple[str, ...] = ()) -> dict[str, Any] | None:
    if not spec:
        if options:
            raise click.BadParameter("needs --autoscale MIN:MAX", param_hint="--autoscale-option")
        return None
    try:
        low, high = (int(x) for x in spec.split(":"))
    except ValueError:
        raise click.BadParameter("expected MIN:MAX", param_hint="--autoscale") from None
    if not 1 <= low <= high:
        raise click.BadParameter("need 1 <= MIN <= MAX", param_hint="--autoscale")
    conf: dict[str, Any] = {
        "min_replicas": low,
        "max_replicas": high,
        "target_ongoing_requests": 32,
    }
    for item in options:
        key, _, raw = item.partition("=")
        key = key.strip()
        if key not in AUTOSCALE_KEYS:
            raise click.BadParameter(
                f"{key!r} is not one of {', '.join(AUTOSCALE_KEYS)}",
                param_hint="--autoscale-option",
            )
        try:
            value = float(raw)
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: not a number", param_hint="--autoscale-option"
            ) from None
        if value <= 0:
            raise click.BadParameter(f"{item!r}: must be > 0", param_hint="--autoscale-option")
        conf[key] = int(value) if key == "initial_replicas" else value
    return conf
