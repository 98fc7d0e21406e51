"""Per-key-id failure throttle: bounds the PBKDF2 work a guessed key id can cost.

Every verification that reaches the database for a key id first takes a slot here. Once
``max_failures`` attempts for one key id have failed (a wrong secret, or an unknown id:
both count, so that the throttle's behaviour does not tell which ids exist) within
``window_s`` seconds, further attempts for that id are refused without any lookup or
hash until ``window_s`` has passed since the last counted failure. Attempts still in
flight count against the limit, so a burst of concurrent guesses cannot overshoot it.

The table is bounded (least recently used ids are forgotten first). Forgetting an id
gives it a fresh budget of ``max_failures``; an attacker would need ``max_ids`` other
guesses (which cost no hash) to evict one id, so the bound on hashing per request stays
small either way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _IdState:
    window_start: float
    failures: int = 0
    inflight: int = 0
    locked_until: float = float("-inf")


class FailureThrottle:
    """Counts failed attempts per key id in a window; thread-safe."""

    def __init__(
        self,
        *,
        max_failures: int,
        window_s: float,
        max_ids: int,
        clock: Callable[[], float],
    ) -> None:
        if max_failures < 1 or window_s <= 0 or max_ids < 1:
            raise ValueError("max_failures, window_s and max_ids must be positive")
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_ids = max_ids
        self._clock = clock
        self._lock = threading.Lock()
        self._ids: OrderedDict[str, _IdState] = OrderedDict()
        self.refused = 0

    def begin(self, key_id: str) -> bool:
        """Take a slot for one attempt on ``key_id``; False: refuse it (do no work)."""
        now = self._clock()
        with self._lock:
            state = self._ids.get(key_id)
            if state is None:
                state = _IdState(window_start=now)
                self._ids[key_id] = state
                while len(self._ids) > self.max_ids:
                    self._ids.popitem(last=False)
            else:
                self._ids.move_to_end(key_id)
            if now < state.locked_until:
                self.refused += 1
                return False
            if now - state.window_start >= self.window_s:
                state.window_start, state.failures = now, 0
            if state.failures + state.inflight >= self.max_failures:
                self.refused += 1
                return False
            state.inflight += 1
            return True

    def end(self, key_id: str, *, failed: bool) -> None:
        """Release the slot taken by :meth:`begin`; count a failure when ``failed``."""
        now = self._clock()
        with self._lock:
            state = self._ids.get(key_id)
            if state is None:  # forgotten meanwhile
                return
            state.inflight = max(0, state.inflight - 1)
            if failed:
                state.failures += 1
                if state.failures >= self.max_failures:
                    state.locked_until = now + self.window_s

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)
