"""Erasure tombstones: late records of an erased user or key are dropped on arrival.

An erasure rewrites the lake, the spool and the dead letters, but a request that started
before it can still be on its way: in an ingress replica's shipping buffer, in a retry,
or spooled while the rewrite runs. Before rewriting, the eraser registers a
:class:`Tombstone` with the lake's writer (:meth:`Tombstones.add`); from then on the
writer drops every arriving record that matches it and was *received before the
erasure*. Requests received after the erasure are new data and are kept.

Tombstones live in ``<log root>/_meta/tombstones.json`` (so a restarted writer still
honours them) until ``expires_at`` (the writer's de-duplication window: a record re-sent
later than that would not be recognised as a duplicate either). Each keeps the count of
records it dropped, the proof that the late copies were discarded; the file holds the
selector only (user / key id / workspace), never a record.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["Tombstone", "Tombstones", "received_epoch"]

FILE = "_meta/tombstones.json"
COLUMNS = ("user", "key_id", "workspace")


def received_epoch(record: dict[str, Any]) -> float | None:
    """A normalised record's ``received_at`` as epoch seconds (None when unusable)."""
    value = record.get("received_at")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


@dataclass
class Tombstone:
    """Records matching every ``match`` column and received at or before ``erased_at``."""

    id: str
    match: dict[str, str]
    erased_at: float
    expires_at: float
    dropped: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.match) - set(COLUMNS)
        if unknown or not ({"user", "key_id"} & set(self.match)):
            raise ValueError(f"a tombstone matches user and/or key_id (+ workspace): {self.match}")

    def covers(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` is a late copy of an erased row."""
        if any(record.get(col) != value for col, value in self.match.items()):
            return False
        received = received_epoch(record)
        # no usable time: it cannot be shown to be newer than the erasure, so it goes
        return received is None or received <= self.erased_at


class Tombstones:
    """The writer's active tombstones, persisted beside the lake (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / FILE
        self._lock = threading.Lock()
        self._items: list[Tombstone] = self._load()

    def _load(self) -> list[Tombstone]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        now = time.time()
        return [t for t in (Tombstone(**item) for item in raw) if t.expires_at > now]

    def _save(self) -> None:
        """Write the file atomically (caller holds the lock)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps([asdict(t) for t in self._items], indent=1), encoding="utf-8")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def add(self, match: dict[str, str], *, keep_s: float, now: float | None = None) -> Tombstone:
        """Register a tombstone erased now (call it before rewriting the lake)."""
        at = time.time() if now is None else now
        tomb = Tombstone(
            id=f"{int(at * 1000):x}-{len(self._items)}",
            match={k: v for k, v in match.items() if v is not None},
            erased_at=at,
            expires_at=at + keep_s,
        )
        with self._lock:
            self._items = [t for t in self._items if t.expires_at > at] + [tomb]
            self._save()
        return tomb

    def active(self) -> list[Tombstone]:
        """Copies of the unexpired tombstones."""
        now = time.time()
        with self._lock:
            return [Tombstone(**asdict(t)) for t in self._items if t.expires_at > now]

    def screen(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        """``(kept, dropped)``: the records that no active tombstone covers."""
        if not self._items:
            return records, 0
        now = time.time()
        with self._lock:
            live = [t for t in self._items if t.expires_at > now]
            if not live:
                return records, 0
            kept: list[dict[str, Any]] = []
            hits: dict[str, int] = {}
            for rec in records:
                tomb = next((t for t in live if t.covers(rec)), None)
                if tomb is None:
                    kept.append(rec)
                else:
                    hits[tomb.id] = hits.get(tomb.id, 0) + 1
            if hits:
                for t in live:
                    t.dropped += hits.get(t.id, 0)
                self._save()
            return kept, len(records) - len(kept)
