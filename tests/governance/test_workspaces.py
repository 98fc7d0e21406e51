"""Workspaces: the governed functions (permissions, audit) and ``workbench workspaces``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from workbench.cli import main
from workbench.errors import NotFoundError, PermissionDeniedError, WorkbenchError
from workbench.governance import audit, cli_principal, principal_for_key
from workbench.governance import workspaces as ws
from workbench.keys import KeyRecord, KeyStore


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _key(role: str, workspace: str) -> KeyRecord:
    return KeyRecord("k" * 12, workspace, None, datetime.now(UTC), role=role)


def test_lifecycle_and_audit(wb_home: Path) -> None:
    me = cli_principal()
    created = ws.create_workspace(me, "team-a", display_name=" Team A ", settings={"x": 1},
                                  source="cli")  # fmt: skip
    assert (created.name, created.display_name, created.settings) == ("team-a", "Team A", {"x": 1})
    with pytest.raises(WorkbenchError) as dup:
        ws.create_workspace(me, "team-a")
    assert dup.value.status == 409 and dup.value.code == "workspace_exists"
    updated = ws.update_workspace(me, "team-a", settings={"y": 2})
    assert updated.display_name == "Team A" and updated.settings == {"y": 2}
    assert updated.updated_at is not None
    with KeyStore() as store:
        rec, _ = store.create("team-a")
        with pytest.raises(WorkbenchError) as busy:
            ws.delete_workspace(me, "team-a", store=store)
        assert busy.value.status == 409 and busy.value.code == "workspace_not_empty"
        assert ws.get_workspace(me, "team-a", store=store).active_keys == 1
        store.revoke(rec.key_id)
        gone = ws.delete_workspace(me, "team-a", store=store)
    assert gone.total_keys == 1 and gone.active_keys == 0
    with pytest.raises(NotFoundError):
        ws.get_workspace(me, "team-a")
    trail = audit.entries(action="workspace.*")
    assert [e.action for e in trail] == ["workspace.create", "workspace.update", "workspace.delete"]
    assert all(e.actor == me.actor and e.target == "workspace:team-a" for e in trail)
    assert trail[0].source == "cli" and trail[0].after["settings"] == {"x": 1}
    assert trail[1].before["settings"] == {"x": 1} and trail[1].after["settings"] == {"y": 2}
    assert audit.verify().ok


def test_bad_input_is_a_value_error(wb_home: Path) -> None:
    me = cli_principal()
    for name in ("Team A", "", "x" * 65):
        with pytest.raises(ValueError):
            ws.create_workspace(me, name)
    with pytest.raises(ValueError, match="JSON object"):
        ws.create_workspace(me, "ok", settings=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bytes"):
        ws.create_workspace(me, "ok", settings={"a": "x" * 70_000})
    assert ws.list_workspaces(me) == []
    assert audit.entries() == []  # nothing failed was audited


def test_non_admins_see_only_their_workspace_and_change_nothing(wb_home: Path) -> None:
    me = cli_principal()
    for name in ("team-a", "team-b"):
        ws.create_workspace(me, name)
    for role in ("analyst", "policy-author", "app"):
        p = principal_for_key(_key(role, "team-a"))
        assert [w.name for w in ws.list_workspaces(p)] == ["team-a"]
        assert ws.get_workspace(p, "team-a").name == "team-a"
        for name in ("team-b", "does-not-exist"):  # both 403: existence is not revealed
            with pytest.raises(PermissionDeniedError):
                ws.get_workspace(p, name)
        with pytest.raises(PermissionDeniedError):
            ws.create_workspace(p, "team-c")
        with pytest.raises(PermissionDeniedError):
            ws.update_workspace(p, "team-a", display_name="mine")
        with pytest.raises(PermissionDeniedError):
            ws.delete_workspace(p, "team-a")
    admin = principal_for_key(_key("admin", "team-a"))
    assert [w.name for w in ws.list_workspaces(admin)] == ["team-a", "team-b"]
    ws.update_workspace(admin, "team-b", display_name="B")  # admins act everywhere


def test_a_key_in_a_new_workspace_registers_it(wb_home: Path) -> None:
    from workbench.governance import create_key

    create_key(cli_principal(), "fresh", source="cli")
    assert [w.name for w in ws.list_workspaces(cli_principal())] == ["fresh"]
    assert [e.action for e in audit.entries()] == ["workspace.create", "key.create"]


def test_cli(wb_home: Path) -> None:
    made = run("workspaces", "create", "team-a", "--display-name", "Team A",
               "--settings", '{"retention_days": 30}')  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "team-a" in made.stdout
    assert run("workspaces", "create", "team-a").exit_code == 2
    listed = run("workspaces", "list")
    assert listed.exit_code == 0 and "Team A" in listed.stdout
    shown = json.loads(run("workspaces", "show", "team-a").stdout)
    assert shown["settings"] == {"retention_days": 30}
    upd = run("workspaces", "update", "team-a", "--display-name", "Alpha")
    assert upd.exit_code == 0 and json.loads(upd.stdout)["display_name"] == "Alpha"
    assert run("workspaces", "update", "team-a").exit_code == 2  # nothing to change
    assert run("workspaces", "update", "team-a", "--settings", "[1]").exit_code == 2
    run("keys", "create", "-w", "team-a")
    refused = run("workspaces", "delete", "team-a")
    assert refused.exit_code == 2 and "unrevoked" in refused.stderr
    assert json.loads(run("workspaces", "list", "--json").stdout)[0]["active_keys"] == 1
    missing = run("workspaces", "show", "nope")
    assert missing.exit_code == 2 and "unknown workspace" in missing.stderr
    actions = [e.action for e in audit.entries()]
    assert actions == ["workspace.create", "workspace.update", "key.create"]
    assert all(e.source == "cli" and e.actor.startswith("cli:") for e in audit.entries())
