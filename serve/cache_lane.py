"""A direct loopback lane from an ingress replica to the ``CacheIndex`` on the same node.

A semantic lookup through the ``CacheIndex``'s Serve handle costs a Ray round trip (the
handle's router, the replica's queue, two serialisations): about 6 ms of a semantic hit's
time on a 2-core node, as much as the MiniLM encode. On its own node the replica also
listens here: a TCP socket bound to 127.0.0.1 only (never another interface), on a port the
OS picks, refusing every connection whose first line is not the replica's random token
(compared in constant time). The token and port reach the ingress over the handle
(:meth:`CacheIndex.lane`), inside the cluster, and are never logged.

Wire format: newline-delimited JSON. The client's first line is the token; then each
request is ``{"id", "scope", "text", "k"}`` and each answer ``{"id", "found":
[[key, similarity, text], ...]}`` or ``{"id", "error": "<exception class>"}``. Requests are
multiplexed on one connection (answers may come back in any order).

Only lookups take the lane; additions and removals stay on the handle (they are off the
request's critical path). An ingress on another node has no lane (the socket is loopback
only) and uses the handle. A transport failure (the replica restarted, a timeout) is a
:class:`LaneError`: the caller falls back to the handle and asks for a new lane later.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from workbench.cache._types import Candidate

Lookup = Callable[[str, str, int], Awaitable[list[Candidate]]]
MAX_LINE = 1 << 22  # 4 MiB: one conversation text, JSON-escaped


class LaneError(Exception):
    """The lane itself failed (connection, protocol, timeout): use the handle instead."""


class LaneServer:
    """The replica's side: answers lookups with ``lookup`` on the loop that started it."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self.token = secrets.token_urlsafe(32)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen on 127.0.0.1 (once); the port."""
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, host="127.0.0.1", port=0, limit=MAX_LINE
            )
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def close(self) -> None:
        """Stop listening (open connections end with the process)."""
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await asyncio.wait_for(reader.readline(), timeout=5)
            if not hmac.compare_digest(first.strip(), self.token.encode()):
                return
            lock = asyncio.Lock()
            while line := await reader.readline():
                task = asyncio.get_running_loop().create_task(self._answer(line, writer, lock))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            pass  # a bad or vanished client: drop its connection
        finally:
            writer.close()

    async def _answer(self, line: bytes, writer: asyncio.StreamWriter, lock: asyncio.Lock) -> None:
        msg: dict[str, Any]
        try:
            req = json.loads(line)
            rid = req["id"]
        except (ValueError, KeyError, TypeError):
            return  # not ours to answer: the client times out on it
        try:
            found = await self._lookup(str(req["scope"]), str(req["text"]), int(req["k"]))
            msg = {"id": rid, "found": [[c.key, c.similarity, c.text] for c in found]}
        except Exception as exc:  # the lookup failed: the caller sees a failed lookup
            msg = {"id": rid, "error": type(exc).__name__}
        with contextlib.suppress(OSError, RuntimeError):
            writer.write(json.dumps(msg).encode() + b"\n")
            async with lock:
                await writer.drain()


class LaneClient:
    """The ingress's side: one multiplexed connection, opened on first use."""

    def __init__(self, port: int, token: str, timeout_s: float = 5.0) -> None:
        self.port, self._token, self.timeout_s = port, token, timeout_s
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()
        self.broken = False

    async def lookup(self, scope: str, text: str, k: int) -> list[Candidate]:
        """The replica's lookup; :class:`LaneError` when the lane failed, the lookup's own
        failure as a ``RuntimeError`` naming its class."""
        writer = await self._connection()
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        try:
            req = {"id": rid, "scope": scope, "text": text, "k": k}
            writer.write(json.dumps(req).encode() + b"\n")
            answer = await asyncio.wait_for(fut, timeout=self.timeout_s)
        except (TimeoutError, OSError) as exc:
            self._fail(LaneError(f"cache lane: {type(exc).__name__}"))
            raise LaneError("cache lane failed") from exc
        finally:
            self._waiting.pop(rid, None)
        if "error" in answer:
            raise RuntimeError(f"semantic lookup failed in the CacheIndex: {answer['error']}")
        return [Candidate(key=str(c[0]), similarity=float(c[1]), text=str(c[2]))
                for c in answer["found"]]  # fmt: skip

    async def _connection(self) -> asyncio.StreamWriter:
        if self.broken:
            raise LaneError("cache lane closed")
        if self._writer is not None:
            return self._writer
        async with self._connecting:
            if self._writer is None:
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", self.port, limit=MAX_LINE),
                        timeout=self.timeout_s,
                    )
                except (TimeoutError, OSError) as exc:
                    self.broken = True
                    raise LaneError("cache lane: cannot connect") from exc
                writer.write(self._token.encode() + b"\n")
                self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))
                self._writer = writer
        return self._writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                answer = json.loads(line)
                fut = self._waiting.get(answer.get("id"))
                if fut is not None and not fut.done():
                    fut.set_result(answer)
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        self._fail(LaneError("cache lane: connection closed"))

    def _fail(self, exc: LaneError) -> None:
        """Mark the lane broken and fail every request waiting on it."""
        self.broken = True
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(exc)
        if self._writer is not None:
            self._writer.close()

    def close(self) -> None:
        """Close the connection."""
        self._fail(LaneError("cache lane closed"))
        if self._reader_task is not None:
            self._reader_task.cancel()


__all__ = ["LaneClient", "LaneError", "LaneServer"]
