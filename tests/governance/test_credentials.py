"""The credential store: encryption at rest, master keys, permissions, audit, bindings."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from workbench.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from workbench.governance import audit
from workbench.governance import credentials as creds
from workbench.governance._crypto import MasterKeyError, generate_key
from workbench.governance._resolver import CredentialResolver
from workbench.governance.permissions import Principal, cli_principal, permissions_for

SECRET_A = "sk-proj-AAAAaaaa1111bbbbCCCC2222dddd3333"
SECRET_B = "sk-proj-BBBBzzzz9999yyyyXXXX8888wwww7777"


def analyst() -> Principal:
    return Principal(
        actor="key:analyst1",
        role="analyst",
        workspaces=frozenset({"ws1"}),
        permissions=permissions_for("analyst"),
        key_id="analyst1",
        workspace="ws1",
    )


def raw_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("credentials.sqlite*"))


def test_secret_is_encrypted_at_rest_and_never_returned(wb_home: Path) -> None:
    me = cli_principal()
    rec = creds.add(me, name="openai-prod", provider="openai", secret=f"  {SECRET_A}\n")
    assert rec.id.startswith("cred-") and rec.generation == 1
    assert rec.fingerprint == "...3333"
    for shown in (repr(rec), str(rec.to_dict()), repr(creds.get(me, rec.id))):
        assert SECRET_A not in shown and "1111bbbb" not in shown
    data = raw_bytes(wb_home)
    assert data and SECRET_A.encode() not in data and b"1111bbbbCCCC" not in data
    assert stat.S_IMODE(os.stat(wb_home / "credentials.sqlite").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(wb_home / "master.key").st_mode) == 0o600
    res = CredentialResolver(wb_home)
    assert res.secret_for("t", rec.id, None) == SECRET_A  # what the gateway sends
    assert SECRET_A not in repr(res)
    res.close()


def test_short_secret_has_no_fingerprint_and_bad_secrets_are_refused(wb_home: Path) -> None:
    me = cli_principal()
    assert creds.add(me, name="n", provider="p", secret="short-key-123").fingerprint is None
    for bad in ("", "   ", "has space inside", "tab\tkey", "x" * 5000):
        with pytest.raises(InvalidRequestError) as ei:
            creds.add(me, name="n", provider="p", secret=bad)
        assert bad.strip() == "" or bad not in str(ei.value)


def test_rotate_bumps_generation_and_resolver_follows(wb_home: Path) -> None:
    me = cli_principal()
    now = [0.0]
    res = CredentialResolver(wb_home, recheck_s=0.5, clock=lambda: now[0])
    rec = creds.add(me, name="k", provider="openai", secret=SECRET_A)
    assert res.secret_for("t", rec.id, None) == SECRET_A
    after = creds.rotate(me, rec.id, SECRET_B)
    assert after.generation == 2 and after.rotated_at is not None
    assert after.fingerprint == "...7777"
    assert res.secret_for("t", rec.id, None) == SECRET_A  # cached until the next recheck
    now[0] = 0.6
    assert res.secret_for("t", rec.id, None) == SECRET_B
    res.close()


def test_workspace_binding_overrides_the_target_credential(wb_home: Path) -> None:
    me = cli_principal()
    shared = creds.add(me, name="shared", provider="openai", secret=SECRET_A)
    own = creds.add(me, name="ws1-own", provider="openai", secret=SECRET_B)
    b = creds.bind(me, "ws1", "openai-main", own.id)
    assert (b.workspace, b.target, b.credential_id) == ("ws1", "openai-main", own.id)
    res = CredentialResolver(wb_home)
    assert res.secret_for("openai-main", shared.id, "ws1") == SECRET_B
    assert res.secret_for("openai-main", shared.id, "ws2") == SECRET_A
    assert res.secret_for("other-target", shared.id, "ws1") == SECRET_A
    assert res.secret_for("openai-main", None, "ws1") == SECRET_B  # env-key target too
    assert res.secret_for("openai-main", None, "ws2") is None
    assert [x.credential_id for x in creds.bindings(me, "ws1")] == [own.id]
    with pytest.raises(InvalidRequestError, match="in use by workspace 'ws1'"):
        creds.delete(me, own.id)
    creds.unbind(me, "ws1", "openai-main")
    with pytest.raises(NotFoundError):
        creds.unbind(me, "ws1", "openai-main")
    res.close()
    res = CredentialResolver(wb_home)
    assert res.secret_for("openai-main", shared.id, "ws1") == SECRET_A
    assert creds.delete(me, own.id).id == own.id
    with pytest.raises(NotFoundError):
        creds.get(me, own.id)
    with pytest.raises(NotFoundError):
        creds.bind(me, "ws1", "openai-main", own.id)
    res.close()


def test_delete_refused_while_a_config_target_uses_it(wb_home: Path) -> None:
    from workbench.config.gateway import parse_config

    me = cli_principal()
    rec = creds.add(me, name="k", provider="openai", secret=SECRET_A)
    cfg = parse_config(
        {
            "models": [
                {
                    "name": "remote",
                    "provider": "openai-compatible",
                    "base_url": "http://127.0.0.1:9/v1",
                    "credential": rec.id,
                }
            ]
        }
    )
    with pytest.raises(InvalidRequestError, match="target remote"):
        creds.delete(me, rec.id, config=cfg)
    creds.delete(me, rec.id)


def test_config_takes_at_most_one_key_source() -> None:
    from workbench.config.gateway import parse_config
    from workbench.errors import ConfigError

    base = {"name": "r", "provider": "openai-compatible", "base_url": "http://127.0.0.1:9/v1"}
    with pytest.raises(ConfigError, match="at most one of"):
        parse_config({"models": [{**base, "api_key_env": "X", "credential": "cred-ab12"}]})
    with pytest.raises(ConfigError):
        parse_config({"models": [{**base, "credential": "not-a-cred-id"}]})


def test_every_function_requires_manage_credentials(wb_home: Path) -> None:
    me = cli_principal()
    rec = creds.add(me, name="k", provider="openai", secret=SECRET_A)
    who = analyst()
    calls = [
        lambda: creds.add(who, name="x", provider="openai", secret=SECRET_B),
        lambda: creds.list_credentials(who),
        lambda: creds.get(who, rec.id),
        lambda: creds.rotate(who, rec.id, SECRET_B),
        lambda: creds.delete(who, rec.id),
        lambda: creds.bind(who, "ws1", "t", rec.id),
        lambda: creds.unbind(who, "ws1", "t"),
        lambda: creds.bindings(who),
        lambda: creds.rekey(who),
    ]
    for call in calls:
        with pytest.raises(PermissionDeniedError):
            call()
    assert creds.get(me, rec.id).generation == 1  # nothing changed


def test_mutations_are_audited_without_the_secret(wb_home: Path) -> None:
    me = cli_principal()
    rec = creds.add(me, name="k", provider="openai", secret=SECRET_A)
    creds.rotate(me, rec.id, SECRET_B, source="10.0.0.7")
    creds.bind(me, "ws1", "t", rec.id)
    creds.unbind(me, "ws1", "t")
    creds.rekey(me)
    creds.delete(me, rec.id)
    got = audit.entries()
    actions = [e.action for e in got]
    assert actions == [
        "credential.add",
        "credential.rotate",
        "credential.bind",
        "credential.unbind",
        "credential.rekey",
        "credential.delete",
    ]
    assert all(e.actor == me.actor for e in got)
    rot = got[1]
    assert rot.target == rec.id and rot.source == "10.0.0.7"
    assert rot.before["generation"] == 1 and rot.after["generation"] == 2
    assert got[2].workspace == "ws1"
    blob = (wb_home / "audit.sqlite").read_bytes()
    for secret in (SECRET_A, SECRET_B):
        assert secret.encode() not in blob
        assert secret not in str([e.to_dict() for e in got])
    assert audit.verify().ok


def test_wrong_master_key_is_a_clear_error(wb_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    me = cli_principal()
    rec = creds.add(me, name="k", provider="openai", secret=SECRET_A)
    wrong = generate_key()
    monkeypatch.setenv("WORKBENCH_MASTER_KEY", wrong)
    with pytest.raises(MasterKeyError, match="does not open the credential store") as ei:
        creds.rotate(me, rec.id, SECRET_B)
    assert SECRET_B not in str(ei.value) and wrong not in str(ei.value)
    res = CredentialResolver(wb_home)
    with pytest.raises(MasterKeyError) as ei:
        res.secret_for("t", rec.id, None)
    assert SECRET_A not in str(ei.value) and wrong not in str(ei.value)
    res.close()
    monkeypatch.setenv("WORKBENCH_MASTER_KEY", "not-a-fernet-key")
    with pytest.raises(MasterKeyError, match="is not a Fernet key") as ei:
        creds.rotate(me, rec.id, SECRET_B)
    assert "not-a-fernet-key" not in str(ei.value)
    monkeypatch.delenv("WORKBENCH_MASTER_KEY")
    (wb_home / "master.key").rename(wb_home / "moved.key")
    with pytest.raises(MasterKeyError, match="no master key"):
        creds.rotate(me, rec.id, SECRET_B)
    assert not (wb_home / "master.key").exists()  # a lost key is never silently replaced


def test_master_key_from_env_and_file(wb_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv("WORKBENCH_MASTER_KEY", key)
    me = cli_principal()
    rec = creds.add(me, name="k", provider="openai", secret=SECRET_A)
    assert not (wb_home / "master.key").exists()
    monkeypatch.delenv("WORKBENCH_MASTER_KEY")
    keyfile = wb_home.parent / "secret-mount" / "mk"
    keyfile.parent.mkdir()
    keyfile.write_text(key + "\n")
    monkeypatch.setenv("WORKBENCH_MASTER_KEY_FILE", str(keyfile))
    res = CredentialResolver(wb_home)
    assert res.secret_for("t", rec.id, None) == SECRET_A
    res.close()


def test_rekey_with_env_keys_new_first(wb_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv("WORKBENCH_MASTER_KEY", old)
    me = cli_principal()
    rec = creds.add(me, name="k", provider="openai", secret=SECRET_A)
    monkeypatch.setenv("WORKBENCH_MASTER_KEY", f"{new},{old}")
    with pytest.raises(MasterKeyError, match="cannot be rewritten"):
        creds.rekey(me, new_key=True)
    assert creds.rekey(me) == 1
    monkeypatch.setenv("WORKBENCH_MASTER_KEY", new)  # the old key retired
    res = CredentialResolver(wb_home)
    assert res.secret_for("t", rec.id, None) == SECRET_A
    res.close()
    monkeypatch.setenv("WORKBENCH_MASTER_KEY", old)
    with pytest.raises(MasterKeyError):
        creds.rotate(me, rec.id, SECRET_B)


def test_rekey_new_key_rewrites_the_key_file(wb_home: Path) -> None:
    me = cli_principal()
    a = creds.add(me, name="a", provider="openai", secret=SECRET_A)
    b = creds.add(me, name="b", provider="anthropic", secret=SECRET_B)
    res = CredentialResolver(wb_home, recheck_s=0.0)
    assert res.secret_for("t", a.id, None) == SECRET_A  # loads the old key in this process
    before_key = (wb_home / "master.key").read_text().split()
    assert creds.rekey(me, new_key=True) == 2
    after_key = (wb_home / "master.key").read_text().split()
    assert len(after_key) == 1 and after_key != before_key
    assert res.secret_for("t", b.id, None) == SECRET_B  # re-reads the rewritten key file
    res.close()
    (wb_home / "master.key").write_text(before_key[0] + "\n")
    stale = CredentialResolver(wb_home)
    with pytest.raises(MasterKeyError):  # the old key no longer opens the store
        stale.secret_for("t", a.id, None)
    stale.close()


def test_token_moved_to_another_row_does_not_decrypt(wb_home: Path) -> None:
    import sqlite3

    me = cli_principal()
    a = creds.add(me, name="a", provider="openai", secret=SECRET_A)
    b = creds.add(me, name="b", provider="openai", secret=SECRET_B)
    conn = sqlite3.connect(wb_home / "credentials.sqlite")
    conn.execute(
        "UPDATE credentials SET token = (SELECT token FROM credentials WHERE id = ?) WHERE id = ?",
        (a.id, b.id),
    )
    conn.commit()
    conn.close()
    res = CredentialResolver(wb_home)
    with pytest.raises(MasterKeyError, match=f"credential {b.id} cannot be decrypted"):
        res.secret_for("t", b.id, None)
    res.close()


def test_unknown_credential_at_call_time(wb_home: Path) -> None:
    from workbench.governance._resolver import CredentialUnavailableError

    res = CredentialResolver(wb_home)
    with pytest.raises(CredentialUnavailableError, match="cred-00ff is not in the credential"):
        res.secret_for("remote", "cred-00ff", None)
    creds.add(cli_principal(), name="k", provider="openai", secret=SECRET_A)
    with pytest.raises(CredentialUnavailableError) as ei:
        res.secret_for("remote", "cred-00ff", None)
    assert ei.value.status == 500 and ei.value.code == "credential_unavailable"
    res.close()
