"""The limits file: rules, their generation, and the authority's usage snapshot.

One SQLite file in WAL mode, ``$WORKBENCH_HOME/limits.sqlite``:

- ``rules``: every budget and rate limit (:class:`~workbench.limits.rules.Rule` as JSON);
- ``meta``: ``generation``, bumped by every rule change, so a gateway notices a change
  with one cheap read (it polls about once a second) and needs no restart;
- ``usage``: the counter authority's consumption per (bucket, slot), *including* the
  leases outstanding when it was written (a restart counts them as spent).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from workbench._sqlite import connect, immediate
from workbench.limits.rules import Rule, RuleSet

__all__ = ["LimitsStore", "limits_db"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rules (id TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('generation', 0);
CREATE TABLE IF NOT EXISTS usage (
    bucket TEXT NOT NULL, slot INTEGER NOT NULL, amount INTEGER NOT NULL,
    PRIMARY KEY (bucket, slot));
"""


def limits_db() -> Path:
    """``$WORKBENCH_HOME/limits.sqlite``."""
    from workbench.home import home

    return home() / "limits.sqlite"


class LimitsStore:
    """Rules and usage in one SQLite file (safe to share between processes)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else limits_db()
        self._local = threading.local()
        self._db().executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, timeout_s=30.0, any_thread=False)  # one per thread
            self._local.db = db
        return db

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db())

    # -- rules ---------------------------------------------------------------------------
    def generation(self) -> int:
        """The rules' generation (changes with every rule change)."""
        row = self._db().execute("SELECT value FROM meta WHERE name='generation'").fetchone()
        return int(row[0]) if row else 0

    def rules(self) -> list[Rule]:
        """Every rule, by id."""
        rows = self._db().execute("SELECT body FROM rules ORDER BY id").fetchall()
        return [Rule.from_dict(json.loads(b)) for (b,) in rows]

    def ruleset(self) -> RuleSet:
        """The rules in force with their generation (one consistent read)."""
        db = self._db()
        db.execute("BEGIN")
        try:
            gen = self.generation()
            return RuleSet(self.rules(), gen)
        finally:
            db.execute("COMMIT")

    def get(self, rule_id: str) -> Rule | None:
        """One rule, or None."""
        row = self._db().execute("SELECT body FROM rules WHERE id=?", (rule_id,)).fetchone()
        return Rule.from_dict(json.loads(row[0])) if row else None

    def put(self, rule: Rule) -> Rule | None:
        """Create or replace a rule; returns the rule it replaced."""
        with self._tx() as db:
            row = db.execute("SELECT body FROM rules WHERE id=?", (rule.id,)).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO rules VALUES (?, ?, ?)",
                (rule.id, rule.kind, json.dumps(rule.to_dict(), sort_keys=True)),
            )
            db.execute("UPDATE meta SET value=value+1 WHERE name='generation'")
        return Rule.from_dict(json.loads(row[0])) if row else None

    def delete(self, rule_id: str) -> Rule | None:
        """Delete a rule (and its usage); returns it, or None when there was none."""
        with self._tx() as db:
            row = db.execute("SELECT body FROM rules WHERE id=?", (rule_id,)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM rules WHERE id=?", (rule_id,))
            db.execute("DELETE FROM usage WHERE bucket >= ? AND bucket < ?",
                       (rule_id + "|", rule_id + "}"))  # fmt: skip
            db.execute("UPDATE meta SET value=value+1 WHERE name='generation'")
        return Rule.from_dict(json.loads(row[0]))

    # -- usage snapshot ----------------------------------------------------------------
    def save_usage(self, rows: Iterable[tuple[str, int, int]]) -> None:
        """Write (bucket, slot, amount) rows (replacing what was there)."""
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO usage VALUES (?, ?, ?)", list(rows))

    def load_usage(self) -> list[tuple[str, int, int]]:
        """Every (bucket, slot, amount) row."""
        rows = self._db().execute("SELECT bucket, slot, amount FROM usage").fetchall()
        return [(str(b), int(s), int(a)) for b, s, a in rows]

    def prune_usage(self, bucket: str, before: int) -> None:
        """Drop a bucket's slots older than ``before`` (they no longer count)."""
        with self._tx() as db:
            db.execute("DELETE FROM usage WHERE bucket=? AND slot<?", (bucket, before))
