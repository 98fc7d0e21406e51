"""Key store schema 2: migrating a schema-1 file, allowed models, grants, ``update``."""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench.errors import AuthenticationError, InvalidRequestError, NotFoundError
from workbench.governance import principal_for_key
from workbench.keys import KeyStore
from workbench.keys.db import MIGRATIONS, SCHEMA_VERSION
from workbench.keys.hashing import hash_secret


def _v1_file(path: Path, keys: list[tuple[str, str, dict[str, str]]]) -> list[str]:
    """A key file exactly as a schema-1 workbench wrote it; returns the full keys."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for statement in MIGRATIONS[1].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    out = []
    for key_id, workspace, meta in keys:
        secret = secrets.token_urlsafe(32)
        conn.execute(
            "INSERT INTO api_keys (key_id, workspace, name, secret_hash, created_at, metadata) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key_id, workspace, "old", hash_secret(secret), "2025-01-02T03:04:05+00:00",
             json.dumps(meta)),
        )  # fmt: skip
        out.append(f"wb-{key_id}-{secret}")
    conn.close()
    return out


def test_a_schema_1_file_is_migrated_and_its_keys_keep_working(tmp_path: Path) -> None:
    db = tmp_path / "keys.sqlite"
    keys = _v1_file(
        db,
        [
            ("AAAAAAAAAAA1", "team-a", {"role": "analyst", "owner": "bob"}),
            ("AAAAAAAAAAA2", "team-a", {}),
            ("AAAAAAAAAAA3", "team-b", {"role": "admin"}),
        ],
    )
    with KeyStore(db) as store:
        analyst, app, admin = (store.verify(k) for k in keys)
        assert (analyst.role, app.role, admin.role) == ("analyst", "app", "admin")
        assert analyst.metadata == {"owner": "bob"}  # the role moved out of the metadata
        assert analyst.allowed_models == () and analyst.grants == ()
        assert principal_for_key(admin).workspaces is None
        names = [r[0] for r in store.db.rows("SELECT name FROM workspaces ORDER BY name")]
        assert names == ["team-a", "team-b"]
        assert store.db.rows("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 3
        # the migrated file takes new keys with the new fields
        rec, key = store.create("team-a", allowed_models=["echo"], grants=["logs:bodies"])
        assert store.verify(key).allowed_models == ("echo",)
    with KeyStore(db) as again:  # opening a current file migrates nothing
        assert again.get(rec.key_id).grants == ("logs:bodies",)
        assert again.get("AAAAAAAAAAA1").role == "analyst"


def test_a_newer_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "keys.sqlite"
    KeyStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        KeyStore(db)


def test_create_validates_models_and_grants(tmp_path: Path) -> None:
    with KeyStore(tmp_path / "k.sqlite") as store:
        rec, _ = store.create("ws", allowed_models=["b", "a", "a"], role="policy-author")
        assert rec.allowed_models == ("a", "b") and rec.role == "policy-author"
        assert rec.to_dict()["allowed_models"] == ["a", "b"]
        for bad in ({"allowed_models": ["x" * 201]}, {"allowed_models": [""]},
                    {"grants": ["keys:manage"]}, {"role": "root"}):  # fmt: skip
            with pytest.raises(ValueError):
                store.create("ws", **bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="list"):
            store.create("ws", allowed_models="echo")


def test_update_is_seen_by_other_instances(tmp_path: Path) -> None:
    db = tmp_path / "k.sqlite"
    with KeyStore(db) as writer, KeyStore(db, recheck_interval=0.0) as gateway:
        rec, key = writer.create("ws", "nb", expires_at=datetime.now(UTC) + timedelta(days=1))
        assert gateway.verify(key).role == "app"  # now cached in the gateway
        after = writer.update(
            rec.key_id, role="analyst", allowed_models=["echo"], grants=["logs:bodies"],
            expires_at=None, name="renamed",
        )  # fmt: skip
        assert (after.role, after.allowed_models, after.grants) == (
            "analyst", ("echo",), ("logs:bodies",),
        )  # fmt: skip
        assert after.expires_at is None and after.name == "renamed"
        seen = gateway.verify(key)
        assert seen.role == "analyst" and seen.allowed_models == ("echo",)
        unchanged = writer.update(rec.key_id, grants=[])
        assert unchanged.grants == () and unchanged.role == "analyst"
        with pytest.raises(ValueError, match="future"):
            writer.update(rec.key_id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
        writer.revoke(rec.key_id)
        with pytest.raises(InvalidRequestError) as info:
            writer.update(rec.key_id, role="admin")
        assert info.value.code == "key_revoked"
        with pytest.raises(NotFoundError):
            writer.update("nosuchkey123", role="admin")
        with pytest.raises(AuthenticationError):
            gateway.verify(key)
