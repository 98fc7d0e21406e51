"""Crash-safe persistence of the semantic index: a snapshot plus an append-only journal.

``<dir>/snapshot.npz`` holds every live row (vectors, and the keys, scopes, texts and
expiry times as one JSON document); it is written aside (``snapshot.npz.tmp``), fsynced
and renamed over the old one, so it is always a whole snapshot. ``<dir>/journal.jsonl``
gets one line per change since that snapshot (``add`` with the vector in base64, ``rm``),
flushed as it is written. Every row carries the id of the graph that made its vector
(``x`` in a journal line, per row in the snapshot; "" when unnamed, and for files written
before ids were recorded), so the index can tell vectors of another graph apart.
Loading applies the journal on top of the snapshot; a torn last line (a crash mid-write)
is ignored, so a crash loses at most the change being written, and a power loss at most
what the OS had not written yet. Replaying a journal that the snapshot already contains
is harmless (each change sets a key's final state).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

SNAPSHOT = "snapshot.npz"
JOURNAL = "journal.jsonl"
FORMAT = 2  # 2: per-row encoder ids (format 1 files load with encoder "")


@dataclass
class Row:
    """One indexed entry as persisted."""

    key: str
    scope: str
    text: str
    expires_at: float
    vector: np.ndarray
    encoder: str = ""  # the graph that made ``vector`` (see workbench.cache._index_encoder)


def _encode_vec(v: np.ndarray) -> str:
    return base64.b64encode(np.asarray(v, dtype=np.float32).tobytes()).decode("ascii")


def _decode_vec(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype=np.float32).copy()


class Journal:
    """Reads and writes one index directory (a single writer: the index that owns it)."""

    def __init__(self, directory: Path, dim: int) -> None:
        """Persist under ``directory`` (created) for ``dim``-dimensional vectors."""
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self.records = 0  # journal lines since the last snapshot
        self._fh: IO[str] | None = None

    # ----------------------------------------------------------------- reading
    def load(self) -> dict[str, Row]:
        """Every live row: the snapshot, then the journal replayed (torn tail ignored)."""
        rows: dict[str, Row] = {}
        snap = self.dir / SNAPSHOT
        if snap.exists():
            with np.load(snap, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode("utf-8"))
                vecs = data["vectors"]
            if meta.get("dim") == self.dim:
                encoders = list(meta.get("encoders") or [""])
                for i, (key, scope, text, exp, *enc) in enumerate(meta["rows"]):
                    x = encoders[int(enc[0])] if enc else ""
                    rows[key] = Row(key, scope, text, float(exp), vecs[i], x)
        self.records = 0
        for rec in self._records():
            self.records += 1
            if rec.get("op") == "add":
                vec = _decode_vec(rec["v"])
                if vec.shape == (self.dim,):
                    x = str(rec.get("x", ""))
                    rows[rec["k"]] = Row(rec["k"], rec["s"], rec["t"], float(rec["e"]), vec, x)
            elif rec.get("op") == "rm":
                for key in rec.get("keys", []):
                    rows.pop(key, None)
        return rows

    def _records(self) -> Iterator[dict[str, Any]]:
        path = self.dir / JOURNAL
        if not path.exists():
            return
        good = 0  # bytes up to the last complete line
        with path.open("rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # torn last write
                good += len(line)
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    yield rec
        if good < path.stat().st_size:
            # cut the torn tail, so the next append starts a line of its own
            with path.open("r+b") as fh:
                fh.truncate(good)

    # ----------------------------------------------------------------- writing
    def _append(self, rec: dict[str, Any]) -> None:
        if self._fh is None:
            self._fh = (self.dir / JOURNAL).open("a", encoding="utf-8")
        self._fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._fh.flush()
        self.records += 1

    def add(self, row: Row) -> None:
        """Journal an added (or replaced) row."""
        rec = {"op": "add", "k": row.key, "s": row.scope, "t": row.text, "e": row.expires_at,
               "v": _encode_vec(row.vector)}  # fmt: skip
        if row.encoder:
            rec["x"] = row.encoder
        self._append(rec)

    def remove(self, keys: list[str]) -> None:
        """Journal removed keys."""
        if keys:
            self._append({"op": "rm", "keys": list(keys)})

    def snapshot(self, rows: list[Row]) -> None:
        """Write every live row aside, fsync, rename over the snapshot, empty the journal."""
        vecs = (
            np.stack([r.vector for r in rows]).astype(np.float32)
            if rows
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        encoders = list(dict.fromkeys(r.encoder for r in rows)) or [""]
        at = {x: i for i, x in enumerate(encoders)}
        meta = {
            "format": FORMAT,
            "dim": self.dim,
            "encoders": encoders,
            "rows": [[r.key, r.scope, r.text, r.expires_at, at[r.encoder]] for r in rows],
        }
        blob = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), np.uint8)
        tmp = self.dir / (SNAPSHOT + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, vectors=vecs, meta=blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / SNAPSHOT)
        self.close()
        # a crash before this truncation replays a journal the snapshot holds: harmless
        with (self.dir / JOURNAL).open("w", encoding="utf-8") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        self.records = 0

    def close(self) -> None:
        """Close the journal file (reopened on the next write)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


__all__ = ["JOURNAL", "SNAPSHOT", "Journal", "Row"]
