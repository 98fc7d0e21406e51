"""serve/cache_lane.py and HandleSemanticIndex's use of it, without Ray: a real loopback
socket between a client and a server in this process, over the CacheIndex replica class."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from serve.cache_lane import LaneClient, LaneError, LaneServer
from workbench.cache._types import Candidate


async def _found(scope: str, text: str, k: int) -> list[Candidate]:
    if text == "boom":
        raise ValueError("encoder down")
    if text == "slow":
        await asyncio.sleep(0.3)
    return [Candidate(f"{scope}:{text}:{i}", 1.0 - i / 10, f"t{i}") for i in range(k)]


async def test_lookups_round_trip_multiplexed_on_one_connection() -> None:
    server = LaneServer(_found)
    port = await server.start()
    client = LaneClient(port, server.token)
    slow = asyncio.ensure_future(client.lookup("s", "slow", 1))
    fast = await client.lookup("s", "fast", 2)  # answered while "slow" is in flight
    assert fast == [Candidate("s:fast:0", 1.0, "t0"), Candidate("s:fast:1", 0.9, "t1")]
    assert (await slow)[0].key == "s:slow:0"
    texts = [f"q{i}" for i in range(20)]
    got = await asyncio.gather(*(client.lookup("sc", t, 1) for t in texts))
    assert [g[0].key for g in got] == [f"sc:{t}:0" for t in texts]  # each its own answer
    client.close()
    server.close()


async def test_a_failed_lookup_is_an_error_not_a_lane_failure() -> None:
    server = LaneServer(_found)
    client = LaneClient(await server.start(), server.token)
    with pytest.raises(RuntimeError, match="ValueError") as info:
        await client.lookup("s", "boom", 1)
    assert not isinstance(info.value, LaneError) and "encoder down" not in str(info.value)
    assert (await client.lookup("s", "after", 1))[0].key == "s:after:0"  # still open
    client.close()
    server.close()


async def test_a_wrong_token_is_refused() -> None:
    server = LaneServer(_found)
    client = LaneClient(await server.start(), "not-the-token", timeout_s=2.0)
    with pytest.raises(LaneError):
        await client.lookup("s", "x", 1)
    assert client.broken
    server.close()


async def test_the_server_listens_on_loopback_only() -> None:
    server = LaneServer(_found)
    await server.start()
    assert server._server is not None
    assert {s.getsockname()[0] for s in server._server.sockets} == {"127.0.0.1"}
    server.close()


async def test_a_vanished_server_fails_waiting_lookups_with_lane_error() -> None:
    server = LaneServer(_found)
    client = LaneClient(await server.start(), server.token)
    await client.lookup("s", "warm", 1)
    assert client._writer is not None
    pending = asyncio.ensure_future(client.lookup("s", "slow", 1))
    await asyncio.sleep(0.05)
    client._writer.transport.abort()  # the connection drops mid-request
    with pytest.raises(LaneError):
        await pending
    with pytest.raises(LaneError):
        await client.lookup("s", "next", 1)  # broken: the caller must ask for a new lane
    server.close()


class _Method:
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def remote(self, *args: Any) -> Any:
        return self.fn(*args)


class _Handle:
    """``handle.method.remote(...)`` as a Serve DeploymentHandle gives; counts calls."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> _Method:
        self.calls.append(name)
        return _Method(getattr(self.target, name))


class _Embedder:
    async def embed(self, texts: list[str]) -> Any:
        import numpy as np

        from workbench.providers import EmbeddingResult

        vecs = []
        for t in texts:
            v = np.zeros(384, dtype=np.float32)
            v[sum(t.encode()) % 384] = 1.0
            vecs.append(v.tolist())
        return EmbeddingResult(vectors=vecs, prompt_tokens=1, model="m")


async def test_the_index_looks_up_over_the_lane_and_falls_back_to_the_handle(
    wb_home: Path,
) -> None:
    from serve.cache_index import CacheIndex, HandleSemanticIndex

    replica = CacheIndex.func_or_class(_Handle(_Embedder()), str(wb_home))  # type: ignore[attr-defined]
    handle = _Handle(replica)
    index = HandleSemanticIndex(handle)
    await index.add("s", "hello there", "k1", 4e9)
    got = await index.lookup("s", "hello there", k=1)
    assert [c.key for c in got] == ["k1"] and index.lane_lookups == 1
    assert "lookup" not in handle.calls and handle.calls.count("lane") == 1
    await index.lookup("s", "hello there", k=1)
    assert index.lane_lookups == 2 and handle.calls.count("lane") == 1  # one lane, kept

    replica._lane.close()  # the replica restarts: its old lane is gone
    assert index._lane is not None and index._lane._writer is not None
    index._lane._writer.transport.abort()
    await asyncio.sleep(0.05)
    got = await index.lookup("s", "hello there", k=1)
    assert [c.key for c in got] == ["k1"] and "lookup" in handle.calls  # over the handle
    assert index.lane_lookups == 2
    handle.calls.clear()
    await index.lookup("s", "hello there", k=1)  # no new lane asked for before the retry
    assert handle.calls == ["lookup"]
    replica.__del__()


async def test_no_lane_to_a_replica_on_another_node(
    wb_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import serve.cache_index as ci

    replica = ci.CacheIndex.func_or_class(_Handle(_Embedder()), str(wb_home))  # type: ignore[attr-defined]
    handle = _Handle(replica)
    index = ci.HandleSemanticIndex(handle)
    await index.add("s", "hello there", "k1", 4e9)
    real = replica.lane

    async def elsewhere() -> dict[str, Any]:
        return {**(await real()), "node": "another-node"}

    monkeypatch.setattr(replica, "lane", elsewhere)
    assert [c.key for c in await index.lookup("s", "hello there", k=1)] == ["k1"]
    assert index.lane_lookups == 0 and "lookup" in handle.calls
    replica.__del__()
