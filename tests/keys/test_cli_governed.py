"""``workbench keys`` roles, allowed models, grants, ``show`` and ``update``, all audited."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from workbench.cli import main
from workbench.governance import audit
from workbench.keys import KeyStore


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_create_with_role_models_and_grants(wb_home: Path) -> None:
    made = run("keys", "create", "-w", "team-a", "--role", "analyst", "--models", "echo,local",
               "--models", "remote", "--grant", "logs:bodies", "--json")  # fmt: skip
    assert made.exit_code == 0, made.output
    payload = json.loads(made.stdout)
    assert payload["role"] == "analyst" and payload["grants"] == ["logs:bodies"]
    assert payload["allowed_models"] == ["echo", "local", "remote"]
    with KeyStore() as store:
        assert store.verify(payload["key"]).allowed_models == ("echo", "local", "remote")
    table = run("keys", "list").stdout
    assert "echo,local,remote" in table and "logs:bodies" in table
    entry = audit.entries(action="key.create")[0]
    assert entry.target == f"key:{payload['key_id']}" and entry.after["role"] == "analyst"
    assert payload["key"] not in json.dumps(entry.to_dict())  # the secret is never audited
    secret = payload["key"].split("-", 2)[2]
    assert secret not in (wb_home / "audit.sqlite").read_bytes().decode("latin-1")


def test_grants_outside_the_allow_list_are_refused(wb_home: Path) -> None:
    bad = run("keys", "create", "-w", "a", "--grant", "keys:manage")
    assert bad.exit_code == 2 and "not allowed" in bad.stderr
    assert run("keys", "create", "-w", "a", "--role", "root").exit_code == 2
    assert json.loads(run("keys", "list", "--json").stdout) == []


def test_show_and_update(wb_home: Path) -> None:
    made = json.loads(run("keys", "create", "-w", "team-a", "--models", "echo", "--json").stdout)
    kid = made["key_id"]
    shown = run("keys", "show", made["key"])  # a pasted key: its id, never the secret back
    assert shown.exit_code == 0 and made["key"].split("-", 2)[2] not in shown.output
    assert json.loads(shown.stdout)["allowed_models"] == ["echo"]
    upd = run("keys", "update", kid, "--role", "policy-author", "--grant", "logs:bodies",
              "--expires-in-days", "3", "--name", "renamed")  # fmt: skip
    assert upd.exit_code == 0, upd.output
    after = json.loads(upd.stdout)
    assert after["role"] == "policy-author" and after["grants"] == ["logs:bodies"]
    assert after["expires_at"] is not None and after["name"] == "renamed"
    assert after["allowed_models"] == ["echo"]  # untouched
    cleared = json.loads(run("keys", "update", kid, "--all-models", "--no-grants",
                             "--no-expiry").stdout)  # fmt: skip
    assert cleared["allowed_models"] == [] and cleared["grants"] == []
    assert cleared["expires_at"] is None
    assert run("keys", "update", kid).exit_code == 2  # nothing to change
    run("keys", "revoke", kid)
    revoked = run("keys", "update", kid, "--role", "admin")
    assert revoked.exit_code == 2 and "revoked" in revoked.stderr
    updates = audit.entries(action="key.update")
    assert len(updates) == 2
    assert updates[0].before["role"] == "app" and updates[0].after["role"] == "policy-author"
    assert [e.action for e in audit.entries()][-1] == "key.revoke"
