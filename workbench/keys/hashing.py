"""Secrets at rest: salted PBKDF2-HMAC-SHA256, and a gate that bounds the hashing work.

The secret carries 256 bits of entropy, so the KDF is there for defence in depth (a leaked
database gives no usable keys), not to slow brute force of a guessable password: a modest
cost keeps a first (uncached) verify at a few milliseconds. The cost is stored with each
hash, so raising it later does not invalidate existing keys.

:class:`HashGate` is what verification goes through: at most ``max_concurrent`` PBKDF2
computations run at once in the process (the others wait), every computation is counted,
and their typical duration is tracked so that an answer that needed no hash (an unknown
key id) can be delayed by about as long, without computing anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time

HASH_SCHEME = "pbkdf2_sha256"
PBKDF2_ITERATIONS = 10_000
SALT_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, *, iterations: int = PBKDF2_ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<digest>`` for a new random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("ascii"), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def check_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` matches a :func:`hash_secret` string (constant-time compare)."""
    try:
        scheme, iterations, salt, expected = stored.split("$")
        rounds = int(iterations)
    except ValueError:
        return False
    if scheme != HASH_SCHEME or rounds < 1:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("ascii"), _unb64(salt), rounds)
    return hmac.compare_digest(digest, _unb64(expected))


class HashGate:
    """Bounds, counts and times the PBKDF2 checks of one key store.

    Thread-safe. ``check`` blocks while ``max_concurrent`` checks are running.
    """

    def __init__(self, max_concurrent: int = 2) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._lock = threading.Lock()
        self.computations = 0  # secret checks run (calibration excluded)
        self._typical_s: float | None = None

    def check(self, secret: str, stored: str) -> bool:
        """:func:`check_secret` under the concurrency cap; counted and timed."""
        with self._slots:
            start = time.perf_counter()
            ok = check_secret(secret, stored)
            elapsed = time.perf_counter() - start
        with self._lock:
            self.computations += 1
            self._observe(elapsed)
        return ok

    def typical_seconds(self) -> float:
        """About how long one check takes here (a moving average).

        Before the first real check, one calibration hash of a constant is timed, once.
        """
        with self._lock:
            if self._typical_s is not None:
                return self._typical_s
        with self._slots:
            start = time.perf_counter()
            hashlib.pbkdf2_hmac("sha256", b"calibration", b"\0" * SALT_BYTES, PBKDF2_ITERATIONS)
            elapsed = time.perf_counter() - start
        with self._lock:
            if self._typical_s is None:
                self._typical_s = elapsed
            return self._typical_s

    def _observe(self, elapsed: float) -> None:
        if self._typical_s is None:
            self._typical_s = elapsed
        else:
            self._typical_s += 0.1 * (elapsed - self._typical_s)
