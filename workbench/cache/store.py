"""The exact cache's entry store: one SQLite file in WAL mode (no Ray, no server).

Why an embedded store and not a Ray actor: every ingress replica on a node opens the
same file (``$WORKBENCH_HOME/cache/entries.db``); SQLite's WAL lets them read in
parallel while one writes, a lookup is one indexed point read (tens of microseconds, no
actor hop, no single actor serialising every request of every replica), and the file
survives a restart of the gateway or of Ray. Calls run on a worker thread
(``asyncio.to_thread``), so the event loop never waits on the disk.

Multi-node clusters: each node has its own file, so replicas on different nodes do not
share entries; a request answered on node A may miss on node B and be stored there too.
Correctness never depends on sharing: an entry is only ever served for its exact key
(which holds the workspace, the policy hash, the model and every answer-changing
parameter), so a missing entry only costs a model call.

Bounds: an entry expires ``ttl_s`` after it was stored (an expired entry is never
served and is deleted when met or when space is needed). Each policy bounds its own
entries (``max_entries``, ``max_bytes`` from its ``cache`` section, passed with each
put); past a bound the least recently used entries of that policy are evicted.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

from workbench._sqlite import connect, immediate
from workbench.cache._types import Entry

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY, workspace TEXT NOT NULL, policy TEXT NOT NULL, scope TEXT NOT NULL,
    endpoint TEXT NOT NULL, model TEXT NOT NULL, model_served TEXT, body BLOB NOT NULL,
    text TEXT, cost_usd REAL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
    last_used REAL NOT NULL, hits INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL,
    extra BLOB
);
CREATE INDEX IF NOT EXISTS entries_lru ON entries (policy, last_used);
CREATE INDEX IF NOT EXISTS entries_ws ON entries (workspace);
CREATE INDEX IF NOT EXISTS entries_exp ON entries (expires_at);
CREATE TABLE IF NOT EXISTS policy_totals (
    policy TEXT PRIMARY KEY, n INTEGER NOT NULL, bytes INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS entries_added AFTER INSERT ON entries BEGIN
    INSERT INTO policy_totals (policy, n, bytes) VALUES (NEW.policy, 1, NEW.size)
    ON CONFLICT (policy) DO UPDATE SET n = n + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS entries_removed AFTER DELETE ON entries BEGIN
    UPDATE policy_totals SET n = n - 1, bytes = bytes - OLD.size WHERE policy = OLD.policy;
END;
CREATE TABLE IF NOT EXISTS counters (
    workspace TEXT NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (workspace, name)
);
"""
_COLUMNS = (
    "key, workspace, scope, endpoint, model, model_served, body, text, cost_usd, "
    "created_at, expires_at, hits, extra"
)


def default_path() -> Path:
    """``$WORKBENCH_HOME/cache/entries.db``."""
    from workbench.home import home

    return home() / "cache" / "entries.db"


def _entry(row: tuple[Any, ...]) -> Entry:
    key, ws, scope, endpoint, model, served, body, text, cost, created, expires, hits, ex = row
    return Entry(
        key=key,
        workspace=ws,
        scope=scope,
        endpoint=endpoint,
        model=model,
        model_served=served,
        body=orjson.loads(body),
        text=text,
        cost_usd=cost,
        created_at=created,
        expires_at=expires,
        hits=hits,
        extra=orjson.loads(ex) if ex else {},
    )


class SqliteEntryStore:
    """:class:`~workbench.cache.EntryStore` on one SQLite file (see the module docstring).

    The file is opened on first use, so building a gateway whose policies never cache
    creates nothing. ``clock`` (unix seconds) is injectable for TTL tests.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        max_entries: int = 100_000,
        max_bytes: int = 256 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = path
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.clock = clock
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The database file."""
        if self._path is None:
            self._path = default_path()
        return self._path

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = connect(self.path)
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock, immediate(self._connect()) as conn:
            return fn(conn)

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._run, fn)

    # ------------------------------------------------------------------ EntryStore

    async def get(self, key: str) -> Entry | None:
        """The live entry under ``key`` (None when absent or expired); counts a hit."""
        return await self._call(lambda c: self._get(c, key))

    async def put(self, entry: Entry) -> None:
        """Store ``entry``; evicts past the bound (see :meth:`put_evicting`)."""
        await self.put_evicting(entry)

    async def put_evicting(
        self, entry: Entry, *, max_entries: int | None = None, max_bytes: int | None = None
    ) -> list[str]:
        """Store ``entry`` and evict its policy's least recently used entries past the
        bound (``entry.extra["policy"]`` names the policy); returns the keys removed."""
        bound = (max_entries or self.max_entries, max_bytes or self.max_bytes)
        return await self._call(lambda c: self._put(c, entry, *bound))

    async def stats(self, workspace: str | None = None) -> dict[str, Any]:
        """Entries, bytes, hits, evictions, expired (optionally for one workspace)."""
        return await self._call(lambda c: self._stats(c, workspace))

    async def clear(self, workspace: str | None = None) -> int:
        """Delete every entry (of ``workspace``); returns how many."""
        return await self._call(lambda c: self._clear(c, workspace))

    def stats_now(self, workspace: str | None = None) -> dict[str, Any]:
        """:meth:`stats` for synchronous callers (the CLI)."""
        return self._run(lambda c: self._stats(c, workspace))

    def clear_now(self, workspace: str | None = None) -> int:
        """:meth:`clear` for synchronous callers (the CLI)."""
        return self._run(lambda c: self._clear(c, workspace))

    def close(self) -> None:
        """Close the connection (the file stays; a later call reopens it)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ------------------------------------------------------------------ SQL

    def _get(self, c: sqlite3.Connection, key: str) -> Entry | None:
        row = c.execute(f"SELECT {_COLUMNS} FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        now = self.clock()
        if row[10] <= now:
            c.execute("DELETE FROM entries WHERE key = ?", (key,))
            _count(c, row[1], "expired", 1)
            return None
        c.execute("UPDATE entries SET hits = hits + 1, last_used = ? WHERE key = ?", (now, key))
        _count(c, row[1], "hits", 1)
        entry = _entry(row)
        entry.hits += 1
        return entry

    def _put(self, c: sqlite3.Connection, e: Entry, max_entries: int, max_bytes: int) -> list[str]:
        body = orjson.dumps(e.body)
        extra = orjson.dumps(e.extra) if e.extra else None
        size = len(body) + len(e.text or "") + len(extra or b"") + len(e.key) + 64
        policy = str(e.extra.get("policy", ""))
        now = self.clock()
        c.execute("DELETE FROM entries WHERE key = ?", (e.key,))  # fires the totals trigger
        c.execute(
            "INSERT INTO entries (key, workspace, policy, scope, endpoint, model, "
            "model_served, body, text, cost_usd, created_at, expires_at, last_used, hits, "
            "size, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            (e.key, e.workspace, policy, e.scope, e.endpoint, e.model, e.model_served, body,
             e.text, e.cost_usd, e.created_at or now, e.expires_at, now, size, extra),
        )  # fmt: skip
        purged = self._purge(c, now)
        return purged + self._evict(c, policy, max_entries, max_bytes, now)

    def _purge(self, c: sqlite3.Connection, now: float, batch: int = 64) -> list[str]:
        """Delete a few expired entries of any policy (so old ones do not pile up)."""
        rows = c.execute(
            "SELECT key, workspace FROM entries WHERE expires_at <= ? LIMIT ?", (now, batch)
        ).fetchall()
        c.executemany("DELETE FROM entries WHERE key = ?", [(k,) for k, _ in rows])
        for _, ws in rows:
            _count(c, ws, "expired", 1)
        return [k for k, _ in rows]

    def _evict(
        self, c: sqlite3.Connection, policy: str, max_entries: int, max_bytes: int, now: float
    ) -> list[str]:
        n, nbytes = _totals(c, policy)
        if n <= max_entries and nbytes <= max_bytes:
            return []
        gone: list[str] = []
        expired = c.execute(
            # "+policy": search by expiry (few rows), not by policy (all of its rows)
            "SELECT key, workspace FROM entries WHERE expires_at <= ? AND +policy = ?",
            (now, policy),
        ).fetchall()
        for key, ws in expired:
            gone.append(key)
            _count(c, ws, "expired", 1)
        c.executemany("DELETE FROM entries WHERE key = ?", [(k,) for k, _ in expired])
        n, nbytes = _totals(c, policy)
        victims: list[tuple[str, str]] = []
        rows = c.execute(
            "SELECT key, workspace, size FROM entries WHERE policy = ? ORDER BY last_used",
            (policy,),
        )
        for key, ws, size in rows:
            if n <= max_entries and nbytes <= max_bytes:
                break
            victims.append((key, ws))
            n, nbytes = n - 1, nbytes - size
        c.executemany("DELETE FROM entries WHERE key = ?", [(k,) for k, _ in victims])
        for _, ws in victims:
            _count(c, ws, "evictions", 1)
        return gone + [k for k, _ in victims]

    def _stats(self, c: sqlite3.Connection, workspace: str | None) -> dict[str, Any]:
        where, args = ("WHERE workspace = ?", (workspace,)) if workspace is not None else ("", ())
        n, nbytes, live_hits = c.execute(
            f"SELECT count(*), total(size), total(hits) FROM entries {where}", args
        ).fetchone()
        stale = c.execute(
            f"SELECT count(*) FROM entries {where} {'AND' if where else 'WHERE'} expires_at <= ?",
            (*args, self.clock()),
        ).fetchone()[0]
        counters = dict(
            c.execute(f"SELECT name, sum(n) FROM counters {where} GROUP BY name", args).fetchall()
        )
        return {
            "workspace": workspace,
            "path": str(self.path),
            "entries": int(n) - int(stale),
            "bytes": int(nbytes),
            "hits": int(counters.get("hits", 0)),
            "hits_on_live_entries": int(live_hits),
            "evictions": int(counters.get("evictions", 0)),
            "expired": int(counters.get("expired", 0)) + int(stale),
        }

    def _clear(self, c: sqlite3.Connection, workspace: str | None) -> int:
        if workspace is None:
            return int(c.execute("DELETE FROM entries").rowcount)
        return int(c.execute("DELETE FROM entries WHERE workspace = ?", (workspace,)).rowcount)


def _totals(c: sqlite3.Connection, policy: str) -> tuple[int, int]:
    """(entries, bytes) of ``policy``, kept by the triggers (no scan)."""
    row = c.execute("SELECT n, bytes FROM policy_totals WHERE policy = ?", (policy,)).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _count(c: sqlite3.Connection, workspace: str, name: str, n: int) -> None:
    c.execute(
        "INSERT INTO counters (workspace, name, n) VALUES (?, ?, ?) "
        "ON CONFLICT (workspace, name) DO UPDATE SET n = n + excluded.n",
        (workspace, name, n),
    )


__all__ = ["SqliteEntryStore", "default_path"]
