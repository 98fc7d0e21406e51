"""The cheap catalogue as the engine sees it: names, specs, params contracts, the
guardrails-ai registration, the installed entry point, and third-party plugins."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import pytest
from guardrails.validator_base import validators_registry
from guardrails.validators import FailResult, PassResult, Validator, register_validator
from pydantic import BaseModel, ConfigDict, ValidationError

import workbench._plugins as plugins_mod
from workbench.guardrails import CheckRegistry
from workbench.guardrails.validators import CHEAP_CHECKS, VALIDATORS, register

EXPECTED = {
    "regex_match", "regex_deny", "banned_words", "keyword_list", "length", "valid_json",
    "json_schema", "contains", "starts_with", "ends_with", "case", "code_presence", "urls",
    "unicode_safety", "language", "gibberish", "secrets", "pii", "system_prompt_leak",
    "refusal", "required_metadata", "model_allowlist", "webhook",
}  # fmt: skip
FIXABLE = {
    "regex_deny", "banned_words", "keyword_list", "length", "starts_with", "ends_with",
    "case", "urls", "unicode_safety", "secrets", "pii", "system_prompt_leak",
}  # fmt: skip
# Minimal valid params for each check.
MINIMAL: dict[str, dict[str, Any]] = {
    "regex_match": {"pattern": "x"}, "regex_deny": {"patterns": ["x"]},
    "banned_words": {"words": ["x"]}, "keyword_list": {"keywords": ["x"]},
    "length": {"max": 10}, "json_schema": {"schema": {"type": "object"}},
    "contains": {"value": "x"}, "starts_with": {"value": "x"}, "ends_with": {"value": "x"},
    "case": {"mode": "lower"}, "language": {"allow": ["en"]},
    "required_metadata": {"keys": ["team"]}, "model_allowlist": {"models": ["gpt-*"]},
    "webhook": {"url": "http://127.0.0.1:9/check"},
}  # fmt: skip


def test_catalogue_names(catalogue: CheckRegistry) -> None:
    assert set(CHEAP_CHECKS) == EXPECTED
    assert len(CHEAP_CHECKS) == len(set(CHEAP_CHECKS))
    assert catalogue.names() == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_contract(catalogue: CheckRegistry, name: str) -> None:
    spec = catalogue.get(name)
    assert spec.kind == "cheap"
    assert spec.description
    assert spec.can_fix == (name in FIXABLE)
    assert spec.params.model_config.get("extra") == "forbid"
    validator = spec.make(MINIMAL.get(name, {}))
    assert isinstance(validator, Validator)
    assert validator.rail_alias == f"workbench/{name}"
    assert validators_registry[f"workbench/{name}"] is type(validator)
    with pytest.raises(ValidationError):
        spec.make({**MINIMAL.get(name, {}), "no_such_param": 1})


def test_stages(catalogue: CheckRegistry) -> None:
    assert catalogue.get("system_prompt_leak").stages == {"output"}
    assert catalogue.get("refusal").stages == {"output"}
    assert catalogue.get("required_metadata").stages == {"input"}
    assert catalogue.get("model_allowlist").stages == {"input"}
    assert catalogue.get("pii").stages == {"input", "output"}


def test_bad_params_are_rejected_at_build(make: Any) -> None:
    for name, params in [
        ("regex_match", {"pattern": "("}),
        ("regex_deny", {"patterns": []}),
        ("length", {}),
        ("length", {"min": 5, "max": 2}),
        ("json_schema", {"schema": {"type": "no-such-type"}}),
        ("language", {"allow": ["xx"]}),
        ("pii", {"entities": ["PASSPORT"]}),
        ("webhook", {"url": "not a url"}),
        ("case", {"mode": "camel"}),
        ("required_metadata", {}),
    ]:
        with pytest.raises(ValidationError):
            make(name, **params)


def test_validators_keep_json_kwargs(make: Any) -> None:
    """guardrails serialises a Guard from the validator kwargs: they stay JSON-able."""
    v = make("json_schema", schema={"type": "object"})
    assert v._kwargs["schema"] == {"type": "object"}
    assert make("webhook", url="http://127.0.0.1:9/x")._kwargs["url"] == "http://127.0.0.1:9/x"


def test_installed_entry_point_registers_builtin() -> None:
    eps = {ep.name: ep for ep in entry_points(group="workbench.validators")}
    assert eps["builtin"].load() is register
    reg = CheckRegistry()
    reg._loaded = True
    eps["builtin"].load()(reg)
    assert reg.names() == EXPECTED
    assert len(VALIDATORS) == len(EXPECTED)


# --- a third-party check through a fake entry point ------------------------------


class ShoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = 3


@register_validator(name="acme/shout", data_type="string")
class Shout(Validator):
    def __init__(self, limit: int = 3, **kw: Any) -> None:
        super().__init__(limit=limit, **kw)
        self.limit = limit

    def _validate(self, value: Any, metadata: dict[str, Any]) -> Any:
        if value.count("!") > self.limit:
            return FailResult(error_message="too loud", fix_value=value.replace("!", "."))
        return PassResult()


def acme_register(registry: CheckRegistry) -> None:
    registry.check("acme_shout", params=ShoutParams, can_fix=True)(lambda p: Shout(p.limit))


class FakeEntryPoint:
    def __init__(self, name: str, target: Any) -> None:
        self.name = name
        self._target = target

    def load(self) -> Any:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def test_third_party_plugin_via_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = [
        FakeEntryPoint("builtin", register),
        FakeEntryPoint("broken", ImportError("no such module")),
        FakeEntryPoint("acme", acme_register),
    ]

    def fake_entry_points(group: str) -> list[FakeEntryPoint]:
        assert group == "workbench.validators"
        return fake

    monkeypatch.setattr(plugins_mod, "entry_points", fake_entry_points)
    reg = CheckRegistry()
    assert reg.names() == EXPECTED | {"acme_shout"}  # the broken plugin is skipped
    spec = reg.get("acme_shout")
    assert spec.can_fix and spec.kind == "cheap"
    validator = spec.make({"limit": 1})
    assert validator.validate("hi", {}).outcome == "pass"
    result = validator.validate("hi!! there!", {})
    assert result.outcome == "fail" and result.fix_value == "hi.. there."
    with pytest.raises(ValidationError):
        spec.make({"limit": 1, "volume": 11})
