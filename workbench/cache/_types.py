"""The cache's contract: an entry, the entry store, and the semantic index (no Ray, no I/O).

The pipeline's cache stages (lookup after the input guardrails, store after a clean
answer) talk only to these two protocols, so the gateway can back them with an embedded
store or a Ray deployment and a notebook with in-process objects.

Exact lookup: ``EntryStore.get(exact_key)``. Semantic lookup, on an exact miss for an
eligible request: ``SemanticIndex.lookup(scope, text)`` gives candidate entry keys with
their cosine; the first candidate that passes the second stage and is still in the store
is served as a ``semantic_hit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Entry:
    """One cached answer.

    ``body`` is the complete non-streaming OpenAI response as the client received it
    (after output guardrails: a changed text is stored changed); a streamed answer is
    stored in the same shape and replayed as SSE chunks. ``text`` is the conversation
    text the semantic index embedded (for the second-stage check on a semantic match).
    """

    key: str
    workspace: str
    scope: str
    endpoint: str
    model: str  # the model name the client asked for
    model_served: str | None
    body: dict[str, Any]
    text: str | None = None
    cost_usd: float | None = None  # what the original answer cost (the saving per hit)
    created_at: float = 0.0  # unix seconds
    expires_at: float = 0.0
    hits: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class EntryStore(Protocol):
    """Where entries live: survives a restart, shared by every ingress replica."""

    async def get(self, key: str) -> Entry | None:
        """The live entry under ``key`` (None when absent or expired); counts a hit."""
        ...

    async def put(self, entry: Entry) -> None:
        """Store ``entry`` (replacing one with the same key); evicts past the size bound."""
        ...

    async def stats(self, workspace: str | None = None) -> dict[str, Any]:
        """Entries, bytes, hits, evictions, expired (optionally for one workspace)."""
        ...

    async def clear(self, workspace: str | None = None) -> int:
        """Delete every entry (of ``workspace``); returns how many."""
        ...


@dataclass(frozen=True)
class Candidate:
    """A semantic-index neighbour: the entry key, its cosine and the text it embedded."""

    key: str
    similarity: float
    text: str


class SemanticIndex(Protocol):
    """Nearest cached conversations within one scope (see ``match.scope_key``)."""

    async def lookup(self, scope: str, text: str, k: int = 4) -> list[Candidate]:
        """Up to ``k`` neighbours of ``text`` in ``scope``, best first."""
        ...

    async def add(self, scope: str, text: str, key: str, expires_at: float) -> None:
        """Index ``text`` as the conversation of entry ``key`` until ``expires_at``."""
        ...

    async def remove(self, keys: list[str]) -> None:
        """Forget entries (evicted or cleared in the store)."""
        ...
