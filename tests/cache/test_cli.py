"""``workbench cache stats|clear`` on the node's store file (a real SQLite file)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from click.testing import CliRunner

from tests.cache.test_store import entry
from workbench.cache.store import SqliteEntryStore
from workbench.cli import main


def _fill() -> None:
    async def fill() -> None:
        store = SqliteEntryStore()
        now = time.time()
        await store.put(entry("a1", workspace="a", text="x" * 100, now=now, ttl=3600.0))
        await store.put(entry("a2", workspace="a", now=now, ttl=3600.0))
        await store.put(entry("b1", workspace="b", now=now, ttl=3600.0))
        await store.get("a1")
        await store.get("a1")
        store.close()

    asyncio.run(fill())


def _stats(runner: CliRunner, *args: str) -> dict[str, object]:
    res = runner.invoke(main, ["cache", "stats", "--json", *args])
    assert res.exit_code == 0, res.output
    out: dict[str, object] = json.loads(res.output)
    return out


def test_stats_before_any_entry(wb_home: Path) -> None:
    runner = CliRunner()
    assert _stats(runner)["entries"] == 0
    assert not (wb_home / "cache" / "entries.db").exists()  # reading creates nothing
    res = runner.invoke(main, ["cache", "clear"])
    assert res.exit_code == 0 and "removed 0 entries" in res.output


def test_stats_and_clear(wb_home: Path) -> None:
    _fill()
    runner = CliRunner()
    every = _stats(runner)
    assert (every["entries"], every["hits"]) == (3, 2)
    assert every["path"] == str(wb_home / "cache" / "entries.db")
    a = _stats(runner, "--workspace", "a")
    b = _stats(runner, "-w", "b")
    assert (a["entries"], a["hits"], b["entries"], b["hits"]) == (2, 2, 1, 0)
    assert int(str(a["bytes"])) > int(str(b["bytes"])) > 0
    table = runner.invoke(main, ["cache", "stats"])
    assert table.exit_code == 0 and "ENTRIES" in table.output and "(all)" in table.output
    res = runner.invoke(main, ["cache", "clear", "--workspace", "a"])
    assert res.exit_code == 0 and "removed 2 entries of workspace a" in res.output
    assert _stats(runner)["entries"] == 1
    res = runner.invoke(main, ["cache", "clear"])
    assert "removed 1 entries" in res.output
    assert _stats(runner)["entries"] == 0
