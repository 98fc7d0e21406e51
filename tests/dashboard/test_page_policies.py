"""The policies page in-process (no browser): validation errors with file:line, diff,
replay preview against workbench.replay on the same rows (known flips), publish reaching
the store the gateway polls, permissions, history and rollback."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from typing import Any

import pytest

from tests.analytics.replay._log import POLICY_A, POLICY_B_YAML, config, record_log, write_log
from workbench.analytics.replay import replay
from workbench.dashboard import _policy_ops as ops
from workbench.dashboard._context import DashboardContext, Principal
from workbench.dashboard.pages import _REGISTRY
from workbench.dashboard.pages.policies import PoliciesView
from workbench.gateway.policies import PolicyRuntime
from workbench.policy import Policy, PolicyStore

# policy B's checks under policy A's id: a new version of the live policy
CANDIDATE = POLICY_B_YAML.replace("id: policy-b", "id: policy-a")


@pytest.fixture
def setup(wb_home: Path) -> dict[str, Any]:
    cfg = config()
    records = asyncio.run(record_log(cfg))
    write_log(wb_home / "logs", list(records.values()))
    store = PolicyStore(wb_home / "policies")
    store.publish(Policy.model_validate(POLICY_A), "first version", author="setup")
    return {"cfg": cfg, "records": records, "store": store, "home": wb_home}


def _ctx(setup: dict[str, Any], role: str = "policy-author") -> DashboardContext:
    return DashboardContext(
        Principal("key-x", "ws-a", role, "tester"),
        setup["home"] / "logs",
        setup["home"],
        extra={"gateway_config": setup["cfg"]},
    )


def _admin(setup: dict[str, Any]) -> DashboardContext:
    return DashboardContext(
        Principal("key-root", "ws-a", "admin", "root"),
        setup["home"] / "logs",
        setup["home"],
        extra={"gateway_config": setup["cfg"]},
    )


def test_registered_as_the_policies_page() -> None:
    spec = _REGISTRY["policies"]
    assert (spec.title, spec.order) == ("Policies", 60)


def test_starts_from_the_live_version(setup: dict[str, Any]) -> None:
    view = PoliciesView(_ctx(setup))
    assert view.source.value == "policy-a@v1"
    live = setup["store"].live_version("policy-a")
    assert view.editor.value == live.policy.canonical_yaml()
    assert view.validation is not None and view.validation.ok
    assert view.problems.alert_type == "success" and "No differences" in view.diff.object
    assert not view.publish_button.disabled


def test_invalid_yaml_names_the_line_and_fixing_clears_it(setup: dict[str, Any]) -> None:
    view = PoliciesView(_ctx(setup))
    lines = CANDIDATE.splitlines()
    bad_line = next(i for i, line in enumerate(lines, 1) if "no-pineapple" in line)
    lines[bad_line - 1] = lines[bad_line - 1].replace("on_fail: deny", "on_fail: explode")
    view.editor.value = "\n".join(lines) + "\n"
    assert view.validation is not None and not view.validation.ok
    assert view.problems.alert_type == "danger"
    assert f"candidate.yaml:{bad_line}:" in view.problems.object
    assert view.editor.annotations[0]["row"] == bad_line - 1
    assert view.publish_button.disabled
    view.editor.value = "id: policy-a\ninput: [\n"  # not even YAML
    assert "candidate.yaml:" in view.problems.object and "invalid YAML" in view.problems.object
    view.editor.value = CANDIDATE
    assert view.validation.ok if view.validation else False
    assert view.problems.alert_type == "success" and view.editor.annotations == []
    assert not view.publish_button.disabled


def test_unknown_route_target_is_an_error_like_the_cli(setup: dict[str, Any]) -> None:
    view = PoliciesView(_ctx(setup))
    view.editor.value = CANDIDATE.replace("targets: [echo]", "targets: [nowhere]")
    assert view.validation is not None and not view.validation.ok
    assert "nowhere" in view.problems.object and "candidate.yaml:" in view.problems.object


def test_diff_shows_the_change(setup: dict[str, Any]) -> None:
    view = PoliciesView(_ctx(setup))
    view.editor.value = CANDIDATE
    diff = html.unescape(view.diff.object)
    assert "policy-a@v1" in diff and "+ added 'no-pineapple'" in diff
    assert "on_fail redact -> deny" in diff and "- removed 'no-forbidden'" in diff


def test_replay_preview_matches_replay_and_drills_down(setup: dict[str, Any]) -> None:
    ctx = _admin(setup)
    view = PoliciesView(ctx)
    view.editor.value = CANDIDATE
    view.replay.run_button.clicks += 1
    got = view.replay.result
    assert got is not None
    direct = replay(ops.recent_rows(ctx), CANDIDATE, config=setup["cfg"], progress=False, workers=1)
    assert got.matrix() == direct.matrix()
    assert {k: f.count for k, f in got.flips.items()} == {
        k: f.count for k, f in direct.flips.items()
    }
    assert got.matrix()["allow"]["deny"] == 3 and got.matrix()["deny"]["allow"] == 1
    table = view.replay.matrix.value.set_index("before \\ after")
    assert table.loc["allow", "deny"] == 3 and table.loc["allow", "allow"] == 11
    drill = view.replay.drill_down("allow", "deny")
    assert sorted(d["request_id"] for d in drill) == [
        "req-pineapple",
        "req-zebra-out",
        "req-zebra-stream",
    ]
    pine = next(d for d in drill if d["request_id"] == "req-pineapple")
    assert pine["snippet"] == "I like pineapple on pizza"
    assert "/explorer?request_id=req-pineapple" in view.replay.examples.object


def test_replay_preview_of_an_analyst_is_its_workspace_without_snippets(
    setup: dict[str, Any],
) -> None:
    ctx = _ctx(setup, role="analyst")
    rows = ops.recent_rows(ctx)
    assert set(rows["workspace"]) == {"ws-a"} and 0 < rows.height < len(setup["records"])
    view = PoliciesView(ctx)
    view.editor.value = CANDIDATE
    view.replay.run()
    assert view.replay.result is not None and view.replay.result.replayed == rows.height
    cell = next(iter(view.replay.result.flips.values()))
    drill = view.replay.drill_down(cell.old, cell.new)
    assert drill and all(d["snippet"] is None for d in drill)


def test_publish_goes_live_with_message_and_actor(setup: dict[str, Any]) -> None:
    store: PolicyStore = setup["store"]
    runtime = PolicyRuntime(PolicyStore(store.root))  # what a gateway replica polls
    assert set(runtime.engines) == {"policy-a@v1"}
    view = PoliciesView(_ctx(setup))
    view.editor.value = CANDIDATE
    view.message.value = "deny PII, block pineapple"
    view.publish_button.clicks += 1
    assert store.live_map() == {"policy-a": "policy-a@v2"}
    live = store.live()[0]
    assert live.message == "deny PII, block pineapple"
    assert live.author == "tester (key-x) via dashboard"
    event = store.audit("policy-a")[-1]
    assert (event.event, event.by, event.to_version) == (
        "publish",
        "tester (key-x) via dashboard",
        "policy-a@v2",
    )
    assert "policy-a@v2" in view.publish_status.object
    assert runtime.store.live_token() != runtime.token  # the replica's poll sees a change
    runtime.reload()
    assert set(runtime.engines) == {"policy-a@v2"}
    assert view.history.versions.value["version"].tolist() == ["policy-a@v2", "policy-a@v1"]


def test_publish_needs_a_message(setup: dict[str, Any]) -> None:
    view = PoliciesView(_ctx(setup))
    view.editor.value = CANDIDATE
    assert view.publish() is None and "message is required" in view.publish_status.object
    assert setup["store"].live_map() == {"policy-a": "policy-a@v1"}


def test_analyst_cannot_publish_or_roll_back(setup: dict[str, Any]) -> None:
    ctx = _ctx(setup, role="analyst")
    view = PoliciesView(ctx)
    view.editor.value = CANDIDATE
    view.message.value = "sneaky"
    assert view.publish_button.disabled and view.history.button.disabled
    assert view.publish() is None and "may not publish" in view.publish_status.object
    with pytest.raises(ops.NotAllowed):
        ops.publish(ctx, setup["store"], CANDIDATE, "sneaky")
    with pytest.raises(ops.NotAllowed):
        ops.rollback(ctx, setup["store"], "policy-a", "policy-a@v1", "no")
    assert setup["store"].live_map() == {"policy-a": "policy-a@v1"}
    assert len(setup["store"].audit()) == 1


def test_history_and_rollback(setup: dict[str, Any]) -> None:
    store: PolicyStore = setup["store"]
    view = PoliciesView(_ctx(setup))
    view.editor.value = CANDIDATE
    view.message.value = "v2"
    assert view.publish() is not None
    assert view.history.target.options == ["policy-a@v1"]
    view.history.target.value = "policy-a@v1"
    view.history.message.value = "v2 blocks too much"
    view.history.button.clicks += 1
    assert store.live_map() == {"policy-a": "policy-a@v1"}
    event = store.audit("policy-a")[-1]
    assert (event.event, event.to_version, event.by, event.message) == (
        "rollback",
        "policy-a@v1",
        "tester (key-x) via dashboard",
        "v2 blocks too much",
    )
    events = view.history.events.value
    assert events["event"].tolist() == ["rollback", "publish", "publish"]
    assert "policy-a@v1" in view.history.status.object


def test_a_new_policy_has_no_history_until_published(setup: dict[str, Any]) -> None:
    view = PoliciesView(_ctx(setup))
    view.source.value = "(new policy)"
    assert view.validation is not None and view.validation.ok
    assert "has no published version yet" in html.unescape(view.diff.object)
    assert "no published versions" in view.history.status.object
    view.message.value = "a first version"
    version = view.publish()
    assert version is not None and version.version_id == "my-policy@v1"
    assert view.history.status.object == ""
    assert view.history.versions.value["version"].tolist() == ["my-policy@v1"]
