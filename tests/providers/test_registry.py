"""The provider registry: built-ins arrive through entry points, like plugins do."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from workbench.config.gateway import ModelTarget, load_config, parse_config
from workbench.errors import ConfigError
from workbench.providers import ProviderRegistry, ProviderSpec, registry


def test_builtins_register_through_the_entry_point_group():
    assert {"echo", "openai-compatible", "local", "embeddings"} <= registry.names()
    assert registry.get("local").runs_in == "replica"
    assert registry.get("openai-compatible").capabilities >= {"chat", "embeddings"}


def test_third_party_plugin_is_loaded(monkeypatch):
    ep = EntryPoint(name="mine", value="tests.providers.plugin_example:register",
                    group="workbench.providers")
    monkeypatch.setattr("workbench._plugins.entry_points",
                        lambda group: [ep] if group == "workbench.providers" else [])
    reg = ProviderRegistry()
    assert reg.names() == {"shouty"}
    client = reg.get("shouty").factory(ModelTarget(name="s", provider="shouty"))
    assert client.shout("hi") == "HI"


def test_broken_plugin_does_not_break_the_registry(monkeypatch):
    ep = EntryPoint(name="bad", value="tests.providers.no_such_module:register",
                    group="workbench.providers")
    monkeypatch.setattr("workbench._plugins.entry_points", lambda group: [ep])
    reg = ProviderRegistry()
    assert reg.names() == set()


def test_provider_validation_errors_surface_as_config_errors():
    with pytest.raises(ConfigError, match="base_url"):
        parse_config({"models": [{"name": "x", "provider": "openai-compatible"}]})


def test_replica_kinds_of_the_builtins():
    assert registry.get("local").replica_kind == "chat"
    assert registry.get("embeddings").replica_kind == "embeddings"
    assert registry.get("echo").replica_kind is None


def test_a_replica_provider_no_replica_can_host_is_refused_at_config_load(tmp_path, monkeypatch):
    registry.names()  # built-ins first

    def _factory(target):  # pragma: no cover - must never be called at config load
        raise AssertionError("config load called the factory")

    monkeypatch.setitem(registry._specs, "hybrid", ProviderSpec(
        name="hybrid", factory=_factory, capabilities=frozenset({"chat", "embeddings"}),
        runs_in="replica"))
    path = tmp_path / "gateway.yaml"
    path.write_text("gateway:\n  port: 8001\nmodels:\n  - name: echo\n    provider: echo\n"
                    "  - name: both\n    provider: hybrid\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.path == str(path) and err.line == 6 and err.field == "models.1 (both)"
    assert "'hybrid' runs in a replica" in err.message
    assert "capabilities (chat, embeddings) match no replica" in err.message
