"""In-process cache rig: the production pipeline with counting fake backends, a fixed
policy, a flat price table, workspaces from the bearer token, and a tiny exact-cosine
semantic index (bag of words) standing in for the MiniLM one."""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from tests.pipeline.test_routing_path import OnePolicy
from workbench.cache._types import Candidate
from workbench.cache.store import SqliteEntryStore
from workbench.config.gateway import parse_config
from workbench.errors import UpstreamConnectionError
from workbench.gateway.app import create_app
from workbench.pipeline import GatewayPipeline, build_pipeline
from workbench.providers import ChatRequest, Completion, Delta, EmbeddingResult

CHAT = "/v1/chat/completions"


class FakeBackend:
    """Answers ``answer`` (or the last user message), counting calls; can fail."""

    def __init__(self, answer: str | None = None, fail: bool = False) -> None:
        self.answer, self.fail = answer, fail
        self.calls = 0
        self.cut_stream = False  # fail after the first delta

    def _text(self, req: ChatRequest) -> str:
        if self.answer is not None:
            return self.answer
        if req.prompt is not None:
            return req.prompt
        return str((req.messages or [{}])[-1].get("content"))

    async def chat(self, req: ChatRequest) -> Completion:
        self.calls += 1
        if self.fail:
            raise UpstreamConnectionError("upstream down")
        text = self._text(req)
        return Completion(text=text, prompt_tokens=7, completion_tokens=len(text.split()))

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        self.calls += 1
        if self.fail:
            raise UpstreamConnectionError("upstream down")
        words = self._text(req).split()
        for i, w in enumerate(words):
            if self.cut_stream and i == 1:
                raise UpstreamConnectionError("stream cut")
            yield Delta(text=w if i == 0 else " " + w)
        yield Delta(finish_reason="stop", prompt_tokens=7, completion_tokens=len(words))

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        self.calls += 1
        return EmbeddingResult(
            vectors=[[float(len(t)), 1.0, 0.5] for t in texts], prompt_tokens=3, model="emb"
        )


class FlatPrices:
    """A price table: $1 per million tokens, for every model."""

    version = "flat-1"

    def cost(self, model: str, provider: str, prompt: int, completion: int) -> float:
        return (prompt + completion) / 1_000_000


class TokenAuth:
    """The key ``<workspace>-<anything>`` belongs to ``<workspace>``."""

    async def averify(self, token: str) -> Any:
        return SimpleNamespace(key_id=token, workspace=token.split("-")[0])

    def verify(self, token: str) -> Any:
        return SimpleNamespace(key_id=token, workspace=token.split("-")[0])


def _bag(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


class TinyIndex:
    """A :class:`~workbench.cache.SemanticIndex`: exact cosine of word counts, per scope."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str, float]] = {}  # key -> (scope, text, expires)
        self.lookups = 0

    async def lookup(self, scope: str, text: str, k: int = 4) -> list[Candidate]:
        self.lookups += 1
        q = _bag(text)
        out = []
        for key, (s, t, _) in self.rows.items():
            if s != scope:
                continue
            v = _bag(t)
            dot = sum(q[w] * v[w] for w in q)
            norm = math.sqrt(sum(x * x for x in q.values()) * sum(x * x for x in v.values()))
            out.append(Candidate(key=key, similarity=dot / norm if norm else 0.0, text=t))
        return sorted(out, key=lambda c: -c.similarity)[:k]

    async def add(self, scope: str, text: str, key: str, expires_at: float) -> None:
        self.rows[key] = (scope, text, expires_at)

    async def remove(self, keys: list[str]) -> None:
        for k in keys:
            self.rows.pop(k, None)


CACHE_ON = {"cache": {"enabled": True}}


@dataclass
class Rig:
    """A built pipeline, an httpx client on its app, its backends and its records."""

    pipeline: GatewayPipeline
    client: httpx.AsyncClient
    backends: dict[str, FakeBackend]
    store: SqliteEntryStore
    records: list[dict[str, Any]] = field(default_factory=list)

    async def post(
        self, body: dict[str, Any], key: str = "ws1-key", path: str = CHAT, **headers: str
    ) -> httpx.Response:
        """One request; returns once its record (and any cache store) is done."""
        before = len(self.records)
        r = await self.client.post(
            path,
            json={"model": "main", **body},
            headers={"authorization": f"Bearer {key}", **headers},
        )
        await r.aread()
        for _ in range(1000):  # log-only checks may still run: wait for the record
            await self.pipeline.cache.flush()
            if len(self.records) > before:
                return r
            await asyncio.sleep(0.01)
        raise AssertionError("the request was never recorded")

    @property
    def last(self) -> dict[str, Any]:
        return self.records[-1]

    async def close(self) -> None:
        await self.client.aclose()
        self.store.close()


async def rig(
    tmp: Path,
    policy: dict[str, Any],
    *,
    index: TinyIndex | None = None,
    backends: dict[str, FakeBackend] | None = None,
    store: SqliteEntryStore | None = None,
) -> Rig:
    """The pipeline with targets ``main`` and ``alt`` (chat) and ``emb`` (embeddings)."""
    cfg = parse_config(
        {
            "gateway": {"require_auth": True},
            "models": [
                {"name": "main", "provider": "echo"},
                {"name": "alt", "provider": "echo"},
                {"name": "emb", "provider": "openai-compatible",
                 "base_url": "http://127.0.0.1:9/v1", "model": "emb"},
            ],
        }
    )  # fmt: skip
    backends = backends or {"main": FakeBackend(), "alt": FakeBackend(), "emb": FakeBackend()}
    store = store or SqliteEntryStore(tmp / "entries.db")
    records: list[dict[str, Any]] = []
    gp = build_pipeline(
        cfg,
        submit_record=records.append,
        hosted=dict(backends),
        auth=TokenAuth(),
        prices=FlatPrices(),
        policies=OnePolicy(policy),
        cache_store=store,
        semantic_index=index,
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(gp)), base_url="http://gw"
    )
    return Rig(gp, client, backends, store, records)
