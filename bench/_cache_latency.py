"""Cache latency legs: index lookups at 100k entries, and miss vs exact hit vs semantic hit
(plain and streamed) through the in-process pipeline (the production ``build_pipeline`` +
FastAPI app behind uvicorn on loopback) in front of the 200 ms fake upstream
(``bench/fake_upstream.py``). :func:`drive` (the openai client) is shared with the gateway
leg (``bench/_cache_gateway.py``), so both legs send the same requests the same way.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench._cache_backends import vectors as clustered
from workbench.cache.semantic import LocalSemanticIndex


def _pct(xs: list[float]) -> tuple[float, float]:
    return float(np.percentile(xs, 50)), float(np.percentile(xs, 95))


def index_latency(real: np.ndarray, queries: np.ndarray, n: int, scopes: int = 1) -> dict[str, Any]:
    """``n`` entries (``real`` vectors + clustered filler) over ``scopes`` scopes; search
    p50/p95 in ms for ``queries`` (near ``real``) and how long the graphs took."""
    filler, _ = clustered(max(n - len(real), 0), 1, seed=1)
    vecs = np.concatenate([real, filler])[:n]
    index = LocalSemanticIndex(lambda t: np.zeros((len(t), 384)), persist=False)
    per = n // scopes
    t0 = time.perf_counter()
    for s in range(scopes):
        part = vecs[s * per : (s + 1) * per]
        keys = [f"{s}-{i}" for i in range(len(part))]
        index.add_vectors(f"scope:{s}", keys, keys, np.full(len(part), 4e9), part)
    index.wait_for_graphs()
    build = time.perf_counter() - t0
    times = []
    for i, q in enumerate(queries):
        t1 = time.perf_counter()
        index.lookup_vector(f"scope:{i % scopes}" if scopes > 1 else "scope:0", q, 4)
        times.append((time.perf_counter() - t1) * 1000)
    p50, p95 = _pct(times)
    return {"entries": len(index), "scopes": scopes, "graphs": index.stats()["graphs"],
            "build_s": build, "p50_ms": p50, "p95_ms": p95, "index": index}  # fmt: skip


async def embed_lookup_latency(
    index: LocalSemanticIndex, encode: Callable[[list[str]], np.ndarray], texts: list[str]
) -> tuple[float, float]:
    """p50/p95 ms of a full lookup (MiniLM embedding of a new text + search)."""
    index._embed = encode  # the index was filled with precomputed vectors
    times = []
    for text in texts:
        t0 = time.perf_counter()
        await index.lookup("scope:0", text)
        times.append((time.perf_counter() - t0) * 1000)
    return _pct(times)


def _policy() -> Any:
    from workbench.guardrails.engine import GuardrailEngine
    from workbench.policy.model import Policy, policy_hash

    policy = Policy.model_validate(
        {"id": "bench", "cache": {"enabled": True, "semantic": {"enabled": True}}}
    )
    engine = GuardrailEngine(policy, policy_hash=policy_hash(policy), version_id="bench-v1")
    return SimpleNamespace(for_request=lambda ws, model: engine, engines={"bench-v1": engine})


class _Auth:
    async def averify(self, token: str) -> Any:
        return SimpleNamespace(key_id=token, workspace="bench")

    def verify(self, token: str) -> Any:
        return SimpleNamespace(key_id=token, workspace="bench")


KINDS = ("miss", "exact hit", "semantic hit")
WANT = {"miss": "miss", "exact hit": "hit", "semantic hit": "semantic_hit"}
"""The ``x-workbench-cache`` status a request of each kind is meant to be served with."""


@dataclass
class Timed:
    """One request as the client saw it."""

    kind: str  # miss (a new question), exact hit (the same again), semantic hit (paraphrase)
    stream: bool
    status: str  # the x-workbench-cache header
    total_ms: float  # the whole answer (a stream: its last chunk)
    first_ms: float  # a stream's first chunk (the whole answer when not streamed)
    request_id: str
    sent_at: float = 0.0  # wall clock when sent (to match the CacheIndex's timings)

    @property
    def served_as_meant(self) -> bool:
        """Whether the cache answered it with its kind's status."""
        return self.status == WANT.get(self.kind)


@dataclass
class LegRun:
    """A leg's requests, and their records by request id (from the request log)."""

    samples: list[Timed]
    logged: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def log_check(self) -> tuple[int, list[str]]:
        """(requests logged exactly once with their header's status, the others' reasons)."""
        bad = []
        for s in self.samples:
            rows = self.logged.get(s.request_id, [])
            if len(rows) != 1:
                bad.append(f"{s.request_id or '?'}: logged {len(rows)} times")
            elif rows[0].get("cache_status") != s.status:
                bad.append(f"{s.request_id}: header {s.status}, log {rows[0].get('cache_status')}")
        return len(self.samples) - len(bad), bad

    def server_ms(self, s: Timed, first: bool = False) -> float | None:
        """The record's ``latency_ms`` (``ttft_ms`` for ``first``) of one request."""
        rows = self.logged.get(s.request_id) or [{}]
        v = rows[0].get("ttft_ms" if first else "latency_ms")
        return float(v) if isinstance(v, int | float) else None

    def logged_p50(self, label: str) -> float:
        """p50 of the records' own latency for a row's served requests."""
        first = label.endswith("first chunk")
        vals = [
            self.server_ms(s, first)
            for s in self.samples
            if s.served_as_meant
            and row_label(s.kind, s.stream, "first chunk" if first else "whole") == label
        ]
        got = [v for v in vals if v is not None]
        return float(np.percentile(got, 50)) if got else float("nan")


@dataclass
class Row:
    """Latency of the requests of one kind served with that kind's status."""

    sent: int
    served: int
    p50: float
    p95: float


def row_label(kind: str, stream: bool, measure: str) -> str:
    """``miss``, or ``stream semantic hit, first chunk``."""
    return f"stream {kind}, {measure}" if stream else kind


def summarise(samples: list[Timed]) -> dict[str, Row]:
    """Per kind (and per stream measure: first chunk, whole): p50/p95 of the requests
    served with the kind's status only; requests served otherwise are left out."""
    rows: dict[str, Row] = {}
    for stream in (False, True):
        for kind in KINDS:
            mine = [s for s in samples if s.kind == kind and s.stream == stream]
            if not mine:
                continue
            ok = [s for s in mine if s.served_as_meant]
            measures = (("first chunk", "first_ms"), ("whole", "total_ms")) if stream else (
                ("", "total_ms"),)  # fmt: skip
            for measure, attr in measures:
                p50, p95 = _pct([getattr(s, attr) for s in ok] or [float("nan")])
                rows[row_label(kind, stream, measure)] = Row(len(mine), len(ok), p50, p95)
    return rows


def miss_of(label: str) -> str:
    """The row a hit row is divided by (the miss of the same stream measure)."""
    for kind in KINDS[1:]:
        label = label.replace(kind, "miss")
    return label


def _one(client: Any, model: str, kind: str, text: str, stream: bool) -> Timed:
    body: dict[str, Any] = {"model": model, "temperature": 0, "max_tokens": 16,
                            "messages": [{"role": "user", "content": text}]}  # fmt: skip
    create = client.chat.completions.with_raw_response.create
    sent_at = time.time()
    t0 = time.perf_counter()
    if not stream:
        raw = create(**body)
        raw.parse()
        first = total = (time.perf_counter() - t0) * 1000
    else:
        raw = create(**body, stream=True, stream_options={"include_usage": True})
        first = None
        for _chunk in raw.parse():
            first = first if first is not None else (time.perf_counter() - t0) * 1000
        total = (time.perf_counter() - t0) * 1000
    status = raw.headers.get("x-workbench-cache", "?")
    rid = raw.headers.get("x-workbench-request-id", "")
    return Timed(kind, stream, status, total, total if first is None else first, rid, sent_at)


def openai_client(base_url: str, api_key: str | None) -> Any:
    """The real ``openai`` client on loopback (no proxy from the environment, no retry)."""
    import httpx
    import openai

    return openai.OpenAI(base_url=base_url, api_key=api_key or "bench", max_retries=0,
                         timeout=120, http_client=httpx.Client(trust_env=False))  # fmt: skip


def drive(
    client: Any,
    model: str,
    pairs: list[tuple[str, str]],
    stream_pairs: list[tuple[str, str]],
    wait_stored: Callable[[int], None],
) -> list[Timed]:
    """Plain ``pairs``, then streamed ``stream_pairs``: every ``a`` (misses), then, once
    ``wait_stored(requests so far)`` says they are stored, every ``a`` again (exact
    hits), then every ``b`` (semantic hits)."""
    out: list[Timed] = []
    for stream, group in ((False, pairs), (True, stream_pairs)):
        for kind, texts in (("miss", [a for a, _ in group]), ("exact hit", [a for a, _ in group]),
                            ("semantic hit", [b for _, b in group])):  # fmt: skip
            out += [_one(client, model, kind, t, stream) for t in texts]
            if kind == "miss":
                wait_stored(len(out))
    return out


def _wait_records(records: list[dict[str, Any]], n: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(records) < n and time.monotonic() < deadline:
        time.sleep(0.01)


def pipeline_latency(
    encode: Callable[[list[str]], np.ndarray],
    pairs: list[tuple[str, str]],
    stream_pairs: list[tuple[str, str]],
    delay_ms: int = 200,
) -> LegRun:
    """The production pipeline and FastAPI app in-process (no Ray), behind uvicorn on a
    loopback port, driven by the openai client like the gateway leg."""
    import uvicorn

    from bench._proc import LOOPBACK, free_port
    from bench.fake_upstream import FakeUpstreamThread
    from workbench.cache.store import SqliteEntryStore
    from workbench.config.gateway import parse_config
    from workbench.gateway.app import create_app
    from workbench.pipeline import build_pipeline

    with FakeUpstreamThread(delay_ms=delay_ms) as up, tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config({"gateway": {"require_auth": True}, "models": [
            {"name": "main", "provider": "openai-compatible", "base_url": up.base_url,
             "model": "fake-model"}]})  # fmt: skip
        store = SqliteEntryStore(Path(tmp) / "entries.db")
        records: list[dict[str, Any]] = []
        gp = build_pipeline(cfg, submit_record=records.append, auth=_Auth(), policies=_policy(),
                            cache_store=store, semantic_index=LocalSemanticIndex(
                                encode, persist=False))  # fmt: skip
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(gp), host=LOOPBACK, port=port,
                                               log_level="warning", access_log=False))  # fmt: skip
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            while not server.started:
                if not thread.is_alive():
                    raise RuntimeError("the in-process gateway did not start")
                time.sleep(0.02)
            client = openai_client(f"http://{LOOPBACK}:{port}/v1", "k")
            samples = drive(client, "main", pairs, stream_pairs,
                            lambda n: _wait_records(records, n))  # fmt: skip
            _wait_records(records, len(samples))
            logged: dict[str, list[dict[str, Any]]] = {}
            for r in records:
                logged.setdefault(str(r.get("request_id")), []).append(r)
            return LegRun(samples, logged)
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            store.close()


__all__ = [
    "KINDS",
    "LegRun",
    "Row",
    "Timed",
    "drive",
    "embed_lookup_latency",
    "index_latency",
    "miss_of",
    "openai_client",
    "pipeline_latency",
    "summarise",
]
