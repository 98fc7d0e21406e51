"""``workbench members`` and ``workbench keys create --member``: a round trip."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from workbench.cli import main
from workbench.errors import AuthenticationError
from workbench.governance import audit
from workbench.keys import KeyStore

KEY_RE = re.compile(r"wb-[A-Za-z0-9]{12}-[A-Za-z0-9_-]{43,}")


@pytest.fixture
def home(wb_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("WORKBENCH_KEYS_CREATE_WORKSPACE", "WORKBENCH_MEMBERS_LIST_WORKSPACE"):
        monkeypatch.delenv(var, raising=False)
    return wb_home


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_members_round_trip(home: Path) -> None:
    run("workspaces", "create", "team-a")
    run("workspaces", "create", "team-b")
    added = run("members", "add", "Alice@Example.com", "--name", "Alice")
    mid = re.search(r"mem_[a-z0-9]{12}", added.stdout)
    assert mid is not None
    member = mid.group(0)
    run("members", "add", "alice@example.COM", code=2)  # the same email, other case
    run("members", "grant", member, "-w", "team-a", "--role", "analyst")
    run("members", "grant", "alice@example.com", "-w", "team-b", "--role", "app")
    listed = json.loads(run("members", "list", "--json").stdout)
    assert [(m["member_id"], [s["role"] for s in m["memberships"]]) for m in listed] == [
        (member, ["analyst", "app"])
    ]
    table = run("members", "list", "-w", "team-a").stdout
    assert "team-a:analyst,team-b:app" in table and "Alice@Example.com" in table
    refused = run("keys", "create", "-w", "team-a", "--role", "policy-author",
                  "--member", member, code=2)  # fmt: skip
    assert "exceed" in refused.output and "analyst" in refused.output
    made = run("keys", "create", "-w", "team-a", "--role", "analyst", "--member", member)
    key = made.stdout.strip()
    assert KEY_RE.fullmatch(key)
    with KeyStore(home / "keys.sqlite") as store:
        assert store.verify(key).member_id == member
    assert member in run("keys", "list", "-w", "team-a").stdout
    plain = run("keys", "create", "-w", "team-a", "--role", "analyst", "--json").stdout
    kid = json.loads(plain)["key_id"]
    run("keys", "update", kid, "--member", "x@example.com", code=2)  # unknown member
    attached = json.loads(run("keys", "update", kid, "--member", "alice@example.com").stdout)
    assert attached["member_id"] == member
    detached = json.loads(run("keys", "update", kid, "--no-member").stdout)
    assert detached["member_id"] is None
    run("members", "update", member, "--name", "Alice A.")
    shown = json.loads(run("members", "show", member).stdout)
    assert shown["display_name"] == "Alice A." and shown["status"] == "active"
    run("members", "disable", member)
    with KeyStore(home / "keys.sqlite") as store, pytest.raises(AuthenticationError):
        store.verify(key)
    run("members", "enable", member)
    run("members", "revoke", member, "-w", "team-b")
    shown = json.loads(run("members", "show", member).stdout)
    assert [s["workspace"] for s in shown["memberships"]] == ["team-a"]
    assert shown["status"] == "active"
    run("members", "revoke", member, "-w", "team-b", code=2)
    run("members", "update", member, code=2)  # nothing to change
    actions = [e.action for e in audit.entries() if e.target == f"member:{member}"]
    assert actions == ["member.create", "membership.set", "membership.set", "member.update",
                       "member.update", "member.update", "membership.remove"]  # fmt: skip
    assert {e.source for e in audit.entries() if e.target == f"member:{member}"} == {"cli"}


def test_members_is_listed_in_help(home: Path) -> None:
    assert "members" in run("--help").stdout
    assert "grant" in run("members", "--help").stdout
