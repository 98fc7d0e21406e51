"""FailureThrottle on its own: budget per key id, in-flight attempts, window, bounded table."""

from __future__ import annotations

import pytest

from workbench.keys.throttle import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(clock: Clock, **kw: int) -> FailureThrottle:
    opts = {"max_failures": 3, "window_s": 10, "max_ids": 100, **kw}
    return FailureThrottle(clock=clock, **opts)


def test_failures_lock_an_id_until_the_window_passes() -> None:
    clock = Clock()
    t = _throttle(clock)
    for _ in range(3):
        assert t.begin("a")
        t.end("a", failed=True)
    assert not t.begin("a") and t.begin("b")
    clock.now += 9.9
    assert not t.begin("a")
    clock.now += 0.2
    assert t.begin("a")
    assert t.refused == 2


def test_successes_do_not_count_and_in_flight_attempts_do() -> None:
    t = _throttle(Clock())
    for _ in range(10):
        assert t.begin("a")
        t.end("a", failed=False)
    assert [t.begin("a") for _ in range(4)] == [True, True, True, False]
    t.end("a", failed=False)
    assert t.begin("a")


def test_the_window_restarts_after_quiet_time() -> None:
    clock = Clock()
    t = _throttle(clock)
    for _ in range(2):
        t.begin("a")
        t.end("a", failed=True)
    clock.now += 11
    for _ in range(2):  # the two old failures no longer count
        assert t.begin("a")
        t.end("a", failed=True)
    assert t.begin("a")


def test_the_table_is_bounded() -> None:
    t = _throttle(Clock(), max_ids=50)
    for i in range(500):
        t.begin(f"id{i}")
        t.end(f"id{i}", failed=True)
    assert len(t) == 50
    t.end("id0", failed=True)  # forgotten ids are ignored


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        FailureThrottle(max_failures=0, window_s=1, max_ids=1, clock=Clock())
