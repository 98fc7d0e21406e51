"""Crash safety: real crashes (``os._exit`` in a subprocess) at each step of the protocol."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import workbench.logstore.spool as spool_mod
import workbench.logstore.writer as writer_mod
from workbench.logstore import LogWriter, query

Records = Callable[..., list[dict[str, Any]]]  # the make_records fixture

# Runs in a child process: append the records, then flush with one step replaced by a
# hard crash (no cleanup, no atexit, no close).
_CHILD = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    import workbench.logstore.writer as wm
    from workbench.logstore import LogWriter

    root, mode, data = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    records = json.loads(data.read_text())

    def crash(*args, **kwargs):
        os._exit(17)

    writer = LogWriter(root)
    if mode == "after_first_partition":
        real = wm._write_parquet
        def first_then_crash(rows, dest):
            real(rows, dest)
            os._exit(17)
        wm._write_parquet = first_then_crash
    elif mode == "before_retire":
        wm._retire_segment = crash
    elif mode == "before_rename":
        import workbench.logstore._parquet as pm
        pm.os.replace = crash

    assert writer.append(records) == len(records)
    print("acked", flush=True)
    if mode == "after_append":
        os._exit(17)
    writer.flush()
    os._exit(0)
    """
)


def _crash_child(root: Path, mode: str, records: list[dict[str, Any]], tmp: Path) -> None:
    data = tmp / f"{mode}.json"
    data.write_text(json.dumps(records, default=str))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), mode, str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert "acked" in proc.stdout, proc.stderr
    assert proc.returncode == 17, proc.stderr


def _assert_exactly_once(root: Path, ids: set[str]) -> None:
    df = query("SELECT request_id FROM requests", root)
    assert df.height == len(ids), "duplicates or losses"
    assert set(df["request_id"].to_list()) == ids


def _assert_clean(root: Path) -> None:
    assert list((root / "spool").glob("seg-*")) == []
    assert list((root / "requests").glob("**/*.tmp")) == []


@pytest.mark.parametrize(
    "mode", ["after_append", "after_first_partition", "before_rename", "before_retire"]
)
def test_crash_then_reopen_is_exactly_once(
    root: Path, make_records: Records, tmp_path: Path, mode: str
) -> None:
    records = make_records(40, hours=3)  # one segment spanning three partitions
    ids = {r["request_id"] for r in records}
    _crash_child(root, mode, records, tmp_path)

    spooled = list((root / "spool").glob("seg-*.jsonl"))
    assert len(spooled) == 1  # the acked records survived the crash in the spool
    if mode == "after_first_partition":
        assert len(list((root / "requests").glob("**/*.parquet"))) == 1
    if mode == "before_retire":
        assert len(list((root / "requests").glob("**/*.parquet"))) == 3
    if mode == "before_rename":
        assert list((root / "requests").glob("**/.*.tmp"))

    writer = LogWriter(root)  # recovers
    assert writer.stats()["recovered"] == 40
    _assert_clean(root)
    _assert_exactly_once(root, ids)
    # a client retrying the same records after the crash is deduplicated
    assert writer.append(records) == 0
    assert writer.append(make_records(5, prefix="after")) == 5
    writer.close()
    _assert_exactly_once(root, ids | {f"after{i}" for i in range(5)})


def test_torn_final_line_is_dropped(root: Path, make_records: Records, tmp_path: Path) -> None:
    records = make_records(5)
    _crash_child(root, "after_append", records, tmp_path)
    (segment,) = (root / "spool").glob("seg-*.jsonl")
    with open(segment, "ab") as fh:  # a crash in the middle of an unacknowledged append
        fh.write(b'{"request_id":"torn","received_at":"2026-')
    with LogWriter(root) as writer:
        assert writer.stats()["recovered"] == 5
    _assert_clean(root)
    _assert_exactly_once(root, {r["request_id"] for r in records})


def test_corrupt_middle_line_is_quarantined(root: Path, make_records: Records) -> None:
    segment = root / "spool" / "seg-00000000000000000001-abcdef01.jsonl"
    segment.parent.mkdir(parents=True, exist_ok=True)
    good = [json.dumps({"request_id": f"g{i}", "received_at": 1_800_000_000}) for i in range(2)]
    segment.write_text(good[0] + "\n{garbage\n" + good[1] + "\n")
    with LogWriter(root):
        pass
    _assert_exactly_once(root, {"g0", "g1"})
    assert (root / "spool" / "corrupt" / segment.name).exists()


def test_failed_flush_is_retried_without_duplicates(
    root: Path, make_records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = make_records(20, hours=2)
    writer = LogWriter(root)
    writer.append(records)
    real = writer_mod._retire_segment

    def fail(path: Path) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(writer_mod, "_retire_segment", fail)
    with pytest.raises(OSError):
        writer.flush()
    assert writer.stats()["pending"] == 20
    writer.append(make_records(3, prefix="more"))  # appends keep working meanwhile
    monkeypatch.setattr(writer_mod, "_retire_segment", real)
    assert writer.flush() == 23
    writer.close()
    _assert_clean(root)
    _assert_exactly_once(root, {r["request_id"] for r in records} | {"more0", "more1", "more2"})


def test_failed_spool_write_is_not_acked(
    root: Path, make_records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = LogWriter(root)
    assert writer.append(make_records(2, prefix="a")) == 2
    real_fsync = os.fsync

    def fail(fd: int) -> None:
        raise OSError("fsync failed")

    monkeypatch.setattr(spool_mod.os, "fsync", fail)
    with pytest.raises(OSError):
        writer.append(make_records(2, prefix="b"))
    monkeypatch.setattr(spool_mod.os, "fsync", real_fsync)
    # not acked, so not remembered: the retry is accepted; the segment is still valid
    assert writer.append(make_records(2, prefix="b")) == 2
    (segment,) = (root / "spool").glob("seg-*.jsonl")
    assert len(segment.read_bytes().splitlines()) == 4
    writer.close()
    _assert_exactly_once(root, {"a0", "a1", "b0", "b1"})
