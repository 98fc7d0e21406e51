"""The provider registry: built-ins arrive through entry points, like plugins do."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from workbench.config.gateway import ModelTarget, parse_config
from workbench.errors import ConfigError
from workbench.providers import ProviderRegistry, registry


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
