"""The SQLite entry store: round trip, restart, TTL, LRU bounds per policy, sharing,
stats and clear (a real file under the test's WORKBENCH_HOME)."""

from __future__ import annotations

from pathlib import Path

from workbench.cache._types import Entry
from workbench.cache.store import SqliteEntryStore, default_path


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def entry(
    key: str,
    *,
    workspace: str = "ws",
    policy: str = "p",
    ttl: float = 100.0,
    now: float = 1_000_000.0,
    text: str = "hello",
) -> Entry:
    body = {"id": "chatcmpl-x", "choices": [{"message": {"content": text}}]}
    return Entry(
        key=key,
        workspace=workspace,
        scope="scope:" + key,
        endpoint="/v1/chat/completions",
        model="m",
        model_served="up-m",
        body=body,
        text="user: hi",
        cost_usd=0.25,
        created_at=now,
        expires_at=now + ttl,
        extra={"policy": policy, "provider": "echo"},
    )


async def test_round_trip_counts_hits(wb_home: Path) -> None:
    store = SqliteEntryStore(clock=Clock())
    assert store.path == default_path() == wb_home / "cache" / "entries.db"
    assert await store.get("k") is None
    await store.put(entry("k", text="an answer"))
    got = await store.get("k")
    assert got is not None and got.hits == 1
    assert got.body["choices"][0]["message"]["content"] == "an answer"
    assert (got.workspace, got.model_served, got.cost_usd) == ("ws", "up-m", 0.25)
    assert got.extra == {"policy": "p", "provider": "echo"}
    again = await store.get("k")
    assert again is not None and again.hits == 2
    stats = await store.stats()
    assert stats["entries"] == 1 and stats["hits"] == 2 and stats["bytes"] > 0


async def test_entries_survive_a_restart(wb_home: Path) -> None:
    clock = Clock()
    store = SqliteEntryStore(clock=clock)
    await store.put(entry("k"))
    store.close()
    reopened = SqliteEntryStore(clock=clock)  # a new process would do the same
    got = await reopened.get("k")
    assert got is not None and got.key == "k"
    reopened.close()


async def test_two_replicas_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "entries.db"
    clock = Clock()
    a, b = SqliteEntryStore(path, clock=clock), SqliteEntryStore(path, clock=clock)
    await a.put(entry("k"))
    assert (await b.get("k")) is not None
    assert await b.clear() == 1
    assert await a.get("k") is None


async def test_expired_entries_are_never_served(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteEntryStore(tmp_path / "e.db", clock=clock)
    await store.put(entry("k", ttl=10.0))
    clock.now += 9.0
    assert await store.get("k") is not None
    clock.now += 1.0  # exactly at expires_at: gone
    assert await store.get("k") is None
    stats = await store.stats()
    assert stats["entries"] == 0 and stats["expired"] == 1


async def test_lru_eviction_by_entries(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteEntryStore(tmp_path / "e.db", clock=clock)
    for i in range(3):
        clock.now += 1
        await store.put_evicting(entry(f"k{i}"), max_entries=3)
    clock.now += 1
    assert await store.get("k0") is not None  # k0 is now the most recently used
    clock.now += 1
    gone = await store.put_evicting(entry("k3"), max_entries=3)
    assert gone == ["k1"]
    assert await store.get("k1") is None
    assert all([await store.get(k) for k in ("k0", "k2", "k3")])
    assert (await store.stats())["evictions"] == 1


async def test_lru_eviction_by_bytes(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteEntryStore(tmp_path / "e.db", clock=clock)
    big = "x" * 2000
    for i in range(4):
        clock.now += 1
        await store.put_evicting(entry(f"k{i}", text=big), max_bytes=5000)
    stats = await store.stats()
    assert stats["entries"] == 2 and stats["bytes"] <= 5000
    assert await store.get("k0") is None and await store.get("k3") is not None


async def test_expired_entries_go_first(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteEntryStore(tmp_path / "e.db", clock=clock)
    await store.put_evicting(entry("old", ttl=1.0, now=clock.now), max_entries=2)
    clock.now += 1
    gone = await store.put_evicting(entry("a", now=clock.now), max_entries=2)
    assert gone == ["old"]  # expired entries are purged on a put, before any live one
    clock.now += 1
    assert await store.put_evicting(entry("b", now=clock.now), max_entries=2) == []
    assert await store.get("a") is not None and await store.get("b") is not None


async def test_each_policy_bounds_its_own_entries(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteEntryStore(tmp_path / "e.db", clock=clock)
    for i in range(3):
        clock.now += 1
        await store.put_evicting(entry(f"big{i}", policy="big"), max_entries=10)
    for i in range(3):
        clock.now += 1
        await store.put_evicting(entry(f"small{i}", policy="small"), max_entries=1)
    assert all([await store.get(f"big{i}") for i in range(3)])
    assert [await store.get(f"small{i}") is not None for i in range(3)] == [False, False, True]


async def test_stats_and_clear_by_workspace(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteEntryStore(tmp_path / "e.db", clock=clock)
    await store.put(entry("a1", workspace="a"))
    await store.put(entry("a2", workspace="a"))
    await store.put(entry("b1", workspace="b"))
    await store.get("a1")
    a = await store.stats("a")
    assert (a["entries"], a["hits"], a["workspace"]) == (2, 1, "a")
    assert (await store.stats("b"))["hits"] == 0
    assert await store.clear("a") == 2
    assert (await store.stats())["entries"] == 1
    assert await store.get("b1") is not None
