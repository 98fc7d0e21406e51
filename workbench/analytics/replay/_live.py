"""Live re-execution: real backends instead of the log, bounded and cached on disk.

With ``live="<target>"`` every attempt goes to that configured target; with
``live="routed"`` each attempt goes to the target the candidate's router chose. Answers
are cached in ``$WORKBENCH_HOME/replay/live-cache.sqlite`` by (request hash, target), so
a second replay of the same traffic calls nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from workbench.pipeline.targets import Backend, Target
from workbench.providers import ChatRequest, Completion, Delta, EmbeddingResult

_CHUNK = re.compile(r"(?:\S+\s*){1,16}|\s+")  # deltas of up to 16 words


def request_hash(kind: str, payload: Any) -> str:
    """A stable hash of what is sent upstream (the request, or the embedding inputs)."""
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        payload = dataclasses.asdict(payload)
    body = json.dumps([kind, payload], sort_keys=True, default=str)
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


class LiveCache:
    """(request hash, target) -> answer, in one SQLite file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers "
            "(key TEXT, target TEXT, value TEXT, PRIMARY KEY (key, target))"
        )
        self._db.commit()
        self.hits = 0
        self.calls = 0

    def get(self, key: str, target: str) -> Any:
        """The cached answer, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM answers WHERE key = ? AND target = ?", (key, target)
            ).fetchone()
        if row is None:
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, target: str, value: Any) -> None:
        """Store an answer."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (key, target, json.dumps(value))
            )
            self._db.commit()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class LiveBackend:
    """A real target's backend behind the cache and a shared concurrency bound."""

    def __init__(self, target: Target, cache: LiveCache, limit: asyncio.Semaphore) -> None:
        self.target = target
        self.cache = cache
        self.limit = limit

    def _req(self, req: ChatRequest) -> ChatRequest:
        return dataclasses.replace(self.target.request_for(req), stream=False)

    async def chat(self, req: ChatRequest) -> Completion:
        """The target's answer (cached)."""
        req = self._req(req)
        key = request_hash("chat", req)
        hit = self.cache.get(key, self.target.name)
        if hit is None:
            async with self.limit:
                self.cache.calls += 1
                comp = await self.target.backend.chat(req)
            hit = {
                "text": comp.text,
                "finish_reason": comp.finish_reason,
                "prompt_tokens": comp.prompt_tokens,
                "completion_tokens": comp.completion_tokens,
            }
            self.cache.put(key, self.target.name, hit)
        return Completion(**hit)

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        """The (cached) whole answer, as deltas of up to 16 words."""
        comp = await self.chat(req)
        for m in _CHUNK.finditer(comp.text):
            yield Delta(text=m.group())
        yield Delta(
            finish_reason=comp.finish_reason,
            prompt_tokens=comp.prompt_tokens,
            completion_tokens=comp.completion_tokens,
        )

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        """The target's vectors (cached)."""
        key = request_hash("embed", texts)
        hit = self.cache.get(key, self.target.name)
        if hit is None:
            async with self.limit:
                self.cache.calls += 1
                res = await self.target.backend.embed(texts)
            hit = {"vectors": res.vectors, "prompt_tokens": res.prompt_tokens, "model": res.model}
            self.cache.put(key, self.target.name, hit)
        return EmbeddingResult(**hit)


def live_backends(
    targets: Mapping[str, Target], live: str, cache: LiveCache, concurrency: int
) -> dict[str, Backend]:
    """The hosted backends of a live replay: each target's own (``routed``) or every
    target answered by the ``live`` one."""
    if live != "routed" and live not in targets:
        known = ", ".join(sorted(targets)) or "none"
        raise ValueError(f"live target {live!r} is not a configured model (have: {known})")
    limit = asyncio.Semaphore(max(1, concurrency))
    if live == "routed":
        return {name: LiveBackend(t, cache, limit) for name, t in targets.items()}
    one = LiveBackend(targets[live], cache, limit)
    return {name: one for name in targets}
