"""Which ANN library backs the semantic index: build, query p50, recall@4, persistence.

Candidates: usearch, hnswlib, faiss-cpu (IndexHNSWFlat) and DuckDB ``vss`` (when the
extension can be loaded offline), against exact numpy search. Vectors: ``n`` unit vectors
in 384 dims drawn around 2,000 cluster centres (MiniLM embeddings of real traffic are
clustered too; uniform random vectors are the worst case for any HNSW). Queries are
perturbed copies of stored vectors, so the true nearest neighbours are meaningful.

Run: ``.venv/bin/python -m bench._cache_backends --n 100000 --queries 300``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

DIM = 384
K = 4
M, EF_BUILD, EF_SEARCH = 16, 64, 64


def vectors(n: int, q: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clustered unit vectors and ``q`` queries near some of them."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((2000, DIM)).astype(np.float32)
    data = centres[rng.integers(0, 2000, n)] + 0.6 * rng.standard_normal((n, DIM)).astype(
        np.float32
    )
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[rng.integers(0, n, q)] + 0.03 * rng.standard_normal((q, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return data, queries


def _truth(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    sims = queries @ data.T
    return np.argsort(-sims, axis=1)[:, :K]


def _p50(fn: Callable[[np.ndarray], np.ndarray], queries: np.ndarray) -> tuple[float, list]:
    times, found = [], []
    for row in queries:
        t0 = time.perf_counter()
        found.append(fn(row))
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000), found


def _recall(found: list, truth: np.ndarray) -> float:
    hits = sum(len(set(map(int, f)) & set(map(int, t))) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def run_usearch(data: np.ndarray, tmp: str) -> dict[str, Any]:
    from usearch.index import Index

    idx = Index(ndim=DIM, metric="cos", dtype="f32", connectivity=M, expansion_add=EF_BUILD)
    idx.expansion_search = EF_SEARCH  # type: ignore[misc]
    t0 = time.perf_counter()
    idx.add(np.arange(len(data), dtype=np.uint64), data, threads=1)
    build = time.perf_counter() - t0
    path = os.path.join(tmp, "u.usearch")
    t0 = time.perf_counter()
    idx.save(path)
    back = Index.restore(path)
    assert back is not None
    reload = time.perf_counter() - t0
    back.remove(0)  # deletion supported
    return {
        "index": idx,
        "build_s": build,
        "save_load_s": reload,
        "delete": "yes (remove)",
        "search": lambda v: idx.search(v, K, threads=1).keys,
    }


def run_hnswlib(data: np.ndarray, tmp: str) -> dict[str, Any]:
    import hnswlib

    idx = hnswlib.Index(space="ip", dim=DIM)
    idx.init_index(max_elements=len(data), M=M, ef_construction=EF_BUILD)
    idx.set_num_threads(1)
    t0 = time.perf_counter()
    idx.add_items(data, np.arange(len(data)))
    build = time.perf_counter() - t0
    idx.set_ef(EF_SEARCH)
    path = os.path.join(tmp, "h.bin")
    t0 = time.perf_counter()
    idx.save_index(path)
    back = hnswlib.Index(space="ip", dim=DIM)
    back.load_index(path, max_elements=len(data))
    reload = time.perf_counter() - t0
    back.mark_deleted(0)
    return {
        "build_s": build,
        "save_load_s": reload,
        "delete": "yes (mark_deleted)",
        "search": lambda v: idx.knn_query(v, k=K)[0][0],
    }


def run_faiss(data: np.ndarray, tmp: str) -> dict[str, Any]:
    import faiss

    faiss.omp_set_num_threads(1)
    idx = faiss.IndexHNSWFlat(DIM, M, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = EF_BUILD
    idx.hnsw.efSearch = EF_SEARCH
    t0 = time.perf_counter()
    idx.add(data)
    build = time.perf_counter() - t0
    path = os.path.join(tmp, "f.index")
    t0 = time.perf_counter()
    faiss.write_index(idx, path)
    faiss.read_index(path)
    reload = time.perf_counter() - t0
    try:
        idx.remove_ids(np.array([0], dtype=np.int64))  # type: ignore[arg-type]
        delete = "yes"
    except RuntimeError:
        delete = "no (HNSW has no remove_ids: rebuild to delete)"
    return {
        "build_s": build,
        "save_load_s": reload,
        "delete": delete,
        "search": lambda v: idx.search(v[None, :], K)[1][0],
    }


def run_duckdb(data: np.ndarray, tmp: str) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(os.path.join(tmp, "d.duckdb"))
    try:
        con.execute("LOAD vss")
    except duckdb.Error:
        try:
            con.execute("INSTALL vss; LOAD vss")
        except duckdb.Error as exc:
            raise RuntimeError(f"vss extension unavailable offline: {str(exc)[:80]}") from exc
    con.execute("SET hnsw_enable_experimental_persistence = true")
    con.execute(f"CREATE TABLE v (id INTEGER, e FLOAT[{DIM}])")
    import pyarrow as pa

    tbl = pa.table(
        {
            "id": np.arange(len(data)),
            "e": pa.FixedSizeListArray.from_arrays(pa.array(data.ravel()), DIM),
        }
    )
    con.register("src", tbl)
    t0 = time.perf_counter()
    con.execute("INSERT INTO v SELECT id, e FROM src")
    con.execute("CREATE INDEX hv ON v USING HNSW (e) WITH (metric = 'cosine')")
    build = time.perf_counter() - t0
    sql = f"SELECT id FROM v ORDER BY array_cosine_distance(e, ?::FLOAT[{DIM}]) LIMIT {K}"
    return {
        "build_s": build,
        "save_load_s": float("nan"),
        "delete": "yes; persistence experimental, no WAL recovery for the index",
        "search": lambda v: np.array([r[0] for r in con.execute(sql, [v.tolist()]).fetchall()]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--only", default="numpy,usearch,hnswlib,faiss,duckdb")
    args = ap.parse_args()
    data, queries = vectors(args.n, args.queries)
    truth = _truth(data, queries)
    print(
        f"{args.n:,} clustered unit vectors, {DIM} dims, {args.queries} queries, k={K}, "
        f"M={M} ef_construction={EF_BUILD} ef_search={EF_SEARCH}, 1 thread"
    )
    print(f"{'backend':<9}{'build s':>9}{'p50 ms':>8}{'recall@4':>10}{'save+load s':>12}  delete")
    runners = {
        "usearch": run_usearch,
        "hnswlib": run_hnswlib,
        "faiss": run_faiss,
        "duckdb": run_duckdb,
    }
    for name in args.only.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            if name == "numpy":
                p50, found = _p50(lambda v: np.argpartition(-(data @ v), K)[:K], queries)
                print(
                    f"{'numpy':<9}{0:>9.1f}{p50:>8.2f}{_recall(found, truth):>10.3f}"
                    f"{'-':>12}  exact search (no index)"
                )
                continue
            try:
                r = runners[name](data, tmp)
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"{name:<9} failed: {exc}")
                continue
            p50, found = _p50(r["search"], queries)
            print(
                f"{name:<9}{r['build_s']:>9.1f}{p50:>8.2f}{_recall(found, truth):>10.3f}"
                f"{r['save_load_s']:>12.2f}  {r['delete']}"
            )


if __name__ == "__main__":
    main()
