"""The policy store: publish, versions, live, rollback, unpublish, audit, live_token."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.policy._checks import LocalRegistry
from workbench.errors import ConfigError, NotFoundError
from workbench.policy import Policy, PolicyStore, Version, load_policy, policy_hash

Write = Callable[[str, str], Path]

V1 = """
id: demo
applies_to: {workspaces: [team-a]}
input:
  - {name: s, validator: secrets}
"""
V2 = V1 + "output:\n  - {name: tox, validator: toxicity, on_fail: flag}\n"
V3 = V2 + "retry: {max_attempts: 3}\n"


@pytest.fixture(autouse=True)
def _author(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_AUTHOR", "alice")


def test_publish_writes_an_immutable_version(
    store: PolicyStore, write: Write, reg: LocalRegistry
) -> None:
    path = write("demo.yaml", V1)
    v = store.publish(path, "first")
    assert (v.version_id, v.policy_id, v.number) == ("demo@v1", "demo", 1)
    assert v.hash == policy_hash(load_policy(path, reg))
    assert v.author == "alice" and v.message == "first" and not v.already_live
    assert v.source == str(path.resolve())
    assert abs(v.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    folder = store.root / "versions" / "demo"
    meta = json.loads((folder / "v1.json").read_text())
    assert meta == v.to_dict()
    assert set(meta) == {
        "version_id",
        "policy_id",
        "number",
        "hash",
        "author",
        "created_at",
        "message",
        "source",
    }
    assert (folder / "v1.yaml").read_text().startswith("# demo@v1: published by alice")
    assert json.loads(store.live_path.read_text()) == {"demo": "demo@v1"}
    # a fresh store reads the same thing back, with the policy parsed from disk
    again = PolicyStore(store.root, registry=reg).get("demo@v1")
    assert again == v and again.policy == v.policy


def test_publish_identical_content_is_a_noop(store: PolicyStore, write: Write) -> None:
    v1 = store.publish(write("a.yaml", V1), "first")
    token = store.live_token()
    # same content, different formatting and comments
    same = store.publish(
        write(
            "b.yaml",
            "# reformatted\n"
            + V1.replace("{name: s, validator: secrets}", "{validator: secrets, name: s}"),
        ),
        "again",
        author="bob",
    )
    assert same.already_live and same.version_id == "demo@v1" and same.hash == v1.hash
    assert [v.version_id for v in store.versions()] == ["demo@v1"]
    assert len(store.audit()) == 1
    assert store.live_token() == token


def test_publish_author_message_and_policy_objects(store: PolicyStore) -> None:
    v = store.publish(Policy(id="coded"), "from code", author="carol")
    assert v.author == "carol" and v.source is None and v.version_id == "coded@v1"
    with pytest.raises(ValueError, match="message is required"):
        store.publish(Policy(id="coded", description="x"), "  ")


def test_publish_validates_against_the_catalogue(store: PolicyStore, write: Write) -> None:
    bad = write("bad.yaml", "id: demo\ninput:\n  - {name: s, validator: nope}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:3: input.0.validator: unknown validator"):
        store.publish(bad, "broken")
    with pytest.raises(ConfigError, match="unknown validator"):
        store.publish(
            Policy.model_validate({"id": "x", "input": [{"name": "a", "validator": "nope"}]}), "m"
        )
    assert store.versions() == [] and store.live() == [] and store.audit() == []


def test_versions_live_get(store: PolicyStore, write: Write) -> None:
    store.publish(write("a.yaml", V1), "one")
    store.publish(write("a.yaml", V2), "two")
    store.publish(Policy(id="other"), "other")
    assert [v.version_id for v in store.versions()] == ["demo@v1", "demo@v2", "other@v1"]
    assert [v.version_id for v in store.versions("demo")] == ["demo@v1", "demo@v2"]
    assert store.versions("nothing") == []
    live = store.live()
    assert [v.version_id for v in live] == ["demo@v2", "other@v1"]
    assert live[0].policy.output[0].name == "tox"
    assert store.live_version("demo") == live[0] and store.live_version("nope") is None
    with pytest.raises(NotFoundError, match="no policy version 'demo@v9'"):
        store.get("demo@v9")
    with pytest.raises(ValueError, match="expected <policy_id>@v<N>"):
        store.get("demo-v1")


def test_republishing_old_content_makes_a_new_version(store: PolicyStore, write: Write) -> None:
    v1 = store.publish(write("a.yaml", V1), "one")
    store.publish(write("a.yaml", V2), "two")
    v3 = store.publish(write("a.yaml", V1), "back to one")
    assert v3.version_id == "demo@v3" and v3.hash == v1.hash and not v3.already_live


def test_rollback_walks_back_through_history(store: PolicyStore, write: Write) -> None:
    for text, msg in ((V1, "one"), (V2, "two"), (V3, "three")):
        store.publish(write("a.yaml", text), msg)
    assert store.rollback("demo", message="bad release").version_id == "demo@v2"
    assert store.live_map() == {"demo": "demo@v2"}
    assert store.rollback("demo").version_id == "demo@v1"
    with pytest.raises(ValueError, match="no earlier live version"):
        store.rollback("demo")
    # explicit targets, in three spellings
    assert store.rollback("demo", to="demo@v3").version_id == "demo@v3"
    assert store.rollback("demo", to="v2").version_id == "demo@v2"
    assert store.rollback("demo", to="1").version_id == "demo@v1"
    # undo after an explicit rollback goes back to what was live before it
    assert store.rollback("demo").version_id == "demo@v2"
    assert [v.number for v in store.versions("demo")] == [1, 2, 3]  # no new versions
    events = store.audit("demo")
    assert [e.event for e in events] == ["publish"] * 3 + ["rollback"] * 6
    first = events[3]
    assert (first.from_version, first.to_version, first.undo) == ("demo@v3", "demo@v2", True)
    assert first.message == "bad release" and first.by == "alice"
    assert first.hash == store.get("demo@v2").hash


def test_rollback_after_a_publish_undoes_that_publish(store: PolicyStore, write: Write) -> None:
    store.publish(write("a.yaml", V1), "one")
    store.publish(write("a.yaml", V2), "two")
    store.rollback("demo")  # -> v1
    store.publish(write("a.yaml", V3), "three")
    assert store.rollback("demo").version_id == "demo@v1"  # what was live before v3


def test_rollback_errors(store: PolicyStore, write: Write, reg: LocalRegistry) -> None:
    with pytest.raises(NotFoundError, match="no published versions"):
        store.rollback("ghost")
    store.publish(write("a.yaml", V1), "one")
    store.publish(Policy(id="other"), "other")
    with pytest.raises(ValueError, match="already live"):
        store.rollback("demo", to="demo@v1")
    with pytest.raises(ValueError, match="a version of 'other', not of 'demo'"):
        store.rollback("demo", to="other@v1")
    with pytest.raises(NotFoundError):
        store.rollback("demo", to="v7")


def test_rollback_target_must_still_validate(
    store: PolicyStore, write: Write, reg: LocalRegistry
) -> None:
    store.publish(write("a.yaml", V2), "with toxicity")
    store.publish(write("a.yaml", V1), "without")
    del reg._specs["toxicity"]  # the check was uninstalled since
    with pytest.raises(ConfigError, match="cannot make demo@v1 live.*unknown validator 'toxicity'"):
        store.rollback("demo")
    assert store.live_map() == {"demo": "demo@v2"}


def test_unpublish_and_restore(store: PolicyStore, write: Write) -> None:
    store.publish(write("a.yaml", V1), "one")
    store.publish(Policy(id="other"), "other")
    gone = store.unpublish("demo", message="incident")
    assert gone.version_id == "demo@v1"
    assert store.live_map() == {"other": "other@v1"}
    assert store.versions("demo")  # versions are kept
    with pytest.raises(NotFoundError, match="'demo' is not live"):
        store.unpublish("demo")
    event = store.audit("demo")[-1]
    assert (event.event, event.from_version, event.to_version) == ("unpublish", "demo@v1", None)
    assert event.hash == gone.hash and event.message == "incident"
    # rollback after an unpublish restores what was live
    assert store.rollback("demo").version_id == "demo@v1"
    assert store.live_map() == {"demo": "demo@v1", "other": "other@v1"}
    # publishing after an unpublish records from=None
    store.unpublish("demo")
    v2 = store.publish(write("a.yaml", V2), "two")
    assert store.audit("demo")[-1].from_version is None and v2.number == 2


def test_audit_trail_records_everything(store: PolicyStore, write: Write) -> None:
    store.publish(write("a.yaml", V1), "one")
    store.publish(write("a.yaml", V2), "two", author="bob")
    store.rollback("demo", author="carol")
    store.unpublish("demo")
    events = store.audit()
    assert [(e.event, e.by, e.from_version, e.to_version) for e in events] == [
        ("publish", "alice", None, "demo@v1"),
        ("publish", "bob", "demo@v1", "demo@v2"),
        ("rollback", "carol", "demo@v2", "demo@v1"),
        ("unpublish", "alice", "demo@v1", None),
    ]
    assert all(e.at.tzinfo is not None for e in events)
    raw = [json.loads(line) for line in store.audit_path.read_text().splitlines()]
    assert raw[0]["from"] is None and raw[0]["to"] == "demo@v1" and raw[0]["message"] == "one"
    # a torn last line (crash mid-append) does not break reading
    with store.audit_path.open("a") as f:
        f.write('{"event": "pub')
    assert len(store.audit()) == 4


def test_live_token_changes_with_live_json(store: PolicyStore, write: Write) -> None:
    t0 = store.live_token()
    assert t0 == store.live_token()
    store.publish(write("a.yaml", V1), "one")
    t1 = store.live_token()
    store.publish(write("a.yaml", V2), "two")
    t2 = store.live_token()
    store.rollback("demo")
    t3 = store.live_token()
    store.unpublish("demo")
    t4 = store.live_token()
    assert len({t0, t1, t2, t4}) == 4 and t3 == t1  # same live set, same token
    assert t3 != t2
    other = PolicyStore(store.root)  # any process sees the same token
    assert other.live_token() == t4


def test_tampered_version_is_refused(store: PolicyStore, write: Write, reg: LocalRegistry) -> None:
    v = store.publish(write("a.yaml", V1), "one")
    assert v.path is not None
    v.path.write_text(v.path.read_text().replace("team-a", "team-b"))
    fresh = PolicyStore(store.root, registry=reg)
    with pytest.raises(ConfigError, match="does not match the version's hash"):
        fresh.live()


def test_store_defaults_to_workbench_home(wb_home: Path) -> None:
    store = PolicyStore()
    assert store.root == wb_home.resolve() / "policies"
    assert isinstance(store.publish(Policy(id="x"), "m"), Version)
    assert (wb_home / "policies" / "versions" / "x" / "v1.yaml").is_file()


def test_ids_are_checked(store: PolicyStore) -> None:
    with pytest.raises(ValueError, match="invalid policy id"):
        store.versions("../etc")
    with pytest.raises(ValueError, match="invalid version id"):
        store.get("demo@v1\n")
    with pytest.raises(ValueError, match="invalid version id"):
        store.get("../x@v1")
