"""ML pre-scoring: the distinct texts of a slice of rows encoded in big batches first.

A full recompute (no verdict reuse) runs the ML checks of every request. Scored one
request at a time (or a few concurrent requests, batched for a few ms) the encoder sees
small batches; before a slice of rows runs through the pipeline, :func:`prescore` puts
the distinct texts the ML checks will read (message contents, the legacy prompt, the
logged answers) through the scorer in batches of :data:`BATCH` texts. The scorer caches
by text, so the checks then find their texts encoded: the same results, far fewer and
far larger encoder calls. Texts it does not foresee (a streamed answer's windows, say)
are scored by the pipeline as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

BATCH = 512  # texts per encoder call
MAX_CHARS = 20_000  # longer texts are left to the pipeline (rare, many windows)


def _content_texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part["text"]


def _request_texts(body: Any) -> Iterator[str]:
    if not isinstance(body, str) or not body:
        return
    try:
        data = orjson.loads(body)
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    for m in data.get("messages") or []:
        if isinstance(m, dict):
            yield from _content_texts(m.get("content"))
    yield from _content_texts(data.get("prompt"))


def _answer_texts(outputs: Any) -> Iterator[str]:
    if not isinstance(outputs, str) or not outputs:
        return
    try:
        data = orjson.loads(outputs)
    except ValueError:
        return
    for o in data if isinstance(data, list) else []:
        if isinstance(o, dict) and isinstance(o.get("text"), str):
            yield o["text"]


def texts_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The distinct non-empty texts the ML checks of these rows will likely read."""
    seen: dict[str, None] = {}
    for row in rows:
        body = row.get("request_original") or row.get("request_body")
        for t in (*_request_texts(body), *_answer_texts(row.get("upstream_outputs"))):
            if t.strip() and len(t) <= MAX_CHARS:
                seen[t] = None
    return list(seen)


async def prescore(batching: Any, rows: Iterable[Mapping[str, Any]]) -> int:
    """Encode the texts of ``rows`` through ``batching.scorer`` (a ``LocalScorer``) in
    big batches, in a worker thread; returns how many distinct texts were sent."""
    scorer = batching.scorer
    analyze = getattr(scorer, "analyze", None)
    if analyze is None:
        return 0
    texts = texts_of(rows)
    for k in range(0, len(texts), BATCH):
        await asyncio.to_thread(analyze, texts[k : k + BATCH])
    batching.stats.prescored += len(texts)
    return len(texts)
