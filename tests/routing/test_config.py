"""The routing section's pydantic model: shapes, shorthands, dumps and the policy field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workbench.policy import Policy, policy_hash
from workbench.policy.model import DEFER_RULES
from workbench.routing import RouteNode, RoutingConfig
from workbench.routing import config as routing_config


def test_defer_key_matches_the_policy_models() -> None:
    assert routing_config._DEFER_RULES == DEFER_RULES


def test_strings_are_short_for_leaves_everywhere() -> None:
    cfg = RoutingConfig.model_validate(
        {
            "routes": {
                "alias": "gpt",
                "lb": {"mode": "loadbalance", "targets": ["a", {"target": "b", "weight": 2}]},
                "cond": {
                    "mode": "conditional",
                    "conditions": [{"when": {"user": "x"}, "then": "lb"}],
                    "default": "a",
                },
            }
        }
    )
    assert cfg.routes["alias"] == RouteNode(target="gpt")
    lb = cfg.routes["lb"].targets
    assert lb is not None and [n.target for n in lb] == ["a", "b"] and lb[1].weight == 2
    cond = cfg.routes["cond"]
    assert cond.conditions is not None and cond.conditions[0].then == RouteNode(target="lb")
    assert cond.default == RouteNode(target="a")


def test_dump_round_trips_and_omits_unset_node_fields() -> None:
    data = {
        "routes": {
            "smart": {
                "mode": "fallback",
                "on_status_codes": [429, 503],
                "targets": [
                    {"target": "a", "timeouts": {"first_byte": 5}},
                    {"mode": "loadbalance", "targets": ["b", "c"]},
                ],
            }
        },
        "retry": {"attempts": 2},
    }
    cfg = RoutingConfig.model_validate(data)
    dumped = cfg.model_dump(mode="json")
    smart = dumped["routes"]["smart"]
    assert "conditions" not in smart and "target" not in smart
    assert smart["targets"][0] == {"target": "a", "weight": 1.0, "timeouts": {"first_byte": 5.0}}
    assert RoutingConfig.model_validate(dumped) == cfg


def test_default_section_dumps_empty_so_old_policy_hashes_hold() -> None:
    assert RoutingConfig().model_dump() == {}
    assert RoutingConfig.model_validate({"routes": None}).model_dump() == {}
    policy = Policy(id="p")
    assert '"routing":{}' in policy.canonical_json()
    assert policy_hash(policy) == policy_hash(Policy.model_validate({"id": "p", "routing": None}))
    assert policy_hash(policy) != policy_hash(
        Policy.model_validate({"id": "p", "routing": {"request_timeout_s": 10}})
    )


def test_policy_routing_is_the_model_and_round_trips_through_yaml() -> None:
    import yaml

    policy = Policy.model_validate(
        {"id": "p", "routing": {"routes": {"smart": {"mode": "fallback", "targets": ["a", "b"]}}}}
    )
    assert isinstance(policy.routing, RoutingConfig)
    again = Policy.model_validate(yaml.safe_load(policy.canonical_yaml()))
    assert again == policy and policy_hash(again) == policy_hash(policy)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (
            {"routes": {"x": {"mode": "fallback", "targets": [{"target": "a", "weight": 0}]}}},
            "weight",
        ),
        (
            {"routes": {"x": {"mode": "fallback", "targets": [{"target": "a", "weight": -1}]}}},
            "weight",
        ),
        ({"routes": {"x": {"mode": "roundrobin", "targets": ["a"]}}}, "mode"),
        ({"routes": {"x": {"target": "a", "tagets": []}}}, "tagets"),
        ({"routes": {"x": {"mode": "fallback", "on_status_codes": [99], "targets": ["a"]}}}, "99"),
        ({"routes": {"x y": "a"}}, "whitespace"),
        ({"retry": {"attempts": -1}}, "attempts"),
        ({"circuit_breaker": {"failure_rate": 1.5}}, "failure_rate"),
        ({"request_timeout_s": 0}, "request_timeout_s"),
        ({"dynamic": {"ewma_alpha": 0}}, "ewma_alpha"),
    ],
)
def test_schema_errors(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        RoutingConfig.model_validate(data)
    assert fragment in str(info.value)


def test_structural_rules_run_unless_the_loader_defers_them() -> None:
    data = {"routes": {"a": "b", "b": "a"}}
    with pytest.raises(ValidationError, match="cycle"):
        RoutingConfig.model_validate(data)
    cfg = RoutingConfig.model_validate(data, context={DEFER_RULES: True})
    assert set(cfg.routes) == {"a", "b"}
