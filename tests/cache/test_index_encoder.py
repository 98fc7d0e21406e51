"""One graph per semantic index: rows record the graph that made their vector; an index
opened with another graph re-embeds them (or refuses), never mixes them; the cache's
precision setting and graph ids."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cache.test_semantic import NOW, Clock, _FakeEmbedder, _Handle, vec
from workbench.cache._index_encoder import (
    DEFAULT_PRECISION,
    PRECISION_ENV,
    effective_precision,
    graph_id,
    index_precision,
)
from workbench.cache._index_journal import JOURNAL
from workbench.cache.semantic import EncoderMismatchError, LocalSemanticIndex, default_directory

FP32, INT8 = "g:fp32", "g:int8v1"


def other_graph(texts: list[str]) -> np.ndarray:
    """Another graph's vectors: a fixed vector per text, different from ``vec(text)``."""
    return np.stack([vec(f"{t}/int8") for t in texts])


def fp32_graph(texts: list[str]) -> np.ndarray:
    return np.stack([vec(t) for t in texts])


def open_index(encoder: str, embed: object = fp32_graph, **kw: object) -> LocalSemanticIndex:
    return LocalSemanticIndex(embed, encoder=encoder, clock=Clock(), **kw)  # type: ignore[arg-type]


def _fill(encoder: str) -> None:
    idx = open_index(encoder)
    idx.add_vector("s", "in the snapshot", "k1", 4e9, vec("in the snapshot"))
    idx.save()
    idx.add_vector("s", "in the journal", "k2", 4e9, vec("in the journal"))
    idx.add_vector("s", "removed", "k3", 4e9, vec("removed"))


async def test_rows_of_another_graph_are_never_searched_and_are_reembedded(
    wb_home: Path,
) -> None:
    _fill(FP32)  # k1 in the snapshot, k2 and k3 in the journal (crash: no close)
    idx = open_index(INT8, other_graph)
    assert len(idx) == 0 and sorted(idx.pending) == ["k1", "k2", "k3"]
    assert await idx.lookup("s", "in the journal") == []  # fp32 rows: not searched
    idx.remove_keys(["k3"])  # removed while pending: gone for good
    idx.save()  # a snapshot keeps the pending rows with their own graph
    idx = open_index(INT8, other_graph)
    assert sorted(idx.pending) == ["k1", "k2"] and idx.stats()["pending_reembed"] == 2
    assert await idx.reembed_pending(batch=1) == 2
    assert not idx.pending and len(idx) == 2
    got = await idx.lookup("s", "in the journal", k=1)  # now the int8 graph's vector
    assert got[0].key == "k2" and got[0].similarity == pytest.approx(1.0, abs=1e-5)
    lines = [json.loads(x) for x in (default_directory() / JOURNAL).read_text().splitlines()]
    assert {r["x"] for r in lines if r["op"] == "add"} == {INT8}
    again = open_index(INT8, other_graph)  # restart: all rows are this graph's
    assert len(again) == 2 and not again.pending
    assert again.stats()["encoder"] == INT8


async def test_a_row_replaced_while_pending_keeps_the_new_vector(wb_home: Path) -> None:
    _fill(FP32)
    idx = open_index(INT8, other_graph)
    await idx.add("s", "in the journal, again", "k2", NOW + 100)  # the store re-added k2
    assert "k2" not in idx.pending
    await idx.reembed_pending()
    got = await idx.lookup("s", "in the journal, again", k=1)
    assert got[0].key == "k2" and got[0].text == "in the journal, again"


def test_refuse_mode_raises_on_another_graph_or_unnamed_rows(wb_home: Path) -> None:
    _fill(FP32)
    with pytest.raises(EncoderMismatchError, match="g:fp32"):
        open_index(INT8, on_mismatch="refuse")
    assert len(open_index(FP32, on_mismatch="refuse")) == 3  # the same graph opens
    legacy = open_index("")  # before ids were recorded: rows are unnamed
    legacy.clear()
    legacy.add_vector("s", "old", "k9", 4e9, vec("old"))
    with pytest.raises(EncoderMismatchError, match="unnamed"):
        open_index(FP32, on_mismatch="refuse")
    with pytest.raises(ValueError):
        open_index(FP32, on_mismatch="mix")


async def test_cache_index_replica_reembeds_in_the_background(wb_home: Path) -> None:
    from serve.cache_index import CacheIndex

    _fill("another:graph")
    cls = CacheIndex.func_or_class  # type: ignore[attr-defined]
    replica = cls(_Handle(_FakeEmbedder()), str(wb_home))  # the Embedder handle: fp32
    assert (await replica.stats())["pending_reembed"] == 3
    await replica.lookup("s", "in the snapshot")  # in use: the re-embedding starts
    assert replica._reembed is not None and await replica._reembed == 3
    got = await replica.lookup("s", "in the snapshot", 1)
    assert got[0].key == "k1" and got[0].similarity == pytest.approx(1.0, abs=1e-5)


def test_precision_setting_and_graph_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRECISION_ENV, raising=False)
    assert index_precision() == DEFAULT_PRECISION and index_precision("FP32") == "fp32"
    monkeypatch.setenv(PRECISION_ENV, "fp32")
    assert index_precision() == "fp32"
    monkeypatch.setenv(PRECISION_ENV, "int4")
    with pytest.raises(ValueError, match=PRECISION_ENV):
        index_precision()
    minilm = {"name": "e", "provider": "embeddings"}
    assert graph_id(minilm, "int8").startswith("embeddings:all-MiniLM-L6-v2@")
    assert graph_id(minilm, "int8").endswith(":int8v1")
    assert graph_id({**minilm, "model": "minilm"}, "fp32") == graph_id(minilm, "fp32")
    assert graph_id(minilm, "fp32").endswith(":fp32")
    other = {"name": "x", "provider": "someone-elses"}
    assert effective_precision(other, "int8") == "fp32"
    assert graph_id(other, "int8").endswith(":fp32")
