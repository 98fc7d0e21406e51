"""Key store schema 3 (members): migrating a schema-2 file, and the cache's staleness bound
for member changes."""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path

import pytest

from workbench.errors import AuthenticationError
from workbench.governance import (
    cli_principal,
    create_member,
    disable_member,
    enable_member,
    set_membership,
)
from workbench.keys import KeyStore
from workbench.keys import verifier as verifier_module
from workbench.keys.db import MIGRATIONS, SCHEMA_VERSION
from workbench.keys.hashing import hash_secret

ME = cli_principal()


def _v2_file(path: Path) -> dict[str, str]:
    """A key file as a schema-2 workbench wrote it (its migrations, its INSERT); returns
    key id -> full key."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for number in (1, 2):
        for statement in MIGRATIONS[number].split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute(
        "INSERT INTO workspaces (name, display_name, created_at, settings) VALUES (?, ?, ?, ?)",
        ("team-a", "Team A", "2025-01-01T00:00:00+00:00", json.dumps({"retention_days": 30})),
    )
    rows = [
        ("BBBBBBBBBBB1", "team-a", "analyst", ["echo"], ["logs:bodies"], None),
        ("BBBBBBBBBBB2", "team-b", "admin", [], [], None),
        ("BBBBBBBBBBB3", "team-a", "app", [], [], "2025-02-01T00:00:00+00:00"),
    ]
    keys = {}
    for key_id, workspace, role, models, grants, revoked in rows:
        secret = secrets.token_urlsafe(32)
        conn.execute(
            "INSERT INTO api_keys (key_id, workspace, name, secret_hash, created_at, "
            "expires_at, metadata, role, allowed_models, grants) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key_id, workspace, "old", hash_secret(secret), "2025-01-02T03:04:05+00:00", None,
             json.dumps({"owner": "bob"}), role, json.dumps(models), json.dumps(grants)),
        )  # fmt: skip
        if revoked:
            conn.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (revoked, key_id))
        keys[key_id] = f"wb-{key_id}-{secret}"
    conn.execute("UPDATE keystore_meta SET v = 7 WHERE k = 'generation'")
    conn.close()
    return keys


def test_a_schema_2_file_is_migrated_in_place_and_its_rows_survive(tmp_path: Path) -> None:
    db = tmp_path / "keys.sqlite"
    keys = _v2_file(db)
    with KeyStore(db) as store:
        assert store.db.rows("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 3
        analyst = store.verify(keys["BBBBBBBBBBB1"])
        assert (analyst.role, analyst.allowed_models, analyst.grants) == (
            "analyst", ("echo",), ("logs:bodies",),
        )  # fmt: skip
        assert analyst.metadata == {"owner": "bob"} and analyst.member_id is None
        assert store.verify(keys["BBBBBBBBBBB2"]).role == "admin"
        with pytest.raises(AuthenticationError, match="revoked"):
            store.verify(keys["BBBBBBBBBBB3"])
        assert store.db.generation() == 7
        ws = store.db.rows("SELECT name, display_name, settings FROM workspaces")
        assert ws == [("team-a", "Team A", '{"retention_days": 30}')]
        assert store.db.rows("SELECT COUNT(*) FROM members")[0][0] == 0
        # the migrated file takes members and members' keys
        alice = create_member(ME, "alice@example.com", store=store)
        set_membership(ME, alice.member_id, "team-a", "analyst", store=store)
        rec, key = store.create("team-a", role="analyst", member_id=alice.member_id)
        assert store.verify(key).member_id == alice.member_id
    with KeyStore(db) as again:  # opening a current file migrates nothing
        assert again.get(rec.key_id).member_id == alice.member_id
        assert [r.key_id for r in again.list()][:3] == sorted(keys)


def test_a_member_change_is_seen_within_the_recheck_interval_and_not_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented bound: a cached allow is served until the generation is re-read,
    at most ``recheck_interval`` seconds later (monotonic clock injected)."""
    mono = [1000.0]
    monkeypatch.setattr(verifier_module.time, "monotonic", lambda: mono[0])
    db = tmp_path / "keys.sqlite"
    with KeyStore(db) as admin, KeyStore(db, recheck_interval=5.0) as gateway:
        alice = create_member(ME, "alice@example.com", store=admin)
        admin.create("ws")  # registers the workspace
        set_membership(ME, alice.member_id, "ws", "policy-author", store=admin)
        _, key = admin.create("ws", role="policy-author", member_id=alice.member_id)
        assert gateway.verify(key).role == "policy-author"  # cached, generation read now
        disable_member(ME, alice.member_id, store=admin)  # another store ("process")
        mono[0] += 4.9
        assert gateway.verify(key).role == "policy-author"  # inside the bound: stale allow
        mono[0] += 0.1
        with pytest.raises(AuthenticationError) as caught:  # at the bound: denied
            gateway.verify(key)
        assert caught.value.code == "member_disabled"
        mono[0] += 0.1
        with pytest.raises(AuthenticationError):  # the denial is cached ...
            gateway.verify(key)
        enable_member(ME, alice.member_id, store=admin)
        mono[0] += 5.0  # ... only until the generation moves
        assert gateway.verify(key).role == "policy-author"


def test_effective_is_what_a_session_recheck_by_key_id_sees(tmp_path: Path) -> None:
    """``KeyDB.effective``: the capped record, or None when the member denies the key
    (for re-checks by key id, e.g. a logged-in dashboard session)."""
    with KeyStore(tmp_path / "keys.sqlite") as store:
        store.create("ws")
        alice = create_member(ME, "alice@example.com", store=store)
        set_membership(ME, alice.member_id, "ws", "policy-author", store=store)
        rec, _ = store.create("ws", role="policy-author", member_id=alice.member_id)
        service, _ = store.create("ws", role="admin")
        assert store.db.effective(rec.key_id) == rec
        set_membership(ME, alice.member_id, "ws", "analyst", store=store)
        capped = store.db.effective(rec.key_id)
        assert capped is not None and (capped.role, capped.grants) == ("analyst", ())
        assert store.get(rec.key_id).role == "policy-author"  # the stored row is unchanged
        disable_member(ME, alice.member_id, store=store)
        assert store.db.effective(rec.key_id) is None
        assert store.db.effective(service.key_id) == service
        assert store.db.effective("nosuchkey000") is None
