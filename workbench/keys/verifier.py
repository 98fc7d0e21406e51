"""Key verification, sync and async, with bounded work.

The path of one presented key:

1. missing -> 401 ``missing_api_key``; then the cache (:mod:`workbench.keys.cache`): a
   current positive answers at once, a cached rejection is raised at once. No I/O.
2. malformed -> 401. Then the per-key-id :class:`~workbench.keys.throttle.FailureThrottle`:
   a key id with too many recent failures is refused with the same 401 as a wrong secret,
   with no lookup and no hash.
3. The database row and, for a key id that exists, one PBKDF2 check under the
   :class:`~workbench.keys.hashing.HashGate` (a cap on concurrent hashes in the process).
   :meth:`Verifier.averify` runs this step in a small dedicated thread pool and refuses
   (503, ``retry_after_s``) when ``max_pending`` verifications are already queued or
   running, so a flood cannot queue unbounded work; :meth:`Verifier.verify` runs it in the
   caller's thread.
4. For a member's key (schema 3), the member's state read in the same statement as the
   row: a disabled member or a removed membership is a 401 (``member_disabled``,
   ``membership_removed``); otherwise the record returned (and cached) has its role and
   grants capped by the membership (:mod:`workbench.keys._membership`). Every member
   change bumps the generation, so a cached allow is re-checked within
   ``recheck_interval``, exactly like a revoke; a cached member denial is dropped when
   the generation moves (a re-enabled member is not refused for ``negative_ttl_s``).

An unknown key id costs no PBKDF2. So that it does not answer visibly faster than a wrong
secret for an existing id, its 401 is delayed by about one hash's duration (a sleep, which
on the async path costs the event loop nothing). The delay is only paid within the
throttle's budget: past it, known and unknown ids are both refused at once. Cached
rejections answer at once for both too.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

from workbench.errors import AuthenticationError, ServiceUnavailableError
from workbench.keys._membership import effective
from workbench.keys.cache import Positive, VerifyCache
from workbench.keys.db import KeyDB
from workbench.keys.hashing import HashGate
from workbench.keys.records import (
    KeyRecord,
    expired_key,
    invalid_key,
    missing_key,
    parse_key,
    revoked_key,
)
from workbench.keys.throttle import FailureThrottle


@dataclass(frozen=True)
class VerifyLimits:
    """Bounds on verification work (defaults suit one gateway process)."""

    max_failures: int = 10  # failed attempts per key id per window before refusing it
    failure_window_s: float = 60.0
    max_concurrent_hashes: int = 2  # PBKDF2 computations at once, process-wide
    workers: int = 4  # threads of the async path's pool
    max_pending: int = 64  # async verifications queued or running before 503
    negative_ttl_s: float = 60.0  # how long a rejected key string is remembered
    cache_max: int = 10_000  # entries per cache (positive, negative)
    throttle_max_ids: int = 100_000  # key ids the throttle remembers


class _Outcome(NamedTuple):
    record: KeyRecord | None
    error: AuthenticationError | None
    pad_s: float = 0.0  # wait this long before answering (unknown key id)
    generation: int | None = None  # a member denial: valid only under this generation

    def result(self) -> KeyRecord:
        if self.error is not None:
            raise self.error
        assert self.record is not None
        return self.record


class Verifier:
    """Verifies presented keys against a :class:`KeyDB`; thread-safe, loop-agnostic."""

    def __init__(
        self,
        db: KeyDB,
        *,
        recheck_interval: float,
        clock: Callable[[], float],
        limits: VerifyLimits,
    ) -> None:
        self.db = db
        self.limits = limits
        self._clock = clock
        self.cache = VerifyCache(
            recheck_interval=recheck_interval,
            negative_ttl=limits.negative_ttl_s,
            max_entries=limits.cache_max,
        )
        self.gate = HashGate(limits.max_concurrent_hashes)
        self.throttle = FailureThrottle(
            max_failures=limits.max_failures,
            window_s=limits.failure_window_s,
            max_ids=limits.throttle_max_ids,
            clock=clock,
        )
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._refresh_pool: ThreadPoolExecutor | None = None
        self._refreshing: Future[None] | None = None
        self.pending = 0
        self.overloaded = 0

    # ------------------------------------------------------------------ entry points

    def verify(self, presented: str | None) -> KeyRecord:
        """Blocking verification in the caller's thread."""
        presented, digest = _prepare(presented)
        mono = time.monotonic()
        if self.cache.generation_due(mono):
            self._refresh()
        hit = self.cache.lookup(digest, self._clock(), mono)
        if isinstance(hit, KeyRecord):
            return hit
        key_id, secret = self._admit(presented, hit)
        outcome = self._check(key_id, secret, digest, hit)
        if outcome.pad_s:
            time.sleep(outcome.pad_s)
        return outcome.result()

    async def averify(self, presented: str | None) -> KeyRecord:
        """Verification for an event loop: cached answers inline, I/O and hashing in the
        dedicated pool (bounded), never on the loop."""
        presented, digest = _prepare(presented)
        if self.cache.generation_due(time.monotonic()):
            await asyncio.shield(asyncio.wrap_future(self._shared_refresh()))
        hit = self.cache.lookup(digest, self._clock(), time.monotonic())
        if isinstance(hit, KeyRecord):
            return hit
        key_id, secret = parse_key(presented)
        self._reserve()
        try:
            self._admit(presented, hit)
            future = self._executor().submit(self._pooled_check, key_id, secret, digest, hit)
        except BaseException:
            self._release()
            raise
        outcome = await asyncio.shield(asyncio.wrap_future(future))
        if outcome.pad_s:
            await asyncio.sleep(outcome.pad_s)
        return outcome.result()

    def close(self) -> None:
        """Stop the pools (queued verifications are dropped)."""
        with self._lock:
            pools = (self._pool, self._refresh_pool)
            self._pool = self._refresh_pool = None
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ steps

    def _admit(self, presented: str, stale: Positive | None) -> tuple[str, str]:
        """Parse the key and, unless revalidating a known-good key, take a throttle slot."""
        key_id, secret = parse_key(presented)
        if stale is None and not self.throttle.begin(key_id):
            raise invalid_key(key_id)
        return key_id, secret

    def _check(self, key_id: str, secret: str, digest: bytes, stale: Positive | None) -> _Outcome:
        """Database row plus (at most) one PBKDF2; releases the throttle slot."""
        failed = False
        try:
            outcome = self._decide(key_id, secret, digest, stale)
            failed = outcome.error is not None and outcome.error.code == "invalid_api_key"
            if outcome.error is not None:
                self.cache.reject(
                    digest, outcome.error, time.monotonic(), generation=outcome.generation
                )
            return outcome
        finally:
            if stale is None:
                self.throttle.end(key_id, failed=failed)

    def _decide(self, key_id: str, secret: str, digest: bytes, stale: Positive | None) -> _Outcome:
        row = self.db.lookup(key_id)
        if row is None:
            return _Outcome(None, invalid_key(key_id), self.gate.typical_seconds())
        if stale is not None:  # the digest proves the secret checked before: no hash
            good = stale.secret_hash == row.secret_hash
        else:
            good = self.gate.check(secret, row.secret_hash)
        if not good:
            return _Outcome(None, invalid_key(key_id))
        record = row.record
        if record.revoked_at is not None:
            return _Outcome(None, revoked_key(record))
        expires_ts = record.expires_at.timestamp() if record.expires_at else None
        if expires_ts is not None and self._clock() >= expires_ts:
            return _Outcome(None, expired_key(record))
        try:
            record = effective(record, row.member)
        except AuthenticationError as denied:
            return _Outcome(None, denied, generation=row.generation)
        entry = Positive(record, expires_ts, row.generation, row.secret_hash)
        self.cache.remember(digest, entry)
        return _Outcome(record, None)

    def _pooled_check(
        self, key_id: str, secret: str, digest: bytes, stale: Positive | None
    ) -> _Outcome:
        try:
            return self._check(key_id, secret, digest, stale)
        finally:
            self._release()

    # ------------------------------------------------------------------ plumbing

    def _refresh(self) -> None:
        mono = time.monotonic()
        self.cache.set_generation(self.db.generation(), mono)

    def _shared_refresh(self) -> Future[None]:
        """One generation re-read, shared by every caller waiting for it. It has a thread
        of its own so that it never queues behind hashing work."""
        with self._lock:
            future = self._refreshing
            if future is None or future.done():
                if self._refresh_pool is None:
                    self._refresh_pool = ThreadPoolExecutor(
                        max_workers=1, thread_name_prefix="keystore-generation"
                    )
                future = self._refresh_pool.submit(self._refresh)
                self._refreshing = future
            return future

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.limits.workers, thread_name_prefix="keystore-verify"
                )
            return self._pool

    def _reserve(self) -> None:
        with self._lock:
            if self.pending >= self.limits.max_pending:
                self.overloaded += 1
                raise ServiceUnavailableError(
                    "API key verification is busy; retry shortly",
                    code="auth_busy",
                    retry_after_s=1.0,
                )
            self.pending += 1

    def _release(self) -> None:
        with self._lock:
            self.pending -= 1


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _prepare(presented: str | None) -> tuple[str, bytes]:
    """The stripped key and its SHA-256 digest (the cache key); 401 when missing."""
    if presented is None or not presented.strip():
        raise missing_key()
    presented = presented.strip()
    return presented, hashlib.sha256(_encode(presented)).digest()
