"""The audit log: hash chain, append-only triggers, tamper detection, concurrent writers."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from workbench.governance import audit


def _fill(n: int) -> None:
    for i in range(n):
        audit.record(
            "key.create",
            actor="cli:alice",
            target=f"key:k{i}",
            workspace="ws1" if i % 2 else "ws2",
            after={"role": "app", "i": i},
            source="cli",
        )


def _raw(wb_home: Path) -> sqlite3.Connection:
    """The file opened behind the library's back, with the protective triggers dropped."""
    conn = sqlite3.connect(wb_home / "audit.sqlite", isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    return conn


def test_entries_form_a_chain_and_verify(wb_home: Path) -> None:
    _fill(5)
    got = audit.entries()
    assert [e.seq for e in got] == [1, 2, 3, 4, 5]
    assert got[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(got, got[1:], strict=False))
    body = {
        "seq": 1,
        "ts": got[0].ts,
        "actor": "cli:alice",
        "action": "key.create",
        "target": "key:k0",
        "workspace": "ws2",
        "source": "cli",
        "before_json": "null",
        "after_json": '{"i":0,"role":"app"}',
        "prev_hash": audit.GENESIS_HASH,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert got[0].hash == hashlib.sha256(canonical.encode()).hexdigest()  # known answer
    assert audit.verify() == audit.VerifyResult(True, 5)


def test_filters(wb_home: Path) -> None:
    _fill(4)
    audit.record("policy.publish", actor="cli:bob", target="policy:p@v1")
    assert [e.target for e in audit.entries(workspace="ws1")] == ["key:k1", "key:k3"]
    assert [e.actor for e in audit.entries(action="policy.*")] == ["cli:bob"]
    assert len(audit.entries(actor="cli:alice")) == 4
    assert [e.seq for e in audit.entries(limit=2)] == [4, 5]
    assert audit.entries(since="1h") and not audit.entries(until="1h")


def test_secrets_are_masked_even_if_passed(wb_home: Path) -> None:
    e = audit.record(
        "credential.add",
        actor="cli:alice",
        target="cred:c1",
        after={"api_key": "sk-live-123", "tokens_per_min": 10, "k": "wb-abc123-s3cr3tvalue00"},
    )
    assert e.after == {"api_key": "[redacted]", "tokens_per_min": 10, "k": "[redacted]"}
    assert "sk-live-123" not in (Path(wb_home) / "audit.sqlite").read_bytes().decode("latin-1")


def test_update_and_delete_are_refused(wb_home: Path) -> None:
    _fill(2)
    conn = sqlite3.connect(wb_home / "audit.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 1")


def test_edit_is_detected(wb_home: Path) -> None:
    _fill(5)
    _raw(wb_home).execute('UPDATE audit_log SET after_json = \'{"role":"admin"}\' WHERE seq = 3')
    result = audit.verify()
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 3, 2)


def test_delete_is_detected(wb_home: Path) -> None:
    _fill(5)
    _raw(wb_home).execute("DELETE FROM audit_log WHERE seq = 2")
    result = audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_truncated_tail_is_detected(wb_home: Path) -> None:
    _fill(5)
    _raw(wb_home).execute("DELETE FROM audit_log WHERE seq = 5")
    result = audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 5)


def test_insert_is_detected(wb_home: Path) -> None:
    _fill(4)
    conn = _raw(wb_home)
    # make room after seq 2 and insert a forged entry whose own hash is right
    for seq in (4, 3):
        conn.execute("UPDATE audit_log SET seq = seq + 1 WHERE seq = ?", (seq,))
    prev = conn.execute("SELECT hash FROM audit_log WHERE seq = 2").fetchone()[0]
    row = {
        "seq": 3, "ts": "2026-01-01T00:00:00+00:00", "actor": "cli:mallory",
        "action": "key.create", "target": "key:evil", "workspace": None, "source": "cli",
        "before_json": "null", "after_json": "null", "prev_hash": prev,
    }  # fmt: skip
    row["hash"] = hashlib.sha256(
        json.dumps(row, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    conn.execute(
        "INSERT INTO audit_log (seq, ts, actor, action, target, workspace, source, "
        "before_json, after_json, prev_hash, hash) VALUES "
        "(:seq, :ts, :actor, :action, :target, :workspace, :source, :before_json, "
        ":after_json, :prev_hash, :hash)",
        row,
    )
    result = audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 4)  # the entry after the forgery


def test_reorder_is_detected(wb_home: Path) -> None:
    _fill(4)
    conn = _raw(wb_home)
    conn.execute("UPDATE audit_log SET seq = 100 WHERE seq = 2")
    conn.execute("UPDATE audit_log SET seq = 2 WHERE seq = 3")
    conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 100")
    result = audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 2)


def _writer(home: str, tag: str, n: int) -> None:
    import os

    os.environ["WORKBENCH_HOME"] = home
    from workbench.governance import audit as a

    for i in range(n):
        a.record("test.concurrent", actor=f"proc:{tag}", target=f"t{i}")


def test_two_processes_extend_one_chain(wb_home: Path) -> None:
    audit.record("init", actor="cli:x", target="t")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(wb_home), t, 60)) for t in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    got = audit.entries()
    assert [e.seq for e in got] == list(range(1, 122))
    assert {e.actor for e in got[1:]} == {"proc:a", "proc:b"}
    assert audit.verify() == audit.VerifyResult(True, 121)
