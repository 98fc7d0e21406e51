"""Publishing, rolling back and unpublishing a policy is audited (who, policy, version, hashes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import workbench.guardrails
from tests.policy._checks import make_registry
from workbench.cli.policy import policy
from workbench.governance import audit
from workbench.policy import PolicyStore

V1 = """id: demo
applies_to: {workspaces: [team-a]}
input:
  - {name: s, validator: secrets}
"""
V2 = V1 + "output:\n  - {name: tox, validator: toxicity, on_fail: flag}\n"


@pytest.fixture(autouse=True)
def registry(wb_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbench.guardrails, "registry", make_registry())


def _run(*args: str) -> None:
    res = CliRunner().invoke(policy, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output


def test_publish_rollback_unpublish_are_audited(tmp_path: Path) -> None:
    f1, f2 = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    f1.write_text(V1)
    f2.write_text(V2)
    _run("publish", str(f1), "-m", "first")
    _run("publish", str(f1), "-m", "same again")  # no change: nothing to audit
    _run("publish", str(f2), "-m", "add toxicity")
    _run("rollback", "demo", "-m", "too strict")
    _run("unpublish", "demo", "-m", "retired")
    store = PolicyStore()
    h1, h2 = store.get("demo@v1").hash, store.get("demo@v2").hash
    got = [(e.action, e.before, e.after["live"], e.after["message"]) for e in audit.entries()]
    assert got == [
        ("policy.publish", None, {"version": "demo@v1", "hash": h1}, "first"),
        (
            "policy.publish",
            {"version": "demo@v1", "hash": h1},
            {"version": "demo@v2", "hash": h2},
            "add toxicity",
        ),
        (
            "policy.rollback",
            {"version": "demo@v2", "hash": h2},
            {"version": "demo@v1", "hash": h1},
            "too strict",
        ),
        ("policy.unpublish", {"version": "demo@v1", "hash": h1}, None, "retired"),
    ]
    assert {e.target for e in audit.entries()} == {"policy:demo"}
    assert all(e.actor.startswith("cli:") and e.source == "cli" for e in audit.entries())
    assert audit.verify().ok
