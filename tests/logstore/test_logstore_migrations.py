"""Numbered migrations: the shipped one, a fake migration 2, and their bookkeeping."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import workbench.logstore.migrations as migrations
from workbench.logstore import LogWriter, Migration, migrate, query
from workbench.logstore.migrations import current_version, discover, rewrite_partitions

Records = Callable[..., list[dict[str, Any]]]  # the make_records fixture


def test_shipped_migrations(tmp_path: Path) -> None:
    shipped = discover()
    assert [m.version for m in shipped] == [1]
    assert shipped[0].name == "m0001_initial"
    assert migrate(tmp_path) == 1
    assert migrate(tmp_path) == 1
    state = json.loads((tmp_path / "_meta" / "schema_version.json").read_text())
    assert state["version"] == 1 and len(state["applied"]) == 1
    meta = json.loads((tmp_path / "_meta" / "schema_v1.json").read_text())
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

    return Migration(2, "m0002_add_region", upgrade)


def test_fake_migration_two_runs_once_and_old_data_reads(
    root: Path, make_records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LogWriter(root) as writer:  # schema version 1 data
        assert writer.schema_version == 1
        writer.append(make_records(6, hours=2))
    calls: list[int] = []
    monkeypatch.setattr(migrations, "MIGRATIONS", [*discover(), _add_region(calls)])

    with LogWriter(root) as writer:  # migration 2 runs on open
        assert writer.schema_version == 2
        writer.append(make_records(3, prefix="new"))
    with LogWriter(root):
        pass
    assert calls == [1]  # exactly once
    assert current_version(root) == 2
    df = query("SELECT request_id, region, prompt_tokens FROM requests ORDER BY request_id", root)
    assert df.height == 9
    rows = {r["request_id"]: r for r in df.to_dicts()}
    assert rows["r0"]["region"] == "eu" and rows["r0"]["prompt_tokens"] == 10
    assert rows["new0"]["region"] is None  # written after the migration, by v1 code
    state = json.loads((root / "_meta" / "schema_version.json").read_text())
    assert [a["version"] for a in state["applied"]] == [1, 2]


def test_failed_migration_is_retried(tmp_path: Path) -> None:
    attempts: list[int] = []

    def flaky(root: Path) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("crash mid-migration")

    steps = [*discover(), Migration(2, "m0002_flaky", flaky)]
    with pytest.raises(OSError):
        migrate(tmp_path, steps)
    assert current_version(tmp_path) == 1  # step 1 recorded, step 2 not
    assert migrate(tmp_path, steps) == 2
    assert len(attempts) == 2


def test_newer_lake_is_refused(tmp_path: Path) -> None:
    (tmp_path / "_meta").mkdir()
    (tmp_path / "_meta" / "schema_version.json").write_text('{"version": 5, "applied": []}')
    with pytest.raises(RuntimeError, match="newer"):
        migrate(tmp_path)


def test_versions_must_be_contiguous(tmp_path: Path) -> None:
    gap = [*discover(), Migration(3, "m0003_gap", lambda root: None)]
    with pytest.raises(RuntimeError, match="1..N"):
        migrate(tmp_path, gap)
