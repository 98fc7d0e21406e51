"""Policy validation covers routing: every problem is a ``file:line: field`` error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy._checks import example_registry
from workbench.config._yamlsource import load_yaml_with_lines
from workbench.config.gateway import default_config_path, load_config
from workbench.policy import PolicyError, check_policy, load_policy, parse_policy

KNOWN = ["gpt-4o-mini", "local", "echo"]
POLICIES = Path(__file__).resolve().parents[2] / "policies"


def errors_of(tmp_path: Path, text: str, known: list[str] | None = KNOWN) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    data, locate = load_yaml_with_lines(path)
    _, errors = check_policy(
        data, path=str(path), locate=locate, check_catalogue=False, known_targets=known
    )
    return [str(e).replace(str(path), "p.yaml") for e in errors]


HEAD = "id: rt\nrouting:\n  routes:\n"


def test_unknown_target_names_file_line_and_field_with_a_hint(tmp_path: Path) -> None:
    text = HEAD + (
        "    smart:\n"  # 4
        "      mode: fallback\n"  # 5
        "      targets:\n"  # 6
        "        - target: gpt-4o-mnii\n"  # 7
        "        - local\n"  # 8
    )
    assert errors_of(tmp_path, text) == [
        "p.yaml:7: routing.routes.smart.targets.0.target: unknown target 'gpt-4o-mnii': "
        "neither a route nor a gateway model (did you mean 'gpt-4o-mini'?)"
    ]
    assert errors_of(tmp_path, text, known=None) == []  # None skips that one check


def test_weights_must_be_positive(tmp_path: Path) -> None:
    text = HEAD + (
        "    lb:\n"
        "      mode: loadbalance\n"
        "      targets:\n"
        "        - {target: local, weight: 3}\n"
        "        - {target: echo, weight: 0}\n"  # 8
    )
    (err,) = errors_of(tmp_path, text)
    assert err.startswith("p.yaml:8: routing.routes.lb.targets.1.weight: ")
    assert "greater than 0" in err


def test_cycles_between_routes(tmp_path: Path) -> None:
    text = HEAD + (
        "    a: {mode: fallback, targets: [local, b]}\n"  # 4
        "    b: {mode: loadbalance, targets: [c, echo]}\n"
        "    c: a\n"
    )
    assert errors_of(tmp_path, text) == [
        "p.yaml:4: routing.routes.a: routes form a cycle: a -> b -> c -> a"
    ]


def test_a_route_may_wrap_the_model_of_its_own_name(tmp_path: Path) -> None:
    text = HEAD + "    local: {mode: fallback, targets: [local, echo]}\n"
    assert errors_of(tmp_path, text) == []
    text = HEAD + "    nowhere: {mode: fallback, targets: [nowhere, echo]}\n"
    (err,) = errors_of(tmp_path, text)
    assert "p.yaml:4:" in err and "names itself" in err


def test_unreachable_conditions(tmp_path: Path) -> None:
    text = HEAD + (
        "    tiers:\n"  # 4
        "      mode: conditional\n"
        "      conditions:\n"
        "        - when: {metadata.tier: pro}\n"  # 7
        "          then: local\n"
        "        - when: {metadata.tier: pro}\n"  # 9 duplicate
        "          then: echo\n"
        "        - when: {user: {$in: []}}\n"  # 11 never matches
        "          then: echo\n"
        "        - when: {}\n"  # 13 catch-all
        "          then: echo\n"
        "        - when: {user: bob}\n"  # 15 after catch-all
        "          then: echo\n"
        "      default: echo\n"  # 17 after catch-all
    )
    errs = errors_of(tmp_path, text)
    assert errs == [
        "p.yaml:9: routing.routes.tiers.conditions.1.when: unreachable: same condition as rule 0",
        "p.yaml:11: routing.routes.tiers.conditions.2.when.user.$in: "
        "$in: [] never matches: the rule is unreachable",
        "p.yaml:15: routing.routes.tiers.conditions.4.when: "
        "unreachable: rule 3 before it matches every request",
        "p.yaml:17: routing.routes.tiers.default: unreachable: rule 3 matches every request",
    ]


@pytest.mark.parametrize(
    ("node", "fragment"),
    [
        ("{mode: fallback, targets: []}", "a fallback node needs at least one target"),
        ("{mode: loadbalance}", "a loadbalance node needs at least one target"),
        ("{mode: single, targets: [local, echo]}", "exactly one target"),
        ("{mode: conditional, default: echo}", "a conditional node needs conditions"),
        ("{mode: conditional, targets: [echo], conditions: [{when: {}, then: echo}]}", "takes"),
        ("{mode: fallback, targets: [echo], default: echo}", "only goes with mode conditional"),
        (
            "{mode: loadbalance, on_status_codes: [500], targets: [echo]}",
            "only goes with mode fallback",
        ),
        ("{target: echo, mode: fallback}", "does not go with `target:`"),
        ("{weight: 2}", "needs `target:`"),
        (
            "{mode: least-latency, targets: [echo, {mode: fallback, targets: [local]}]}",
            "model name",
        ),
        (
            "{mode: conditional, conditions: [{when: {tier: x}, then: echo}]}",
            "unknown field 'tier'",
        ),
    ],
)
def test_node_shape_problems(tmp_path: Path, node: str, fragment: str) -> None:
    errs = errors_of(tmp_path, HEAD + f"    r: {node}\n")
    assert errs and all(e.startswith("p.yaml:4: routing.routes.r") for e in errs), errs
    assert any(fragment in e for e in errs), errs


def test_least_latency_targets_may_not_be_routes(tmp_path: Path) -> None:
    text = HEAD + "    fast: {mode: least-latency, targets: [local, other]}\n    other: echo\n"
    (err,) = errors_of(tmp_path, text)
    assert "routing.routes.fast.targets.1" in err and "not a nested strategy or a route" in err


def test_parse_and_load_take_known_targets(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + "    smart: {mode: fallback, targets: [local, nope]}\n")
    reg, _ = example_registry()
    load_policy(path, reg)  # no gateway config given: unknown targets not checked
    with pytest.raises(PolicyError, match=r"p.yaml:4: routing.routes.smart.targets.1.target"):
        load_policy(path, reg, known_targets=KNOWN)
    data, locate = load_yaml_with_lines(path)
    with pytest.raises(PolicyError, match="unknown target 'nope'"):
        parse_policy(data, path=str(path), locate=locate, registry=reg, known_targets=KNOWN)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = HEAD + (
        "    a: {mode: fallback, targets: [nope, b]}\n"
        "    b: {mode: loadbalance, targets: [{target: a, weight: 1}]}\n"
    )
    errs = errors_of(tmp_path, text)
    assert len(errs) == 2 and "cycle" in errs[0] and "unknown target 'nope'" in errs[1]


def test_routing_example_validates_against_the_default_gateway_config() -> None:
    names = [m.name for m in load_config(default_config_path()).models]
    reg, _ = example_registry()
    policy = load_policy(POLICIES / "routing.yaml", reg, known_targets=names)
    assert policy.routing.routes, "the example defines routes"


def test_typos_inside_routes_get_a_did_you_mean(tmp_path: Path) -> None:
    text = HEAD + (
        "    smart:\n"
        "      mode: fallback\n"
        "      tagets: [local]\n"  # 6
    )
    errs = errors_of(tmp_path, text)
    assert "p.yaml:6: routing.routes.smart.tagets: unknown key (did you mean 'targets'?)" in errs
