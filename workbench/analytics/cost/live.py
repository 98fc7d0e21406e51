"""Replay a sample of logged requests against a live (cheaper) target and compare answers.

Each logged request is sent again, as its client sent it (messages or prompt and the
sampling parameters), to the target through the gateway's own provider client, with
bounded concurrency. Agreement with the logged answer (the raw upstream answer where
the log has it, else the answer the client received) is the MiniLM cosine of the two
answers and the exact-match rate (after trimming whitespace).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from workbench._sync import run_blocking

from ._traffic import body_column
from ._window import lake_columns, run

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.providers import ChatRequest


@dataclass
class Agreement:
    """How a target's answers compare with the logged ones on a sample."""

    target: str
    sampled: int
    answered: int
    failed: int
    mean_cosine: float | None
    exact_match_rate: float | None
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (per-request rows included)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def logged_answer(response_body: str | None, upstream_outputs: str | None) -> str | None:
    """The logged answer: the last raw upstream text, else the client's answer text."""
    if upstream_outputs:
        try:
            outs = orjson.loads(upstream_outputs)
            texts = [o.get("text") for o in outs if isinstance(o, dict)]
            texts = [t for t in texts if isinstance(t, str)]
            if texts:
                return texts[-1]
        except orjson.JSONDecodeError:
            pass
    if response_body is None:
        return None
    try:
        data = orjson.loads(response_body)
    except orjson.JSONDecodeError:
        return response_body  # a stream: the concatenated text as sent
    choice = (data.get("choices") or [{}])[0] if isinstance(data, dict) else {}
    msg = choice.get("message") if isinstance(choice, dict) else None
    text = msg.get("content") if isinstance(msg, dict) else choice.get("text")
    return text if isinstance(text, str) else None


def _request(body: dict[str, Any], target: ModelTarget) -> ChatRequest:
    from workbench.providers import ChatRequest, GenerationParams

    stop = body.get("stop")
    params = GenerationParams(
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=[stop] if isinstance(stop, str) else list(stop or []),
        seed=body.get("seed"),
    )
    model = target.model or target.name
    if isinstance(body.get("messages"), list):
        return ChatRequest(model=model, messages=body["messages"], params=params)
    return ChatRequest(model=model, prompt=str(body.get("prompt") or ""), params=params)


def _load(ids: Sequence[str], root: Path | None) -> list[dict[str, Any]]:
    outputs = "upstream_outputs" if "upstream_outputs" in lake_columns(root) else "NULL"
    marks = ", ".join("?" for _ in ids)
    sql = (
        f"SELECT request_id, {body_column(root)} AS body, response_body, "
        f"{outputs} AS upstream_outputs FROM requests WHERE request_id IN ({marks})"
    )
    return list(run(sql, list(ids), root).iter_rows(named=True))


async def agreement_async(
    request_ids: Sequence[str],
    target: ModelTarget,
    *,
    root: Path | None = None,
    encode: Any = None,
    concurrency: int = 4,
) -> Agreement:
    """Replay ``request_ids`` against ``target``; see the module docstring."""
    from workbench.providers import registry

    rows = [r for r in _load(request_ids, root) if r["body"]]
    client = registry.get(target.provider).factory(target)
    gate = asyncio.Semaphore(concurrency)

    async def one(row: dict[str, Any]) -> dict[str, Any]:
        out = {"request_id": row["request_id"], "logged": None, "answer": None, "error": None}
        out["logged"] = logged_answer(row["response_body"], row["upstream_outputs"])
        async with gate:
            try:
                comp = await client.chat(_request(orjson.loads(row["body"]), target))
                out["answer"] = comp.text
            except Exception as exc:  # one failed call is reported, not fatal
                out["error"] = f"{type(exc).__name__}: {exc}"
        return out

    try:
        results = await asyncio.gather(*(one(r) for r in rows))
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            await close()
    return _score(target.name, results, encode)


def _score(name: str, results: list[dict[str, Any]], encode: Any) -> Agreement:
    pairs = [r for r in results if r["answer"] is not None and r["logged"] is not None]
    cos: float | None = None
    if pairs:
        if encode is None:
            from workbench.providers.embeddings import Embedder

            encode = Embedder.load().encode
        vecs = encode([r["logged"] for r in pairs] + [r["answer"] for r in pairs])
        a, b = vecs[: len(pairs)], vecs[len(pairs) :]
        sims = (a * b).sum(axis=1)
        for r, s in zip(pairs, sims, strict=True):
            r["cosine"] = float(s)
        cos = float(sims.mean())
    exact = [r["answer"].strip() == r["logged"].strip() for r in pairs]
    return Agreement(
        target=name,
        sampled=len(results),
        answered=sum(r["answer"] is not None for r in results),
        failed=sum(r["error"] is not None for r in results),
        mean_cosine=cos,
        exact_match_rate=(sum(exact) / len(exact)) if exact else None,
        rows=results,
    )


def agreement(
    request_ids: Sequence[str],
    target: ModelTarget,
    *,
    root: Path | None = None,
    encode: Any = None,
    concurrency: int = 4,
) -> Agreement:
    """Blocking twin of :func:`agreement_async`, safe inside a running event loop."""
    return run_blocking(
        lambda: agreement_async(
            request_ids, target, root=root, encode=encode, concurrency=concurrency
        )
    )
