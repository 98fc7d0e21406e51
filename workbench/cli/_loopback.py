"""Keep the embedded gateway's internal ports on loopback.

``workbench up`` runs Ray on one machine. Only the gateway's HTTP port binds where the
gateway config says (``gateway.host``); everything else listens on 127.0.0.1:

- Ray itself (GCS, raylet, object manager, agents, workers): ``ray.init`` with
  ``_node_ip_address="127.0.0.1"`` and ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (without
  it Ray rewrites a loopback node address to the machine's routable one).
- Two binds that Ray Serve hard-codes to every interface, patched in each Ray worker by
  :func:`bind_internal_to_loopback` (a ``worker_process_setup_hook``): HAProxy's stats and
  Prometheus frontends (``bind *:PORT`` / ``bind :PORT`` in its config template) and each
  replica's inter-deployment gRPC server (``[::]:0``).

A Ray upgrade that changes those spots makes the hook fail loudly (the workers do not
start) instead of silently listening on every interface again; the gateway test that
lists the listening sockets of the gateway's process tree guards the same promise.

This module is the only Ray-specific code under ``workbench/cli`` besides the embedded
launcher; it imports Ray only inside the hook.
"""

from __future__ import annotations

from typing import Any

LOOPBACK = "127.0.0.1"
# Ray keeps a loopback --node-ip-address only with this set (see ../shared/DESIGN.md).
RAY_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
HOOK = "workbench.cli._loopback.bind_internal_to_loopback"

_HAPROXY_BINDS = {
    "bind :{{ config.metrics_port }}": f"bind {LOOPBACK}:{{{{ config.metrics_port }}}}",
    "bind *:{{ config.stats_port }}": f"bind {LOOPBACK}:{{{{ config.stats_port }}}}",
}
_WILDCARD_GRPC = "[::]:"
_PATCHED = "_workbench_loopback"


class LoopbackPatchError(RuntimeError):
    """Ray Serve's code no longer looks the way the loopback patches expect."""


def bind_internal_to_loopback() -> None:
    """Ray ``worker_process_setup_hook``: Serve's wildcard binds become loopback binds."""
    patch_haproxy_template()
    patch_replica_grpc()


def loopback_template(template: str) -> str:
    """HAProxy's config template with its stats and metrics frontends on loopback."""
    out = template
    for wildcard, loopback in _HAPROXY_BINDS.items():
        if wildcard not in out:
            raise LoopbackPatchError(
                f"Ray Serve's HAProxy template has no {wildcard!r}; update "
                "workbench/cli/_loopback.py for this Ray version"
            )
        out = out.replace(wildcard, loopback)
    return out


def loopback_grpc_address(address: str) -> str:
    """``[::]:PORT`` -> ``127.0.0.1:PORT``; other addresses unchanged."""
    if address.startswith(_WILDCARD_GRPC):
        return f"{LOOPBACK}:{address[len(_WILDCARD_GRPC) :]}"
    return address


def patch_haproxy_template() -> None:
    """Rewrite ``ray.serve._private.haproxy.HAPROXY_CONFIG_TEMPLATE`` (read at render)."""
    from ray.serve._private import haproxy

    if getattr(haproxy, _PATCHED, False):
        return
    haproxy.HAPROXY_CONFIG_TEMPLATE = loopback_template(haproxy.HAPROXY_CONFIG_TEMPLATE)
    setattr(haproxy, _PATCHED, True)


def patch_replica_grpc() -> None:
    """Wrap the replica module's ``add_port_to_grpc_server`` to bind loopback."""
    from ray.serve._private import replica

    original: Any = getattr(replica, "add_port_to_grpc_server", None)
    if original is None:
        raise LoopbackPatchError(
            "ray.serve._private.replica has no add_port_to_grpc_server; update "
            "workbench/cli/_loopback.py for this Ray version"
        )
    if getattr(original, _PATCHED, False):
        return

    def add_port_to_grpc_server(server: Any, address: str) -> Any:
        return original(server, loopback_grpc_address(address))

    setattr(add_port_to_grpc_server, _PATCHED, True)
    replica.add_port_to_grpc_server = add_port_to_grpc_server
