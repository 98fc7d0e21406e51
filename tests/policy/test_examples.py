"""The example policies in policies/ validate.

Most checks are still being added to the catalogue, so the first test validates the
examples against the real catalogue plus clearly marked permissive STAND-INS for the names
not registered yet (see ``tests/policy/_checks.py``); the second runs only once the real
catalogue provides every name the examples use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy._checks import CATALOGUE_NAMES, example_registry
from workbench.policy import PolicyStore, load_policy, policy_hash, resolve

POLICIES = Path(__file__).resolve().parents[2] / "policies"
EXAMPLES = sorted(POLICIES.glob("*.yaml"))


def test_there_are_examples() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"default.yaml", "strict-pii.yaml", "support-bot-topics.yaml", "json-output.yaml"} <= (
        names
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_with_stand_ins(path: Path) -> None:
    reg, _stand_ins = example_registry()
    policy = load_policy(path, reg)
    assert policy.id == path.stem
    assert set(c.validator for _, _, c in policy.iter_checks()) <= set(CATALOGUE_NAMES)
    assert len(policy_hash(policy)) == 64


def test_examples_publish_and_resolve(tmp_path: Path) -> None:
    reg, _ = example_registry()
    store = PolicyStore(tmp_path, registry=reg)
    for path in EXAMPLES:
        store.publish(path, "example")
    live = store.live()
    pick = {
        ("anything", "gpt-4o-mini"): "default",
        ("finance", "tiny"): "strict-pii",
        ("health-eu", "tiny"): "strict-pii",
        ("support", "gpt-4o-mini"): "support-bot-topics",
        ("data-extraction", "tiny"): "json-output",
    }
    for (workspace, model), expected in pick.items():
        found = resolve(live, workspace, model)
        assert found is not None and found.policy_id == expected


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_against_the_real_catalogue(path: Path) -> None:
    from workbench.guardrails import registry

    missing = sorted(set(CATALOGUE_NAMES) - registry.names())
    assert not missing, f"check catalogue incomplete: {', '.join(missing)} not registered"
    load_policy(path, registry)
