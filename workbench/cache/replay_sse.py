"""A cached answer as a real SSE stream, and as a fresh JSON reply.

The chunks are built by the same :class:`~workbench.gateway.responses.ChunkFactory` as a
live stream: for chat the role chunk, then content chunks, the chunk carrying
``finish_reason``, the usage chunk when the client asked for it
(``stream_options.include_usage``), and ``[DONE]``. The text is cut into chunks at
word boundaries (about :data:`CHUNK_CHARS` characters each), so a client that renders
deltas sees a stream, not one block.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

from workbench.gateway import responses

CHUNK_CHARS = 48


def answer_text(body: dict[str, Any]) -> str:
    """The text of a stored chat or text completion body."""
    choice = (body.get("choices") or [{}])[0]
    if "message" in choice:
        return str((choice.get("message") or {}).get("content") or "")
    return str(choice.get("text") or "")


def finish_reason(body: dict[str, Any]) -> str:
    """The stored answer's finish reason (``stop`` when it has none)."""
    choice = (body.get("choices") or [{}])[0]
    return str(choice.get("finish_reason") or "stop")


def usage_of(body: dict[str, Any]) -> tuple[int, int]:
    """(prompt_tokens, completion_tokens) of a stored body (0 when absent)."""
    usage = body.get("usage") or {}
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def pieces(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """``text`` cut after whitespace into pieces of about ``size`` characters
    (joined back they give ``text`` exactly)."""
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind(" ", start + 1, end)
            end = cut + 1 if cut > start else end
        out.append(text[start:end])
        start = end
    return out


def restamped(body: dict[str, Any], rid: str, created: int, model: str) -> dict[str, Any]:
    """A stored completion body as this request's answer: its id, time and model name."""
    out = copy.deepcopy(body)
    if "id" in out:
        out["id"], out["created"] = rid, created
    if "model" in out:
        out["model"] = model
    return out


async def sse_replay(
    body: dict[str, Any],
    *,
    rid: str,
    created: int,
    model: str,
    chat: bool,
    include_usage: bool,
    on_first_byte: Callable[[], None] = lambda: None,
) -> AsyncIterator[bytes]:
    """The SSE byte stream of a stored answer (see the module docstring)."""
    chunks = responses.ChunkFactory(rid, created, model, chat)
    if chat:
        on_first_byte()
        yield chunks.first()
    for piece in pieces(answer_text(body)):
        on_first_byte()
        yield chunks.text(piece)
    on_first_byte()
    yield chunks.finish(finish_reason(body))
    if include_usage:
        yield chunks.usage(*usage_of(body))
    yield responses.SSE_DONE


__all__ = ["answer_text", "finish_reason", "pieces", "restamped", "sse_replay", "usage_of"]
