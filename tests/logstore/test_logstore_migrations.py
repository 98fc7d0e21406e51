"""Numbered migrations: the shipped ones, a fake migration 3, and their bookkeeping."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import workbench.logstore.migrations as migrations
from workbench.logstore import LogWriter, Migration, migrate, query
from workbench.logstore.migrations import current_version, discover, rewrite_partitions
from workbench.logstore.schema import V2_FIELD_NAMES, V3_FIELD_NAMES, schema

Records = Callable[..., list[dict[str, Any]]]  # the make_records fixture


def test_shipped_migrations(tmp_path: Path) -> None:
    shipped = discover()
    assert [m.version for m in shipped] == [1, 2, 3]
    names = ["m0001_initial", "m0002_replay_fields", "m0003_cache_fields"]
    assert [m.name for m in shipped] == names
    assert migrate(tmp_path) == 3
    assert migrate(tmp_path) == 3
    state = json.loads((tmp_path / "_meta" / "schema_version.json").read_text())
    assert state["version"] == 3 and len(state["applied"]) == 3
    meta = json.loads((tmp_path / "_meta" / "schema_v1.json").read_text())
    assert {f["name"] for f in meta["fields"]}.isdisjoint(V2_FIELD_NAMES + V3_FIELD_NAMES)
    assert len(meta["fields"]) == 54
    added = json.loads((tmp_path / "_meta" / "schema_v2.json").read_text())["added"]
    assert [f["name"] for f in added] == list(V2_FIELD_NAMES)
    added3 = json.loads((tmp_path / "_meta" / "schema_v3.json").read_text())["added"]
    assert [f["name"] for f in added3] == list(V3_FIELD_NAMES)
    assert meta["fields"][0] == {
        "name": "request_id",
        "type": "string",
        "nullable": False,
        "doc": meta["fields"][0]["doc"],
    }
    assert (tmp_path / "requests").is_dir() and (tmp_path / "spool").is_dir()


def _add_region(calls: list[int]) -> Migration:
    def upgrade(root: Path) -> None:
        calls.append(1)

        def add(table: pa.Table) -> pa.Table | None:
            if "region" in table.column_names:
                return None  # idempotent
            return table.append_column("region", pa.array(["eu"] * table.num_rows))

        rewrite_partitions(root, add)

    return Migration(4, "m0004_add_region", upgrade)


def test_fake_migration_two_runs_once_and_old_data_reads(
    root: Path, make_records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LogWriter(root) as writer:  # schema version 3 data
        assert writer.schema_version == 3
        writer.append(make_records(6, hours=2))
    calls: list[int] = []
    monkeypatch.setattr(migrations, "MIGRATIONS", [*discover(), _add_region(calls)])

    with LogWriter(root) as writer:  # migration 4 runs on open
        assert writer.schema_version == 4
        writer.append(make_records(3, prefix="new"))
    with LogWriter(root):
        pass
    assert calls == [1]  # exactly once
    assert current_version(root) == 4
    df = query("SELECT request_id, region, prompt_tokens FROM requests ORDER BY request_id", root)
    assert df.height == 9
    rows = {r["request_id"]: r for r in df.to_dicts()}
    assert rows["r0"]["region"] == "eu" and rows["r0"]["prompt_tokens"] == 10
    assert rows["new0"]["region"] is None  # written after the migration, by older code
    state = json.loads((root / "_meta" / "schema_version.json").read_text())
    assert [a["version"] for a in state["applied"]] == [1, 2, 3, 4]


def test_v1_files_get_the_replay_columns(root: Path) -> None:
    """A lake written under v1 (files without the replay fields) is upgraded by m0002:
    the columns appear as nulls, every file has the same columns, polars scans it."""
    migrate(root, discover()[:1])
    later = set(V2_FIELD_NAMES) | set(V3_FIELD_NAMES)
    v1 = pa.schema([f for f in schema() if f.name not in later])
    part = root / "requests" / "date=2026-01-01" / "hour=00"
    part.mkdir(parents=True)
    rows = [{"request_id": "old", "received_at": datetime(2026, 1, 1, tzinfo=UTC)}]
    pq.write_table(pa.Table.from_pylist(rows, schema=v1), part / "part-v1.parquet")
    assert migrate(root) == 3
    assert migrate(root) == 3  # idempotent
    names = pq.read_schema(part / "part-v1.parquet").names
    assert later <= set(names)
    with LogWriter(root) as writer:
        writer.append(
            [
                {
                    "request_id": "new",
                    "received_at": datetime(2026, 1, 1, tzinfo=UTC),
                    "request_original": "{}",
                    "request_masked": False,
                }
            ]
        )
    frame = pl.scan_parquet(str(root / "requests" / "**" / "*.parquet")).collect()
    got = {r["request_id"]: r for r in frame.to_dicts()}
    assert got["old"]["request_original"] is None and got["new"]["request_original"] == "{}"


def test_failed_migration_is_retried(tmp_path: Path) -> None:
    attempts: list[int] = []

    def flaky(root: Path) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("crash mid-migration")

    steps = [*discover(), Migration(4, "m0004_flaky", flaky)]
    with pytest.raises(OSError):
        migrate(tmp_path, steps)
    assert current_version(tmp_path) == 3  # steps 1-3 recorded, step 4 not
    assert migrate(tmp_path, steps) == 4
    assert len(attempts) == 2


def test_newer_lake_is_refused(tmp_path: Path) -> None:
    (tmp_path / "_meta").mkdir()
    (tmp_path / "_meta" / "schema_version.json").write_text('{"version": 5, "applied": []}')
    with pytest.raises(RuntimeError, match="newer"):
        migrate(tmp_path)


def test_versions_must_be_contiguous(tmp_path: Path) -> None:
    gap = [*discover(), Migration(5, "m0005_gap", lambda root: None)]
    with pytest.raises(RuntimeError, match="1..N"):
        migrate(tmp_path, gap)
