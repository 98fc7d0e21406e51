"""The verification cache: positive and negative results, tied to the revocation generation.

Entries are keyed by a SHA-256 digest of the presented key, never the key itself.

* A positive entry remembers the record, the stored hash it was checked against and the
  generation it was read under. While the generation is current it answers with no I/O.
  When a revoke (by any process) bumps the generation, the entry becomes *stale*: the next
  request re-reads the key's row (revoked? expired? same stored hash?) but needs no PBKDF2,
  because the digest proves it is the secret that was already checked.
* A negative entry remembers a rejection (unknown id, wrong secret, revoked, expired: all
  permanent for that exact key string) for ``negative_ttl`` seconds. A rejection that
  depends on member state (a disabled member, a removed membership: not permanent) is
  remembered only while the generation it was read under is current.

Staleness bound: a cached *allow* is answered only while its generation is the cache's
current one, and the cache re-reads the generation at most ``recheck_interval`` seconds
after the last read. Every change that can withdraw or narrow a key (revoke, key update,
member disable, membership change or removal) bumps the generation in its own
transaction, so no cached allow outlives such a change by more than ``recheck_interval``
(plus the duration of one in-flight verification) in any process.

The generation is re-read from the database at most once per ``recheck_interval``
(:meth:`generation_due` says when), so a revoke takes effect within about that long.
Both tables are bounded LRU maps. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

from workbench.errors import AuthenticationError
from workbench.keys.records import KeyRecord, expired_key


class Positive(NamedTuple):
    """A verified key."""

    record: KeyRecord
    expires_ts: float | None
    generation: int
    secret_hash: str


class _Negative(NamedTuple):
    message: str
    code: str
    until: float  # monotonic deadline
    generation: int | None  # valid only under this generation (member denials)


class VerifyCache:
    """Bounded positive and negative caches plus the generation they are valid under."""

    def __init__(self, *, recheck_interval: float, negative_ttl: float, max_entries: int) -> None:
        self.recheck_interval = recheck_interval
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._positive: OrderedDict[bytes, Positive] = OrderedDict()
        self._negative: OrderedDict[bytes, _Negative] = OrderedDict()
        self.generation = 0
        self._checked = float("-inf")

    # ------------------------------------------------------------------ generation

    def generation_due(self, mono: float) -> bool:
        """Whether the generation should be re-read from the database now."""
        return mono - self._checked >= self.recheck_interval

    def set_generation(self, generation: int, mono: float) -> None:
        """Record a freshly read generation; entries of older ones become stale."""
        with self._lock:
            if generation > self.generation:
                self.generation = generation
            self._checked = mono

    def invalidate(self) -> None:
        """Make the next lookup re-read the generation (after a local revoke)."""
        with self._lock:
            self._checked = float("-inf")

    # ------------------------------------------------------------------ lookups

    def lookup(self, digest: bytes, now: float, mono: float) -> KeyRecord | Positive | None:
        """A current record; a stale :class:`Positive` to revalidate; or None (a miss).

        Raises the cached ``AuthenticationError`` of a rejected key, and
        ``expired_api_key`` when a cached key has expired at ``now`` (epoch seconds).
        """
        with self._lock:
            entry = self._positive.get(digest)
            if entry is not None:
                if entry.generation != self.generation:
                    return entry
                if entry.expires_ts is not None and now >= entry.expires_ts:
                    del self._positive[digest]
                    raise expired_key(entry.record)
                self._positive.move_to_end(digest)
                return entry.record
            rejection = self._negative.get(digest)
            if rejection is not None:
                current = rejection.generation in (None, self.generation)
                if mono < rejection.until and current:
                    raise AuthenticationError(rejection.message, code=rejection.code)
                del self._negative[digest]
        return None

    def remember(self, digest: bytes, entry: Positive) -> None:
        """Cache a verified key read under ``entry.generation``."""
        with self._lock:
            if entry.generation > self.generation:
                self.generation = entry.generation
            if entry.generation != self.generation:
                self._positive.pop(digest, None)
                return
            self._positive[digest] = entry
            self._positive.move_to_end(digest)
            while len(self._positive) > self.max_entries:
                self._positive.popitem(last=False)

    def reject(
        self,
        digest: bytes,
        error: AuthenticationError,
        mono: float,
        *,
        generation: int | None = None,
    ) -> None:
        """Cache a rejection of this exact key string: permanent, or (``generation`` given)
        valid only while that generation is current."""
        with self._lock:
            self._positive.pop(digest, None)
            if generation is not None and generation > self.generation:
                self.generation = generation
            code = error.code or "invalid_api_key"
            until = mono + self.negative_ttl
            self._negative[digest] = _Negative(error.message, code, until, generation)
            self._negative.move_to_end(digest)
            while len(self._negative) > self.max_entries:
                self._negative.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (the generation is re-read on the next lookup)."""
        with self._lock:
            self._positive.clear()
            self._negative.clear()
            self._checked = float("-inf")

    def digests(self) -> list[bytes]:
        """The cached digests (positive and negative), for inspection."""
        with self._lock:
            return [*self._positive, *self._negative]
