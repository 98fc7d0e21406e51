"""KeyStore: create / verify / revoke / expire, hashing at rest, cache and revocation."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench.errors import AuthenticationError, NotFoundError
from workbench.keys import KeyRecord, KeyStore

KEY_RE = re.compile(r"^wb-([A-Za-z0-9]{12})-([A-Za-z0-9_-]{43,})$")


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "keys.sqlite"


@pytest.fixture
def store(db: Path):
    with KeyStore(db) as s:
        yield s


def _auth_error(store: KeyStore, presented: str | None) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as info:
        store.verify(presented)
    return info.value


def test_create_and_verify(store: KeyStore) -> None:
    record, key = store.create("team-a", "notebook", metadata={"owner": "ana"})
    match = KEY_RE.fullmatch(key)
    assert match, key
    assert match.group(1) == record.key_id
    assert record.workspace == "team-a"
    assert record.name == "notebook"
    assert record.metadata == {"owner": "ana"}
    assert record.revoked_at is None and record.expires_at is None
    assert record.created_at.tzinfo is not None
    assert record.status() == "active"

    verified = store.verify(key)
    assert verified == record
    assert store.verify(key) == record  # cached path
    assert store.verify(f"  {key}\n") == record  # surrounding whitespace is ignored


def test_keys_are_unique(store: KeyStore) -> None:
    made = [store.create("ws") for _ in range(20)]
    assert len({r.key_id for r, _ in made}) == 20
    assert len({k for _, k in made}) == 20


def test_default_path_is_under_workbench_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    with KeyStore() as s:
        assert s.path == tmp_path / "home" / "keys.sqlite"
        s.create("ws")
    assert (tmp_path / "home" / "keys.sqlite").exists()


def test_only_a_salted_hash_is_stored(db: Path, store: KeyStore) -> None:
    secrets_ = []
    for _ in range(3):
        _, key = store.create("team-a", "x")
        secrets_.append(key.split("-", 2)[2])
        store.verify(key)
    raw = b"".join(p.read_bytes() for p in db.parent.glob("keys.sqlite*"))
    assert raw  # the database (and WAL) exist
    for secret in secrets_:
        assert secret.encode() not in raw
        assert secret[:16].encode() not in raw
        assert secret[-16:].encode() not in raw
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = db.read_bytes()
    for secret in secrets_:
        assert secret.encode() not in raw
    hashes = [row[0] for row in store.db.conn.execute("SELECT secret_hash FROM api_keys")]
    assert len(set(hashes)) == 3
    assert all(h.startswith("pbkdf2_sha256$") for h in hashes)
    # per-key salt: the salt field differs between keys
    assert len({h.split("$")[2] for h in hashes}) == 3


def test_wal_mode(store: KeyStore) -> None:
    assert store.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_wrong_secret(store: KeyStore) -> None:
    record, key = store.create("team-a")
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    err = _auth_error(store, flipped)
    assert "wrong secret" in err.message and record.key_id in err.message
    assert err.status == 401 and err.code == "invalid_api_key"
    # a cached good key does not make a wrong secret pass, and vice versa
    assert store.verify(key) == record
    _auth_error(store, flipped)
    assert store.verify(key) == record


@pytest.mark.parametrize("presented", [None, "", "   "])
def test_missing(store: KeyStore, presented: str | None) -> None:
    err = _auth_error(store, presented)
    assert err.code == "missing_api_key"
    assert "missing" in err.message


@pytest.mark.parametrize(
    "presented",
    [
        "hello",
        "sk-1234567890",
        "wb-short-secret",
        "wb-abcdefghijkl",
        "wb-abcdefghijkl-tooshort",
        "xx-abcdefghijkl-" + "a" * 43,
        "wb-abcdefghij!l-" + "a" * 43,
        "wb-abcdefghijkl-" + "a" * 42 + "=",
        "Bearer wb-abcdefghijkl-" + "a" * 43,
        "wb-abcdefghijkl-" + "a" * 43 + "\udcff",
    ],
)
def test_malformed(store: KeyStore, presented: str) -> None:
    err = _auth_error(store, presented)
    assert "malformed" in err.message
    assert err.code == "invalid_api_key"


def test_unknown_key(store: KeyStore) -> None:
    err = _auth_error(store, "wb-abcdefghijkl-" + "a" * 43)
    assert "unknown" in err.message and "abcdefghijkl" in err.message


def test_revoke(store: KeyStore) -> None:
    record, key = store.create("team-a")
    other, other_key = store.create("team-a")
    store.verify(key)
    revoked = store.revoke(record.key_id)
    assert revoked.revoked_at is not None and revoked.revoked
    assert revoked.status() == "revoked"
    err = _auth_error(store, key)
    assert err.code == "revoked_api_key" and "revoked" in err.message
    assert store.verify(other_key) == other  # other keys unaffected
    again = store.revoke(record.key_id)  # idempotent, keeps the first timestamp
    assert again.revoked_at == revoked.revoked_at
    with pytest.raises(NotFoundError, match="unknown key id"):
        store.revoke("doesnotexist")


def test_list(store: KeyStore) -> None:
    a1, _ = store.create("team-a", "one")
    b1, _ = store.create("team-b", "two")
    a2, _ = store.create("team-a", "three")
    store.revoke(a2.key_id)
    assert [r.key_id for r in store.list()] == [a1.key_id, b1.key_id, a2.key_id]
    assert [r.key_id for r in store.list("team-a")] == [a1.key_id, a2.key_id]
    assert [r.key_id for r in store.list("team-a", include_revoked=False)] == [a1.key_id]
    assert store.list("team-c") == []
    assert all(isinstance(r, KeyRecord) for r in store.list())
    listed = store.list("team-a")[1]
    assert listed.revoked_at is not None
    assert store.get(b1.key_id) == b1
    d = a1.to_dict()
    assert d["key_id"] == a1.key_id and d["status"] == "active"
    assert "secret" not in str(d).lower()


def test_expiry_uses_the_clock_on_cached_and_uncached_paths(db: Path) -> None:
    clock = FakeClock()
    with KeyStore(db, clock=clock) as store:
        expires = datetime.fromtimestamp(clock.now, UTC) + timedelta(minutes=1)
        record, key = store.create("team-a", expires_at=expires)
        assert record.expires_at == expires
        assert store.verify(key) == record  # now cached
        clock.now += 120
        err = _auth_error(store, key)  # cached entry is expired
        assert err.code == "expired_api_key" and "expired" in err.message
        with KeyStore(db, clock=clock) as fresh:  # uncached path
            assert _auth_error(fresh, key).code == "expired_api_key"
        assert store.list()[0].is_expired(datetime.fromtimestamp(clock.now, UTC))


def test_expires_at_must_be_aware_and_in_the_future(store: KeyStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.create("ws", expires_at=datetime.now() + timedelta(days=1))
    with pytest.raises(ValueError, match="future"):
        store.create("ws", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    # non-UTC offsets are accepted and normalised to UTC
    tz = datetime.now(UTC).astimezone().tzinfo
    record, _ = store.create("ws", expires_at=datetime.now(tz) + timedelta(days=1))
    assert record.expires_at is not None and record.expires_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("workspace", ["a", "team-a", "team_b", "x" * 64, "0-9_"])
def test_valid_workspaces(store: KeyStore, workspace: str) -> None:
    record, _ = store.create(workspace)
    assert record.workspace == workspace


@pytest.mark.parametrize("workspace", ["", "Team", "a b", "x" * 65, "ä", "a.b", "a/b"])
def test_invalid_workspaces(store: KeyStore, workspace: str) -> None:
    with pytest.raises(ValueError, match="invalid workspace"):
        store.create(workspace)
    with pytest.raises(ValueError, match="invalid workspace"):
        store.list(workspace)


def test_bad_metadata(store: KeyStore) -> None:
    with pytest.raises(ValueError, match="JSON"):
        store.create("ws", metadata={"x": object()})
    with pytest.raises(ValueError, match="dict"):
        store.create("ws", metadata=["x"])  # type: ignore[arg-type]


def test_cached_verify_needs_no_io_and_no_hash(db: Path, monkeypatch) -> None:
    store = KeyStore(db, recheck_interval=3600)
    _, key = store.create("team-a")
    store.verify(key)
    assert store.verifier.gate.computations == 1  # the uncached verify: one PBKDF2

    def no_io(*args: object) -> None:
        raise AssertionError("a cached verify touched the database")

    monkeypatch.setattr(store.db, "lookup", no_io)
    monkeypatch.setattr(store.db, "generation", no_io)
    for _ in range(1000):
        store.verify(key)
    assert store.verifier.gate.computations == 1
    # the cache is keyed by a digest, never the raw key
    digests = store.verifier.cache.digests()
    assert digests and all(isinstance(k, bytes) and len(k) == 32 for k in digests)
    assert key.encode() not in b"".join(digests)
    store.close()


def test_revoke_in_another_instance_is_seen_within_a_second(db: Path) -> None:
    long_lived = KeyStore(db)  # the gateway
    try:
        record, key = long_lived.create("team-a")
        _, other_key = long_lived.create("team-a")
        assert long_lived.verify(key) == record
        long_lived.verify(other_key)

        with KeyStore(db) as cli:  # the CLI process
            cli.revoke(record.key_id)
        revoked_at = time.monotonic()
        while True:
            try:
                long_lived.verify(key)
            except AuthenticationError as exc:
                assert exc.code == "revoked_api_key"
                break
            assert time.monotonic() - revoked_at < 1.5, "revocation not seen within 1.5 s"
            time.sleep(0.01)
        # the other key still verifies (re-checked once, then cached again)
        long_lived.verify(other_key)
        long_lived.verify(other_key)
    finally:
        long_lived.close()


def test_revoke_from_another_process_is_seen(db: Path) -> None:
    gateway = KeyStore(db)
    try:
        record, key = gateway.create("team-a")
        gateway.verify(key)
        code = (
            "import sys; from pathlib import Path; from workbench.keys import KeyStore; "
            "KeyStore(Path(sys.argv[1])).revoke(sys.argv[2])"
        )
        subprocess.run([sys.executable, "-c", code, str(db), record.key_id], check=True)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                gateway.verify(key)
            except AuthenticationError as exc:
                assert exc.code == "revoked_api_key"
                return
            time.sleep(0.01)
        pytest.fail("revocation by another process not seen within 1.5 s")
    finally:
        gateway.close()


def test_new_key_from_another_instance_verifies_immediately(db: Path) -> None:
    with KeyStore(db) as gateway, KeyStore(db) as cli:
        gateway.verify(gateway.create("a")[1])
        _, key = cli.create("b")
        assert gateway.verify(key).workspace == "b"


def test_concurrent_verify(store: KeyStore) -> None:
    keys = [store.create("ws")[1] for _ in range(4)]
    errors: list[BaseException] = []

    def worker(key: str) -> None:
        try:
            for _ in range(200):
                store.verify(key)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in keys * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
