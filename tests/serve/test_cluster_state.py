"""The head-state mirror without Ray: what a non-head ingress replica sees of keys and
policies created on the head (serve/headstate.py), and its refusal of admin writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from serve.headstate import (
    Mirror,
    RefuseAdminWrites,
    apply_snapshot,
    known_versions,
    state_token,
    take_snapshot,
)
from workbench.errors import AuthenticationError
from workbench.keys import KeyStore
from workbench.policy import PolicyStore

POLICY = """
id: mirror-test
applies_to: {workspaces: ["*"], models: ["*"]}
input:
  - name: no-forbidden
    validator: regex_deny
    params: {patterns: ["forbidden-word"]}
    on_fail: deny
"""


def _sync(head: Path, mirror: Path) -> None:
    apply_snapshot(mirror, take_snapshot(head, known_versions(mirror)))


def _mirror(head: Path, root: Path) -> Mirror:
    """A Mirror fed by hand (its Ray-backed poller is not started)."""
    mirror = Mirror(actor=None, root=root)
    mirror.apply(take_snapshot(head, known_versions(root)))
    return mirror


def test_keys_made_and_revoked_on_the_head_reach_an_open_mirror_store(tmp_path: Path) -> None:
    head, root = tmp_path / "head", tmp_path / "mirror"
    head.mkdir()
    heads = KeyStore(head / "keys.sqlite")
    first, first_key = heads.create("team-a", "one")
    mirror = _mirror(head, root)
    # the replica's store stays open across syncs, as in the gateway, which clears its
    # verify cache after each sync
    mirrored = KeyStore(root / "keys.sqlite")
    mirror.listeners.append(mirrored.clear_cache)
    assert mirrored.verify(first_key).key_id == first.key_id
    token = state_token(head)
    second, second_key = heads.create("team-b", "two")
    assert state_token(head) != token
    with pytest.raises(AuthenticationError):
        mirrored.verify(second_key)  # not synced yet: the mirror is the head's past
    mirror.apply(take_snapshot(head, known_versions(root)))
    assert mirrored.verify(second_key).workspace == "team-b"  # the refusal was not kept
    heads.revoke(first.key_id)
    mirror.apply(take_snapshot(head, known_versions(root)))
    with pytest.raises(AuthenticationError):
        mirrored.verify(first_key)
    assert mirrored.verify(second_key).key_id == second.key_id
    assert mirror.syncs == 3 and mirror.token == state_token(head)
    heads.close()
    mirrored.close()


def test_a_policy_published_on_the_head_goes_live_on_the_mirror(tmp_path: Path) -> None:
    head, mirror = tmp_path / "head", tmp_path / "mirror"
    (tmp_path / "p.yaml").write_text(POLICY)
    _sync(head, mirror)
    mirrored = PolicyStore(mirror / "policies")
    assert mirrored.live() == []
    before = mirrored.live_token()
    PolicyStore(head / "policies").publish(tmp_path / "p.yaml", "first")
    _sync(head, mirror)
    assert mirrored.live_token() != before  # what the gateway's policy watcher polls
    assert [v.version_id for v in mirrored.live()] == ["mirror-test@v1"]
    assert known_versions(mirror) == known_versions(head)
    snap = take_snapshot(head, known_versions(mirror))
    assert snap["versions"] == {}  # versions are immutable: sent once


async def test_mirror_replicas_refuse_admin_writes_and_pass_the_rest() -> None:
    calls: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    wrapped = RefuseAdminWrites(app)

    async def call(method: str, path: str) -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path}
        await wrapped(scope, None, send)
        return sent[0]["status"], sent[1]["body"]

    status, body = await call("POST", "/admin/v1/keys")
    assert status == 503 and json.loads(body)["error"]["code"] == "not_on_head"
    assert (await call("DELETE", "/admin/v1/workspaces/w"))[0] == 503
    assert (await call("GET", "/admin/v1/keys"))[0] == 200
    assert (await call("POST", "/v1/chat/completions"))[0] == 200
    assert calls == ["GET /admin/v1/keys", "POST /v1/chat/completions"]
