"""The semantic index: exact scope isolation (also on the HNSW path), known neighbours,
TTL and size eviction, remove, persistence across a restart, a torn journal and a
half-written snapshot, the embed adapters, and rebuilding from entries."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench.cache._index_journal import JOURNAL, SNAPSHOT
from workbench.cache._types import Entry
from workbench.cache.semantic import LocalSemanticIndex, default_directory
from workbench.providers import EmbeddingResult

DIM = 384
NOW = 1_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def vec(seed: int | str) -> np.ndarray:
    """A fixed unit vector per seed."""
    s = int(hashlib.sha256(str(seed).encode()).hexdigest()[:8], 16)
    v = np.random.default_rng(s).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def near(v: np.ndarray, eps: float, seed: int) -> np.ndarray:
    w = v + eps * np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return w / np.linalg.norm(w)


class CountingEmbed:
    """Sync embed: a fixed vector per text; counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([vec(t) for t in texts])


def index(wb_home: Path, **kw: object) -> LocalSemanticIndex:
    kw.setdefault("clock", Clock())
    return LocalSemanticIndex(CountingEmbed(), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("ann_min_rows", [4096, 32])  # exact numpy path, HNSW path
def test_scope_isolation_is_exact(wb_home: Path, ann_min_rows: int) -> None:
    idx = index(wb_home, ann_min_rows=ann_min_rows, persist=False)
    for i in range(200):  # the same vectors in both scopes, different keys
        idx.add_vector("scope:A", f"t{i}", f"a{i}", NOW + 100, vec(i))
        idx.add_vector("scope:B", f"t{i}", f"b{i}", NOW + 100, vec(i))
    idx.wait_for_graphs()
    assert idx.stats()["graphs"] == (2 if ann_min_rows == 32 else 0)
    for i in range(0, 200, 7):
        got = idx.lookup_vector("scope:A", vec(i), k=4)
        assert got[0].key == f"a{i}" and got[0].similarity == pytest.approx(1.0, abs=1e-5)
        assert all(c.key.startswith("a") for c in got) and len(got) == 4
        assert [c.similarity for c in got] == sorted((c.similarity for c in got), reverse=True)
    assert idx.lookup_vector("scope:C", vec(3)) == []
    assert idx.stats()["scopes"] == 2 and len(idx) == 400


def test_hnsw_finds_perturbed_neighbours(wb_home: Path) -> None:
    idx = index(wb_home, ann_min_rows=64, persist=False)
    for i in range(1000):
        idx.add_vector("s", f"t{i}", f"k{i}", NOW + 100, vec(i))
    idx.wait_for_graphs()  # the graph was built in the background over the first rows,
    for i in range(1000, 2000):  # then grows with each addition
        idx.add_vector("s", f"t{i}", f"k{i}", NOW + 100, vec(i))
    assert idx.stats()["graphs"] == 1
    found = sum(
        idx.lookup_vector("s", near(vec(i), 0.02, i), k=1)[0].key == f"k{i}"
        for i in range(0, 2000, 20)
    )
    assert found >= 98  # of 100; exact search would find all 100
    idx.remove_keys([f"k{i}" for i in range(600)])  # compaction: rebuilt in the background
    idx.wait_for_graphs()
    assert idx.stats()["graphs"] == 1 and len(idx) == 1400
    assert idx.lookup_vector("s", vec(5), k=1)[0].key != "k5"
    assert idx.lookup_vector("s", vec(1500), k=1)[0].key == "k1500"


def test_ttl_and_size_eviction_and_remove(wb_home: Path) -> None:
    clock = Clock()
    idx = LocalSemanticIndex(CountingEmbed(), persist=False, max_entries=10, clock=clock)
    for i in range(15):
        idx.add_vector("s", f"t{i}", f"k{i}", NOW + (10 if i == 14 else 100), vec(i))
    assert len(idx) == 10 and idx.evicted == 5
    assert "k4" not in idx and "k5" in idx  # the oldest additions went
    assert idx.lookup_vector("s", vec(2)) == [] or idx.lookup_vector("s", vec(2))[0].key != "k2"
    assert idx.lookup_vector("s", vec(14), k=1)[0].key == "k14"
    clock.now = NOW + 50  # k14 expired: never returned, then purged
    assert all(c.key != "k14" for c in idx.lookup_vector("s", vec(14), k=10))
    assert idx.purge_expired() == 1 and len(idx) == 9
    assert idx.remove_keys(["k5", "k6", "nope"]) == 2 and len(idx) == 7
    assert all(c.key not in {"k5", "k6"} for c in idx.lookup_vector("s", vec(5), k=10))


def test_same_key_moves_scope(wb_home: Path) -> None:
    idx = index(wb_home, persist=False)
    idx.add_vector("s1", "t", "k", NOW + 100, vec(1))
    idx.add_vector("s2", "t", "k", NOW + 100, vec(1))
    assert idx.lookup_vector("s1", vec(1)) == []
    assert [c.key for c in idx.lookup_vector("s2", vec(1))] == ["k"]


def test_restart_keeps_entries_journal_then_snapshot(wb_home: Path) -> None:
    idx = index(wb_home)
    for i in range(50):
        idx.add_vector(f"s{i % 3}", f"text {i}", f"k{i}", NOW + 100, vec(i))
    idx.remove_keys(["k0"])
    directory = default_directory()
    assert (directory / JOURNAL).stat().st_size > 0 and not (directory / SNAPSHOT).exists()
    again = index(wb_home)  # no close: as after a crash, from the journal alone
    assert len(again) == 49 and "k0" not in again
    got = again.lookup_vector("s1", vec(1), k=1)[0]
    assert (got.key, got.text) == ("k1", "text 1")
    again.close()
    assert (directory / SNAPSHOT).exists() and (directory / JOURNAL).stat().st_size == 0
    third = index(wb_home)
    assert len(third) == 49 and third.lookup_vector("s2", vec(2), k=1)[0].key == "k2"


def test_torn_journal_and_half_written_snapshot(wb_home: Path) -> None:
    idx = index(wb_home)
    for i in range(10):
        idx.add_vector("s", f"t{i}", f"k{i}", NOW + 100, vec(i))
    idx.save()
    idx.add_vector("s", "t10", "k10", NOW + 100, vec(10))
    directory = default_directory()
    with (directory / JOURNAL).open("a") as fh:
        fh.write('{"op":"add","k":"k11","s":"s","t":"t11","e":1e9,"v":"AAAA')  # crash
    (directory / (SNAPSHOT + ".tmp")).write_bytes(b"half a snapshot")  # crash mid-save
    again = index(wb_home)
    assert len(again) == 11 and "k10" in again and "k11" not in again
    again.add_vector("s", "t12", "k12", NOW + 100, vec(12))  # appends after the torn line
    third = index(wb_home)
    assert len(third) == 12 and "k12" in third


def test_expired_rows_are_not_restored(wb_home: Path) -> None:
    idx = index(wb_home)
    idx.add_vector("s", "a", "old", NOW + 5, vec(1))
    idx.add_vector("s", "b", "new", NOW + 500, vec(2))
    later = index(wb_home, clock=Clock(NOW + 100))
    assert "old" not in later and "new" in later


async def test_async_protocol_and_embed_adapters(wb_home: Path) -> None:
    embed = CountingEmbed()
    idx = LocalSemanticIndex(embed, persist=False, clock=Clock())
    assert await idx.lookup("s", "hello") == [] and embed.calls == 0  # empty scope
    assert await idx.lookup("s", "hello") == []
    await idx.add("s", "hello", "k1", NOW + 10)
    await idx.add("s", "world", "k2", NOW + 10)
    calls = embed.calls
    got = await idx.lookup("s", "hello", k=2)
    assert got[0].key == "k1" and got[0].text == "hello" and embed.calls == calls  # memo
    await idx.remove(["k1"])
    assert [c.key for c in await idx.lookup("s", "hello")] == ["k2"]

    async def async_embed(texts: list[str]) -> EmbeddingResult:
        return EmbeddingResult(
            vectors=[(2 * vec(t)).tolist() for t in texts], prompt_tokens=1, model="m"
        )

    idx2 = LocalSemanticIndex(async_embed, persist=False, clock=Clock())
    await idx2.add("s", "x", "kx", NOW + 10)
    got2 = await idx2.lookup("s", "x")
    assert got2[0].key == "kx" and got2[0].similarity == pytest.approx(1.0, abs=1e-5)


async def test_rebuild_from_store_entries(wb_home: Path) -> None:
    def entry(key: str, text: str | None, expires: float) -> Entry:
        return Entry(
            key=key,
            workspace="w",
            scope="sc",
            endpoint="/v1/chat/completions",
            model="m",
            model_served=None,
            body={},
            text=text,
            expires_at=expires,
        )

    idx = LocalSemanticIndex(CountingEmbed(), persist=False, clock=Clock())
    n = await idx.rebuild(
        [entry("a", "one", NOW + 9), entry("b", None, NOW + 9), entry("c", "three", NOW - 1)]
    )
    assert n == 1 and [c.key for c in await idx.lookup("sc", "one")] == ["a"]


def test_add_vectors_bulk_matches_single_adds(wb_home: Path) -> None:
    idx = index(wb_home, persist=False, ann_min_rows=64)
    idx.add_vector("other", "t", "k3", NOW + 100, vec(3))  # moves to "s" with the bulk
    keys = [f"k{i}" for i in range(300)]
    idx.add_vectors(
        "s", keys, keys, np.full(300, NOW + 100), np.stack([vec(i) for i in range(300)])
    )
    idx.wait_for_graphs()
    assert len(idx) == 300 and idx.stats()["scopes"] == 1 and idx.stats()["graphs"] == 1
    assert idx.lookup_vector("s", vec(7), k=1)[0].key == "k7"
    assert idx.lookup_vector("other", vec(3)) == []


class _Method:
    """``handle.method.remote(...)`` -> an awaitable, as a Serve DeploymentHandle gives."""

    def __init__(self, fn: object) -> None:
        self.fn = fn

    def remote(self, *args: object) -> object:
        return self.fn(*args)  # type: ignore[operator]


class _Handle:
    def __init__(self, target: object) -> None:
        self.target = target

    def __getattr__(self, name: str) -> _Method:
        return _Method(getattr(self.target, name))


class _FakeEmbedder:
    async def embed(self, texts: list[str]) -> EmbeddingResult:
        return EmbeddingResult(vectors=[vec(t).tolist() for t in texts], prompt_tokens=1, model="m")


async def test_cache_index_deployment_over_handles(wb_home: Path) -> None:
    """serve/cache_index.py without Ray: the deployment class over a fake Embedder handle,
    reached through HandleSemanticIndex over a fake handle; a restart keeps entries."""
    from serve.cache_index import CacheIndex, HandleSemanticIndex

    cls = CacheIndex.func_or_class  # type: ignore[attr-defined]
    replica = cls(_Handle(_FakeEmbedder()), str(wb_home))
    index = HandleSemanticIndex(_Handle(replica))
    await index.add("s", "hello there", "k1", 4e9)
    await index.add("s", "other text", "k2", 4e9)
    got = await index.lookup("s", "hello there", k=1)
    assert [(c.key, c.text) for c in got] == [("k1", "hello there")]
    assert got[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert await index.lookup("elsewhere", "hello there") == []
    await index.remove(["k1"])
    assert [c.key for c in await index.lookup("s", "hello there")] == ["k2"]
    assert (await index.stats())["entries"] == 1
    replica.__del__()  # Serve's graceful shutdown: snapshot
    again = cls(_Handle(_FakeEmbedder()), str(wb_home))
    assert (await again.stats())["entries"] == 1


class BatchEmbed:
    """A sync embed that records each call's texts (the index runs it in a thread)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if self.fail:
            raise RuntimeError("encoder down")
        return np.stack([vec(t) for t in texts])


async def test_concurrent_lookups_share_one_embedding_call() -> None:
    import asyncio

    embed = BatchEmbed()
    idx = LocalSemanticIndex(embed, persist=False, clock=Clock())
    idx.add_vector("s", "stored", "k", NOW + 100, vec("q3"))
    texts = [f"q{i}" for i in range(8)] + ["q0"]  # one text asked twice
    found = await asyncio.gather(*(idx.lookup("s", t) for t in texts))
    # asked together: one call, each distinct text once
    assert len(embed.calls) == 1 and sorted(embed.calls[0]) == [f"q{i}" for i in range(8)]
    assert found[3][0].key == "k" and found[3][0].similarity == pytest.approx(1.0, abs=1e-5)
    for t in texts:  # each vector is its own text's, whatever batch it came in
        assert np.allclose(await idx.vector(t), vec(t), atol=1e-6)
    assert len(embed.calls) == 1  # memoised since
    await asyncio.gather(idx.lookup("s", "late"), asyncio.sleep(0))
    assert embed.calls[-1] == ["late"]  # a lone lookup is not held back


async def test_coalescing_off_embeds_each_lookup_alone() -> None:
    import asyncio

    embed = BatchEmbed()
    idx = LocalSemanticIndex(embed, persist=False, clock=Clock(), coalesce=False)
    idx.add_vector("s", "stored", "k", NOW + 100, vec("x"))
    await asyncio.gather(*(idx.lookup("s", f"t{i}") for i in range(5)))
    assert sorted(map(tuple, embed.calls)) == [(f"t{i}",) for i in range(5)]


async def test_a_failed_coalesced_embedding_reaches_every_waiter() -> None:
    import asyncio

    idx = LocalSemanticIndex(BatchEmbed(fail=True), persist=False, clock=Clock())
    idx.add_vector("s", "stored", "k", NOW + 100, vec("x"))
    results = await asyncio.gather(
        *(idx.lookup("s", f"t{i}") for i in range(4)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    idx._embed = BatchEmbed()  # the encoder is back: the next lookup works
    assert (await idx.lookup("s", "x"))[0].key == "k"


def test_coalescing_works_across_event_loops() -> None:
    import asyncio

    idx = LocalSemanticIndex(BatchEmbed(), persist=False, clock=Clock())
    for i in range(2):  # a notebook's loop, then another one
        assert np.allclose(asyncio.run(idx.vector(f"loop{i}")), vec(f"loop{i}"), atol=1e-6)


async def test_cache_index_embeds_with_its_own_minilm(wb_home: Path) -> None:
    """Given the MiniLM target, the replica embeds in-process (no Embedder hop) with the
    engine the Embedder deployment builds (same factory); loaded on first use only."""
    from serve.cache_index import CacheIndex

    target = {"name": "text-embedding-minilm", "provider": "embeddings"}
    cls = CacheIndex.func_or_class  # type: ignore[attr-defined]
    replica = cls(None, str(wb_home), target=target, precision="int8")
    assert replica._encode is None
    await replica.add("s", "How do I reset my password?", "k1", 4e9)
    got = await replica.lookup("s", "How can I reset my password?", 1)
    assert got[0].key == "k1" and 0.8 < got[0].similarity < 1.0
    v = await replica.index.vector("How can I reset my password?")  # MiniLM: unit, 384-d
    assert v.shape == (384,) and abs(float(np.linalg.norm(v)) - 1.0) < 1e-4
    enc: Any = replica._encode  # built on first use
    assert enc.precision == "int8"  # its own int8 graph; /v1/embeddings stays fp32
    assert replica.index.encoder.endswith(":int8v1")
    texts = ["How can I reset my password?", "A much longer text that shares the pass, padded."]
    alone, batched = enc(texts[:1])[0], enc(texts)[0]
    assert np.array_equal(alone, batched)  # one text per pass: its vector is its own
    fp32 = enc.engine.encode(texts[:1])[0]  # the Embedder's (fp32) vector
    assert 0.98 < float(alone @ fp32) < 0.99999
    with pytest.raises(ValueError):
        cls(None, str(wb_home))
