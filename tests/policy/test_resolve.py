"""resolve(): the most specific live policy wins."""

from __future__ import annotations

from pathlib import Path

from tests.policy._checks import LocalRegistry
from workbench.policy import Policy, PolicyStore, match_rank, resolve
from workbench.policy.resolve import pattern_score


def pol(pid: str, workspaces: list[str], models: list[str]) -> Policy:
    return Policy.model_validate(
        {"id": pid, "applies_to": {"workspaces": workspaces, "models": models}}
    )


def test_pattern_score() -> None:
    assert pattern_score(["*"], "a") == 0
    assert pattern_score(["team-*"], "team-a") == 1
    assert pattern_score(["team-a"], "team-a") == 2
    assert pattern_score(["*", "team-?", "team-a"], "team-a") == 2  # best pattern counts
    assert pattern_score(["team-b"], "team-a") is None
    assert pattern_score(["Team-a"], "team-a") is None  # case-sensitive


def test_precedence() -> None:
    default = pol("default", ["*"], ["*"])
    glob_ws = pol("teams", ["team-*"], ["*"])
    exact_ws = pol("team-a", ["team-a"], ["*"])
    exact_ws_model = pol("team-a-gpt", ["team-a"], ["gpt-4o-mini"])
    any_ws_exact_model = pol("gpt-everywhere", ["*"], ["gpt-4o-mini"])
    live = [default, glob_ws, exact_ws, exact_ws_model, any_ws_exact_model]
    assert resolve(live, "team-a", "gpt-4o-mini") is exact_ws_model
    assert resolve(live, "team-a", "tiny") is exact_ws
    assert resolve(live, "team-b", "tiny") is glob_ws
    # workspace specificity beats model specificity
    assert resolve(live, "team-b", "gpt-4o-mini") is glob_ws
    assert resolve(live, "other", "gpt-4o-mini") is any_ws_exact_model
    assert resolve(live, "other", "tiny") is default
    assert resolve([exact_ws], "other", "tiny") is None
    assert resolve([], "x", "y") is None
    assert match_rank(exact_ws_model.applies_to, "team-a", "gpt-4o-mini") == (2, 2)


def test_ties_break_by_policy_id_whatever_the_order() -> None:
    a, b = pol("alpha", ["*"], ["*"]), pol("beta", ["*"], ["*"])
    assert resolve([b, a], "w", "m") is a
    assert resolve([a, b], "w", "m") is a


def test_resolve_over_store_versions(tmp_path: Path, reg: LocalRegistry) -> None:
    store = PolicyStore(tmp_path, registry=reg)
    store.publish(pol("default", ["*"], ["*"]), "base")
    store.publish(pol("team-a", ["team-a"], ["*"]), "team")
    found = resolve(store.live(), "team-a", "m")
    assert found is not None and found.version_id == "team-a@v1"
    assert store.resolve("elsewhere", "m").version_id == "default@v1"  # type: ignore[union-attr]
