"""diff(): unified diff of the canonical YAML plus a structured summary."""

from __future__ import annotations

from pathlib import Path

from tests.policy._checks import LocalRegistry
from workbench.policy import PolicyStore, compare, diff, parse_policy

A = {
    "id": "demo",
    "input": [
        {"name": "s", "validator": "secrets"},
        {"name": "words", "validator": "regex_deny", "params": {"patterns": ["a"]}},
    ],
    "output": [{"name": "tox", "validator": "toxicity", "on_fail": "flag"}],
}
B = {
    "id": "demo",
    "applies_to": {"workspaces": ["team-a"]},
    "input": [
        {"name": "words", "validator": "regex_deny", "params": {"patterns": ["a", "b"]}},
        {"name": "s", "validator": "secrets"},
    ],
    "output": [
        {"name": "tox", "validator": "toxicity", "on_fail": "deny", "params": {"threshold": 0.8}},
        {"name": "leak", "validator": "system_prompt_leak"},
    ],
    "fallback": {"message": "sorry"},
}


def test_summary_of_changes(reg: LocalRegistry) -> None:
    a, b = parse_policy(A, registry=reg), parse_policy(B, registry=reg)
    d = compare(a, b, a_label="old", b_label="new")
    assert not d.identical
    changes = {(c.stage, c.name): c for c in d.checks}
    assert changes[("output", "leak")].change == "added"
    tox = changes[("output", "tox")]
    assert tox.change == "changed"
    assert "on_fail flag -> deny" in tox.details and "params.threshold = 0.8" in tox.details
    assert d.action_changes == (tox,)
    words = changes[("input", "words")]
    assert words.change == "changed"
    assert 'params.patterns ["a"] -> ["a", "b"]' in words.details
    assert "position 1 -> 0" in words.details
    assert changes[("input", "s")].change == "moved"
    assert 'applies_to.workspaces: ["*"] -> ["team-a"]' in d.settings
    assert 'fallback.message: null -> "sorry"' in d.settings
    text = d.render()
    assert text.startswith("--- old\n+++ new\n")
    assert "-  on_fail: flag" in text and "+  on_fail: deny" in text
    assert "Summary (old -> new):" in text
    assert (
        "output: + added 'leak'" in text and "output: ~ changed 'tox': on_fail flag -> deny" in text
    )
    removed = compare(b, a)
    assert {(c.name, c.change) for c in removed.checks if c.change == "removed"} == {
        ("leak", "removed")
    }


def test_identical_and_versions(tmp_path: Path, reg: LocalRegistry) -> None:
    a = parse_policy(A, registry=reg)
    assert diff(a, a).startswith("No differences between demo (unpublished) and demo")
    store = PolicyStore(tmp_path, registry=reg)
    v1 = store.publish(a, "one")
    v2 = store.publish(parse_policy(B, registry=reg), "two")
    text = diff(v1, v2)
    assert text.startswith("--- demo@v1\n+++ demo@v2\n")
    assert "Summary (demo@v1 -> demo@v2)" in text
    assert diff(v1, a).startswith("No differences")
