"""``workbench keys``: create / list / revoke through click's CliRunner."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from workbench.cli import main
from workbench.keys import KeyStore

KEY_RE = re.compile(r"wb-[A-Za-z0-9]{12}-[A-Za-z0-9_-]{43,}")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    for var in ("WORKBENCH_KEYS_CREATE_WORKSPACE", "WORKBENCH_KEYS_LIST_WORKSPACE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_create_prints_the_key_once_with_a_warning(home: Path) -> None:
    result = run("keys", "create", "--workspace", "team-a", "--name", "notebook")
    assert result.exit_code == 0, result.output
    assert KEY_RE.fullmatch(result.stdout.strip())
    key = result.stdout.strip()
    assert "only once" in result.stderr
    assert "team-a" in result.stderr
    with KeyStore(home / "keys.sqlite") as store:
        record = store.verify(key)
    assert record.workspace == "team-a" and record.name == "notebook"
    # the key is never shown again
    listed = run("keys", "list")
    assert key not in listed.output and key.split("-", 2)[2] not in listed.output


def test_create_json(home: Path) -> None:
    result = run("keys", "create", "-w", "team-a", "--expires-in-days", "2", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert KEY_RE.fullmatch(payload["key"])
    assert payload["workspace"] == "team-a" and payload["status"] == "active"
    expires = datetime.fromisoformat(payload["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=2))) < timedelta(minutes=1)
    assert "only once" in result.stderr
    with KeyStore(home / "keys.sqlite") as store:
        assert store.verify(payload["key"]).key_id == payload["key_id"]


def test_list_table_and_json(home: Path) -> None:
    empty = run("keys", "list")
    assert empty.exit_code == 0 and "No keys" in empty.stdout
    assert json.loads(run("keys", "list", "--json").stdout) == []

    a = json.loads(run("keys", "create", "-w", "team-a", "-n", "alpha", "--json").stdout)
    b = json.loads(run("keys", "create", "-w", "team-b", "--json").stdout)
    table = run("keys", "list")
    assert table.exit_code == 0
    lines = table.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["KEY_ID", "WORKSPACE", "NAME", "STATUS"]
    assert a["key_id"] in lines[1] and "alpha" in lines[1] and "active" in lines[1]
    assert b["key_id"] in lines[2]

    only_a = json.loads(run("keys", "list", "--workspace", "team-a", "--json").stdout)
    assert [r["key_id"] for r in only_a] == [a["key_id"]]
    assert "key" not in only_a[0]


def test_revoke(home: Path) -> None:
    created = json.loads(run("keys", "create", "-w", "team-a", "--json").stdout)
    result = run("keys", "revoke", created["key_id"])
    assert result.exit_code == 0, result.output
    assert "Revoked" in result.stdout and created["key_id"] in result.stdout
    again = run("keys", "revoke", created["key_id"])
    assert again.exit_code == 0 and "already revoked" in again.stdout
    listed = json.loads(run("keys", "list", "--json").stdout)
    assert listed[0]["status"] == "revoked"
    table = run("keys", "list").stdout
    assert "revoked" in table


def test_revoke_accepts_a_pasted_key_without_echoing_its_secret(home: Path) -> None:
    created = json.loads(run("keys", "create", "-w", "team-a", "--json").stdout)
    result = run("keys", "revoke", created["key"])
    assert result.exit_code == 0, result.output
    assert created["key_id"] in result.stdout
    assert created["key"].split("-", 2)[2] not in result.output


def test_revoke_unknown_is_a_clean_error(home: Path) -> None:
    result = CliRunner().invoke(main, ["keys", "revoke", "nosuchkey123"])
    assert result.exit_code == 2
    assert "unknown key id" in result.stderr
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "create", "--workspace", "Bad Name"],
        ["keys", "create", "--workspace", "x" * 65],
        ["keys", "list", "--workspace", "UPPER"],
    ],
)
def test_invalid_workspace_exits_2(home: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "invalid workspace" in result.stderr
    assert "Traceback" not in result.output


def test_usage_errors_exit_2(home: Path) -> None:
    assert CliRunner().invoke(main, ["keys", "create"]).exit_code == 2  # --workspace missing
    bad_days = CliRunner().invoke(main, ["keys", "create", "-w", "a", "--expires-in-days", "0"])
    assert bad_days.exit_code == 2


def test_options_read_from_env(home: Path) -> None:
    result = run("keys", "create", "--json", env={"WORKBENCH_KEYS_CREATE_WORKSPACE": "from-env"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["workspace"] == "from-env"


def test_home_option(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    result = run("--home", str(other), "keys", "create", "-w", "ws")
    assert result.exit_code == 0, result.output
    assert (other / "keys.sqlite").exists()
    with KeyStore(other / "keys.sqlite") as store:
        assert len(store.list()) == 1


def test_gateway_commands_are_registered() -> None:
    import click

    names = set(main.list_commands(click.Context(main)))
    assert {"up", "down", "status", "keys", "logs", "policy", "guardrails"} <= names
