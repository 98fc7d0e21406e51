"""Parsing valid policies, defaults, canonical YAML and the content hash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from tests.policy._checks import LocalRegistry
from workbench.cache.settings import CacheSettings
from workbench.policy import Policy, load_policy, parse_policy, policy_hash, validate_policy
from workbench.routing import RoutingConfig

FULL = """
# a comment
id: demo
description: "A demo"
applies_to:
  workspaces: ["team-a", "team-*"]
  models: ["gpt-4o-mini"]
input:
  - name: block-secrets
    validator: secrets
    on_fail: deny
    message: no secrets please
  - name: words
    validator: regex_deny
    params: {patterns: ["foo", "bar"]}
    on_fail: redact
    sample_rate: 0.5
output:
  - name: tox
    validator: toxicity
    params: {threshold: 1}
    on_fail: flag
    mode: log_only
  - name: schema
    validator: json_schema
    params:
      schema: {type: object, required: [a]}
    on_fail: retry
  - name: fb
    validator: regex_match
    params: {pattern: "^ok"}
    on_fail: fallback
streaming: {window: tokens, window_tokens: 16}
fallback: {message: "Sorry."}
retry: {max_attempts: 3}
logging: {store_bodies: false, redact_bodies: true}
routing: {}
cache:
limits: {}
"""


def test_full_policy_parses(write: Callable[[str, str], Path], reg: LocalRegistry) -> None:
    p = load_policy(write("demo.yaml", FULL), reg)
    assert p.id == "demo" and p.description == "A demo"
    assert p.applies_to.workspaces == ["team-a", "team-*"]
    assert [c.name for c in p.input] == ["block-secrets", "words"]
    assert p.input[0].message == "no secrets please"
    assert p.input[1].on_fail == "redact" and p.input[1].sample_rate == 0.5
    tox = p.output[0]
    assert tox.mode == "log_only" and tox.params == {"threshold": 1.0}
    assert isinstance(tox.params["threshold"], float)  # normalised by the check's params model
    assert p.output[1].params == {"schema": {"type": "object", "required": ["a"]}}
    assert p.streaming.window == "tokens" and p.streaming.window_tokens == 16
    assert p.fallback.message == "Sorry." and p.fallback.model is None
    assert p.retry.max_attempts == 3
    assert p.logging.store_bodies is False
    assert p.cache == CacheSettings() and p.routing == RoutingConfig() and p.limits == {}
    assert [(s, i) for s, i, _ in p.iter_checks()] == [
        ("input", 0),
        ("input", 1),
        ("output", 0),
        ("output", 1),
        ("output", 2),
    ]


def test_minimal_policy_defaults(reg: LocalRegistry) -> None:
    p = parse_policy({"id": "min"}, registry=reg)
    assert p.applies_to.workspaces == ["*"] and p.applies_to.models == ["*"]
    assert p.input == [] and p.output == []
    assert p.streaming.window == "sentence" and p.streaming.window_tokens == 32
    assert p.retry.max_attempts == 2
    assert p.logging.store_bodies and p.logging.redact_bodies
    check = parse_policy(
        {"id": "x", "input": [{"name": "s", "validator": "secrets", "params": None}]}, registry=reg
    ).input[0]
    assert check.on_fail == "deny" and check.sample_rate == 1.0 and check.mode == "enforce"
    assert check.params == {} and check.message is None


def test_hash_is_stable_across_order_format_comments_and_defaults(reg: LocalRegistry) -> None:
    base = parse_policy(yaml.safe_load(FULL), registry=reg)
    reordered = """
    limits: {}
    retry:
      max_attempts: 3
    output:
      - {validator: toxicity, name: tox, mode: log_only, on_fail: flag, params: {threshold: 1.0}}
      - on_fail: retry
        params: {schema: {required: [a], type: object}}
        validator: json_schema
        name: schema
      - {params: {pattern: "^ok"}, name: fb, validator: regex_match, on_fail: fallback}
    input:
      - {name: block-secrets, validator: secrets, message: no secrets please,
         sample_rate: 1, mode: enforce}
      - {name: words, validator: regex_deny, params: {patterns: [foo, bar]},
         on_fail: redact, sample_rate: 0.5}
    id: demo
    fallback: {message: "Sorry.", model: null}
    logging: {redact_bodies: true, store_bodies: false}
    streaming: {window_tokens: 16, window: tokens}
    applies_to: {models: [gpt-4o-mini], workspaces: [team-a, team-*]}
    description: A demo
    """
    import textwrap

    other = parse_policy(yaml.safe_load(textwrap.dedent(reordered)), registry=reg)
    assert other == base
    assert policy_hash(other) == policy_hash(base)
    assert len(policy_hash(base)) == 64


def test_hash_changes_with_content(reg: LocalRegistry) -> None:
    a = parse_policy({"id": "x"}, registry=reg)
    assert policy_hash(a) != policy_hash(
        parse_policy({"id": "x", "description": "d"}, registry=reg)
    )
    assert policy_hash(a) != policy_hash(parse_policy({"id": "y"}, registry=reg))
    assert policy_hash(a) != policy_hash(
        parse_policy({"id": "x", "retry": {"max_attempts": 3}}, registry=reg)
    )


def test_canonical_yaml_round_trips(reg: LocalRegistry) -> None:
    p = parse_policy(yaml.safe_load(FULL), registry=reg)
    text = p.canonical_yaml()
    assert text.startswith("id: demo\n")
    again = parse_policy(yaml.safe_load(text), registry=reg)
    assert again == p and policy_hash(again) == policy_hash(p)
    # free-form params are key-sorted, so the YAML does not depend on how they were written
    swapped = yaml.safe_load(FULL)
    swapped["output"][1]["params"]["schema"] = {"required": ["a"], "type": "object"}
    assert parse_policy(swapped, registry=reg).canonical_yaml() == text


def test_policy_in_code_enforces_catalogue_free_rules() -> None:
    with pytest.raises(ValidationError, match="only allowed in the output stage"):
        Policy.model_validate(
            {"id": "x", "input": [{"name": "a", "validator": "v", "on_fail": "retry"}]}
        )
    with pytest.raises(ValidationError, match="duplicate check name 'a'"):
        Policy.model_validate(
            {
                "id": "x",
                "input": [{"name": "a", "validator": "v"}],
                "output": [{"name": "a", "validator": "v"}],
            }
        )
    p = Policy(id="ok")
    with pytest.raises(ValidationError):  # immutable
        p.id = "other"  # type: ignore[misc]


def test_validate_policy_normalises_params(reg: LocalRegistry) -> None:
    built = Policy.model_validate(
        {"id": "x", "output": [{"name": "t", "validator": "toxicity", "params": {"threshold": 1}}]}
    )
    checked = validate_policy(built, reg)
    assert checked.output[0].params == {"threshold": 1.0}
    assert policy_hash(checked) == policy_hash(
        parse_policy(
            {
                "id": "x",
                "output": [{"name": "t", "validator": "toxicity", "params": {"threshold": 1.0}}],
            },
            registry=reg,
        )
    )
