"""``workbench credentials``: secrets in through stdin/env only, never out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.governance import audit
from workbench.governance._crypto import generate_key

SECRET_A = "sk-proj-AAAAaaaa1111bbbbCCCC2222dddd3333"
SECRET_B = "sk-proj-BBBBzzzz9999yyyyXXXX8888wwww7777"


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, ["credentials", *args], input=stdin, env=env)
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert SECRET_A not in out and SECRET_B not in out
    assert result.exit_code == 0, out
    return out


def fail(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, ["credentials", *args], input=stdin, env=env)
    out = result.output
    assert result.exit_code == 2, out
    assert "Traceback" not in out and SECRET_A not in out and SECRET_B not in out
    return out


def test_full_cycle_prints_no_secret(wb_home: Path) -> None:
    rec = json.loads(run("add", "-n", "openai-prod", "-p", "openai", "--json", stdin=SECRET_A))
    cid = rec["id"]
    assert rec["fingerprint"] == "...3333"
    assert cid in run("list")
    assert json.loads(run("list", "--json"))[0]["id"] == cid
    assert "...7777" in run("rotate", cid, stdin=SECRET_B + "\n")
    assert "now calls openai-main" in run("bind", "ws1", "openai-main", cid)
    shown = json.loads(run("show", cid, "--json"))
    assert shown["generation"] == 2 and shown["bindings"][0]["workspace"] == "ws1"
    assert "workspace 'ws1' -> target openai-main" in run("show", cid)
    assert "ws1" in run("bindings")
    assert "in use by workspace 'ws1'" in fail("delete", cid)
    run("unbind", "ws1", "openai-main")
    assert "Re-encrypted 1 credential(s) with a new master key" in run("rekey", "--new-key")
    assert "Deleted" in run("delete", cid)
    assert "No credentials." in run("list")
    assert "no credential" in fail("show", cid)
    assert [e.action for e in audit.entries()][-1] == "credential.delete"


def test_secret_from_env_var_and_not_from_argv(wb_home: Path) -> None:
    out = run("add", "-n", "k", "-p", "openai", "--secret-env", "MY_KEY", env={"MY_KEY": SECRET_A})
    assert "Stored credential cred-" in out
    assert "UNSET_VAR is empty or unset" in fail(
        "add", "-n", "k", "-p", "o", "--secret-env", "UNSET_VAR"
    )
    result = CliRunner().invoke(main, ["credentials", "add", "-n", "k", "-p", "x", "--secret", "s"])
    assert result.exit_code == 2 and "No such option" in result.output  # no argv secret


def test_delete_refused_for_a_config_target(wb_home: Path, tmp_path: Path) -> None:
    cid = json.loads(run("add", "-n", "k", "-p", "openai", "--json", stdin=SECRET_A))["id"]
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(
        "models:\n  - {name: remote, provider: openai-compatible, "
        f'base_url: "http://127.0.0.1:9/v1", credential: {cid}}}\n'
    )
    assert "target remote" in fail("delete", cid, "--config", str(cfg))


@pytest.mark.parametrize("bad_key", ["wrong", "fernet"])
def test_wrong_master_key_is_one_line(wb_home: Path, bad_key: str) -> None:
    cid = json.loads(run("add", "-n", "k", "-p", "openai", "--json", stdin=SECRET_A))["id"]
    key = "definitely-not-a-key" if bad_key == "wrong" else generate_key()
    out = fail("rotate", cid, stdin=SECRET_B, env={"WORKBENCH_MASTER_KEY": key})
    assert key not in out
    assert ("is not a Fernet key" if bad_key == "wrong" else "does not open") in out


def test_new_master_key_prints_a_usable_key(wb_home: Path) -> None:
    key = run("new-master-key").strip()
    out = run("add", "-n", "k", "-p", "openai", stdin=SECRET_A, env={"WORKBENCH_MASTER_KEY": key})
    assert "Stored" in out and not (wb_home / "master.key").exists()
