"""The verdict rollup: one file per requests file, equal to the failed verdicts of the raw
rows recounted in Python, after flushes, compaction, erasure, repair and rebuild."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tests.logstore._verdict_records import RECORDS, Key, expected, write
from workbench.logstore import LogWriter, compact, rebuild_rollups
from workbench.logstore._rollup_verdicts import VERDICT_ROLLUP_VERSION, verdict_dir
from workbench.logstore.rewrite import remove_rows


def _names(tree: Path) -> list[str]:
    return sorted(str(p.relative_to(tree)) for p in tree.glob("date=*/hour=*/*.parquet"))


def _rolled(root: Path) -> tuple[dict[Key, tuple[int, int]], int]:
    glob = str(verdict_dir(root) / "**" / "*.parquet")
    con = duckdb.connect()
    rows = con.sql(
        'SELECT "check", validator, stage, action, mode, sum(verdicts), sum(requests) '
        f"FROM read_parquet('{glob}', hive_partitioning = true) WHERE kind = 'check' GROUP BY ALL"
    ).fetchall()
    src = f"read_parquet('{glob}', hive_partitioning = true)"
    total = con.execute(f"SELECT sum(requests) FROM {src} WHERE kind = 'any'").fetchall()
    return {tuple(r[:5]): (int(r[5]), int(r[6])) for r in rows}, int(total[0][0] or 0)


def test_one_verdict_file_per_requests_file_with_known_counts(wb_home: Path) -> None:
    root = wb_home / "logs"
    write(root)
    assert _names(verdict_dir(root)) == _names(root / "requests")
    assert len(_names(root / "requests")) > 5  # several files per hour
    some = next(verdict_dir(root).glob("date=*/hour=*/*.parquet"))
    meta = pq.read_schema(some).metadata
    assert meta[b"workbench.verdict_rollup_version"] == str(VERDICT_ROLLUP_VERSION).encode()
    want, anywhere = expected(RECORDS)
    assert _rolled(root) == (want, anywhere)
    # the stream windows count once each, distinct requests once (i % 6 == 0, not i % 13 == 0)
    assert want[("toxicity", "toxicity", "stream", "deny", "enforce")] == (2 * 92, 92)
    assert want[("redact-pii", "pii", "input", "redact", "enforce")] == (138, 138)


def test_compaction_keeps_the_mirror_and_the_counts(wb_home: Path) -> None:
    root = wb_home / "logs"
    write(root)
    before = len(_names(root / "requests"))
    compact(root, now=datetime(2024, 6, 1, tzinfo=UTC))
    assert len(_names(root / "requests")) < before
    assert _names(verdict_dir(root)) == _names(root / "requests")
    assert _rolled(root) == expected(RECORDS)


def test_erasure_recomputes_the_rollup(wb_home: Path) -> None:
    root = wb_home / "logs"
    write(root)
    gone = {"v0000", "v0012", "v0030"}
    with LogWriter(root) as writer:
        remove_rows(writer, pc.field("request_id").isin(list(gone)), lambda rec: False)
    kept = [r for r in RECORDS if r["request_id"] not in gone]
    assert _names(verdict_dir(root)) == _names(root / "requests")
    assert _rolled(root) == expected(kept)
    assert _rolled(root) != expected(RECORDS)


def test_repair_backfills_and_rebuild_recomputes(wb_home: Path) -> None:
    root = wb_home / "logs"
    write(root)
    files = sorted(verdict_dir(root).glob("date=*/hour=*/*.parquet"))
    for path in files[:3]:
        path.unlink()
    orphan = files[3].with_name("part-orphan.parquet")
    orphan.write_bytes(files[3].read_bytes())
    with LogWriter(root):  # a writer opening repairs the tree
        pass
    assert _names(verdict_dir(root)) == _names(root / "requests")
    assert _rolled(root) == expected(RECORDS)
    for path in verdict_dir(root).glob("date=*/hour=*/*.parquet"):
        path.unlink()
    assert rebuild_rollups(root) > 0
    assert _names(verdict_dir(root)) == _names(root / "requests")
    assert _rolled(root) == expected(RECORDS)
