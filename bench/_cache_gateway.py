"""The cache latency leg through our real gateway (``workbench up``: Ray Serve, the MiniLM
``Embedder`` deployment and the ``CacheIndex`` replica) in front of the 200 ms fake
upstream, driven over HTTP by the openai client (:func:`bench._cache_latency.drive`).

A policy with the exact and semantic cache on (every other setting at its default) is
published with ``workbench policy publish``. Every request is then looked up in the
request log (``workbench logs query``): it must be there once, with the status its
response header gave. The log's own ``latency_ms`` (receipt to completion inside the
ingress replica) is read for each, and ``/v1/embeddings`` requests of new texts time the
ingress -> Embedder hop with MiniLM. The ``CacheIndex`` replica writes its own timings of
each lookup and each encoder call (``$WORKBENCH_CACHE_TIMINGS``); each line is matched to
the request in flight when it was written (requests are sent one at a time), so the
report can say where a semantic hit's time goes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import _gateway
from bench._cache_latency import LegRun, Timed, drive, openai_client
from bench._proc import BenchError

MODEL = "fake"
EMBED_MODEL = "minilm"
POLICY = """\
id: bench-cache
cache:
  enabled: true
  semantic: {enabled: true}
"""


@dataclass
class GatewayRun(LegRun):
    """What the gateway leg measured."""

    startup_s: float = 0.0
    warmup: int = 0  # requests sent before the measured ones (not in any row)
    embeds: list[Timed] = field(default_factory=list)  # /v1/embeddings of one new text
    retried: str = ""  # why the first start failed, when it did
    inner: list[dict[str, Any]] = field(default_factory=list)  # the CacheIndex's timings
    precision: str = "fp32"  # the CacheIndex's graph

    def inner_p50(self, label: str, kind: str, measure: str) -> float:
        """p50 of one CacheIndex timing (``kind`` lookup or embed) over the requests of a
        row (plain rows only) that were served as meant."""
        vals = []
        for s in self.samples:
            if s.stream or s.kind != label or not s.served_as_meant:
                continue
            end = s.sent_at + s.total_ms / 1000
            vals += [x[measure] for x in self.inner
                     if x["kind"] == kind and s.sent_at <= x["t"] <= end]  # fmt: skip
        return float(np.percentile(vals, 50)) if vals else float("nan")


def _models(upstream_url: str) -> list[dict[str, Any]]:
    return [
        {"name": MODEL, "provider": "openai-compatible", "base_url": upstream_url,
         "model": "fake-model", "api_key_env": _gateway.UPSTREAM_KEY_ENV},
        {"name": EMBED_MODEL, "provider": "embeddings"},
    ]  # fmt: skip


def _query(host: Any, sql: str) -> list[dict[str, Any]]:
    cp = _gateway._run_cli(host.gw.wb, ["logs", "query", sql, "--format", "json"], host.gw.env,
                           host.workdir, 180)  # fmt: skip
    if cp.returncode != 0:
        raise BenchError(f"`workbench logs query` failed: {(cp.stderr or cp.stdout)[-600:]}")
    rows = _gateway._first_json(cp.stdout)
    return rows if isinstance(rows, list) else []


CHATS = "select count(*) as n from requests where endpoint = '/v1/chat/completions'"
CALLS = (
    "select count(*) as n from requests where endpoint in ('/v1/chat/completions', "
    "'/v1/embeddings')"
)


def _wait_logged(host: Any, n: int, sql: str = CHATS, timeout_s: float = 90.0) -> None:
    """Until ``n`` chat requests are in the log (a stored miss is logged after its entry
    is stored and indexed, so then it is served)."""
    deadline = time.monotonic() + timeout_s
    got = _gateway.count_logged(host.gw, sql)
    while got < n and time.monotonic() < deadline:
        time.sleep(0.5)
        got = _gateway.count_logged(host.gw, sql)
    if got < n:
        raise BenchError(f"{got} of {n} requests logged {timeout_s:.0f} s after they were sent")


def _embed_hop(client: Any, texts: list[str]) -> list[Timed]:
    out = []
    for text in texts:
        t0 = time.perf_counter()
        raw = client.embeddings.with_raw_response.create(model=EMBED_MODEL, input=[text])
        raw.parse()
        ms = (time.perf_counter() - t0) * 1000
        rid = raw.headers.get("x-workbench-request-id", "")
        out.append(Timed("embeddings", False, "-", ms, ms, rid))
    return out


@contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    """``values`` in the environment while the gateway starts (its processes inherit it)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _read_timings(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def gateway_latency(
    pairs: list[tuple[str, str]],
    stream_pairs: list[tuple[str, str]],
    warm_pairs: list[tuple[str, str]],
    delay_ms: int = 200,
    wb: str | None = None,
    precision: str = "fp32",
) -> GatewayRun:
    """Start the fake upstream and ``workbench up``, publish the cache policy, warm up on
    ``warm_pairs`` (plain and streamed; not measured), then :func:`drive` ``pairs`` and
    ``stream_pairs``, time ``/v1/embeddings`` and read every request back from the log."""
    from bench._hosts import RayHost
    from bench.fake_upstream import FakeUpstreamThread
    from workbench.cache._index_encoder import PRECISION_ENV
    from workbench.providers._onnx import onnx_cache_dir

    work = Path(tempfile.mkdtemp(prefix="bench-cache-gateway-"))
    timings = work / "cache_index_timings.jsonl"
    env = {PRECISION_ENV: precision, "WORKBENCH_CACHE_TIMINGS": str(timings),
           # the graphs this process already exported / quantised (named by weights hash)
           "WORKBENCH_ONNX_CACHE": str(onnx_cache_dir())}  # fmt: skip
    with FakeUpstreamThread(delay_ms=delay_ms) as up, _env(env):
        try:  # on a busy machine Ray's node can time out at start-up: one more try, said
            host = RayHost(_models(up.base_url), POLICY, work / "try1")
            retried = ""
        except BenchError as exc:
            retried = f"start attempt 1 failed ({str(exc)[-300:]}; log kept in {work}/try1)"
            host = RayHost(_models(up.base_url), POLICY, work / "try2")
        try:
            client = openai_client(host.base_url, host.api_key)
            sent = 0

            def wait_stored(n: int) -> None:
                _wait_logged(host, sent + n)

            warm = drive(client, MODEL, warm_pairs, warm_pairs[:1], wait_stored)
            _embed_hop(client, [f"{b} (warm-up)" for _, b in warm_pairs])
            sent = len(warm)
            samples = drive(client, MODEL, pairs, stream_pairs, wait_stored)
            embeds = _embed_hop(client, [f"{b} (embeddings hop)" for _, b in pairs])
            _wait_logged(host, sent + len(warm_pairs) + len(samples) + len(embeds), CALLS)
            rows = _query(host, "select request_id, cache_status, latency_ms, ttft_ms, "
                          "gateway_overhead_ms from requests")  # fmt: skip
            logged: dict[str, list[dict[str, Any]]] = {}
            for r in rows:
                logged.setdefault(str(r.get("request_id")), []).append(r)
            run = GatewayRun(samples, logged, host.gw.startup_s, sent + len(warm_pairs), embeds,
                             retried, _read_timings(timings), precision)  # fmt: skip
        finally:
            host.stop()
    if not retried:
        shutil.rmtree(work, ignore_errors=True)
    return run


def status_counts(samples: list[Timed]) -> str:
    """``miss: miss 20; exact hit: hit 20; ...`` (what each kind was served as)."""
    parts = []
    for stream in (False, True):
        for kind in ("miss", "exact hit", "semantic hit"):
            c = Counter(s.status for s in samples if s.kind == kind and s.stream == stream)
            if c:
                name = f"{'stream ' if stream else ''}{kind}"
                parts.append(f"{name}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    return "; ".join(parts)


__all__ = ["GatewayRun", "gateway_latency", "status_counts"]
