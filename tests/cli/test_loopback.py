"""The loopback patches against the installed Ray Serve (no Ray started here).

The end-to-end check (every listening socket of a running gateway's process tree is on
loopback) is in tests/serve/test_cli_gateway.py.
"""

from __future__ import annotations

import re
import socket
from typing import Any

import jinja2
import pytest
from ray.serve._private import haproxy, replica

from workbench.cli import _loopback
from workbench.cli._loopback import (
    LOOPBACK,
    LoopbackPatchError,
    bind_internal_to_loopback,
    loopback_grpc_address,
    loopback_template,
)

WILDCARD_BIND = re.compile(r"^\s*bind\s+(\*|0\.0\.0\.0|::|\[::\])?:", re.M)


def test_servers_template_has_wildcard_binds_that_the_patch_removes() -> None:
    original = haproxy.HAPROXY_CONFIG_TEMPLATE
    assert "bind *:{{ config.stats_port }}" in original  # what the patch is for
    patched = loopback_template(original)
    assert f"bind {LOOPBACK}:{{{{ config.stats_port }}}}" in patched
    assert f"bind {LOOPBACK}:{{{{ config.metrics_port }}}}" in patched
    assert not WILDCARD_BIND.search(patched)


def test_patched_template_renders_loopback_binds() -> None:
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined)  # only `config` is given
    env.filters["haproxy_fmt"] = lambda v: v
    cfg = haproxy.HAProxyConfig(stats_port=8404, metrics_port=9101)
    cfg.http_options.host = "127.0.0.1"
    text = env.from_string(loopback_template(haproxy.HAPROXY_CONFIG_TEMPLATE)).render(config=cfg)
    binds = [line.strip() for line in text.splitlines() if line.strip().startswith("bind ")]
    assert f"bind {LOOPBACK}:9101" in binds and f"bind {LOOPBACK}:8404" in binds
    assert all(b.split()[1].startswith(LOOPBACK + ":") for b in binds), binds


def test_a_changed_template_fails_loudly() -> None:
    with pytest.raises(LoopbackPatchError, match="update workbench/cli/_loopback.py"):
        loopback_template("listen stats\n  bind 10.0.0.1:{{ config.stats_port }}\n")


@pytest.mark.parametrize(
    ("given", "bound"),
    [("[::]:0", f"{LOOPBACK}:0"), ("[::]:7000", f"{LOOPBACK}:7000"), ("10.1.2.3:5", "10.1.2.3:5")],
)
def test_grpc_address(given: str, bound: str) -> None:
    assert loopback_grpc_address(given) == bound


def test_hook_patches_serve_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(haproxy, "HAPROXY_CONFIG_TEMPLATE", haproxy.HAPROXY_CONFIG_TEMPLATE)
    monkeypatch.delattr(haproxy, _loopback._PATCHED, raising=False)
    seen: list[str] = []

    def original(server: Any, address: str) -> int:
        seen.append(address)
        host, _, port = address.rpartition(":")
        with socket.socket() as s:  # bind for real: the address must be usable
            s.bind((host, int(port)))
            return int(s.getsockname()[1])

    monkeypatch.setattr(replica, "add_port_to_grpc_server", original)
    bind_internal_to_loopback()
    bind_internal_to_loopback()  # idempotent: no double wrapping
    assert not WILDCARD_BIND.search(haproxy.HAPROXY_CONFIG_TEMPLATE)
    port = replica.add_port_to_grpc_server(object(), "[::]:0")
    assert seen == [f"{LOOPBACK}:0"] and port > 0


def test_hook_fails_loudly_without_the_grpc_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(replica, "add_port_to_grpc_server")
    with pytest.raises(LoopbackPatchError):
        _loopback.patch_replica_grpc()
