"""KeyStore.averify: cached answers on the loop, SQLite and PBKDF2 off it, and every kind of
verification work bounded (per key id, process-wide, queued)."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import AuthenticationError, ServiceUnavailableError
from workbench.keys import KeyStore, VerifyLimits
from workbench.keys import hashing as hashing_mod


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "keys.sqlite"


@pytest.fixture
def store(db: Path) -> Iterator[KeyStore]:
    with KeyStore(db) as s:
        yield s


def _random_secret() -> str:
    return secrets.token_urlsafe(32)


def _guess(key: str) -> str:
    """The same key id with a random (wrong) secret."""
    return key[:16] + _random_secret()


def _unknown_key() -> str:
    return "wb-" + secrets.token_hex(6) + "-" + _random_secret()


async def _auth_error(store: KeyStore, presented: str | None) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as info:
        await store.averify(presented)
    return info.value


class SlowHash:
    """Replaces check_secret: records the thread and concurrency, waits on a gate."""

    def __init__(self, hold_s: float = 0.0) -> None:
        self.real = hashing_mod.check_secret
        self.hold_s = hold_s
        self.release = threading.Event()
        self.release.set()
        self.threads: set[int] = set()
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()

    def __call__(self, secret: str, stored: str) -> bool:
        with self.lock:
            self.threads.add(threading.get_ident())
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            self.release.wait(10)
            time.sleep(self.hold_s)
            return self.real(secret, stored)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def slow_hash(monkeypatch: pytest.MonkeyPatch) -> SlowHash:
    fake = SlowHash()
    monkeypatch.setattr(hashing_mod, "check_secret", fake)
    return fake


async def test_averify_matches_verify_and_errors(store: KeyStore) -> None:
    record, key = store.create("team-a", "nb")
    assert await store.averify(key) == record
    assert await store.averify(f" {key}\n") == record
    assert (await _auth_error(store, None)).code == "missing_api_key"
    assert "malformed" in (await _auth_error(store, "wb-nope")).message
    store.revoke(record.key_id)
    assert (await _auth_error(store, key)).code == "revoked_api_key"


async def test_db_and_pbkdf2_run_off_the_loop(store: KeyStore, slow_hash: SlowHash) -> None:
    _, key = store.create("team-a")
    lookups: set[int] = set()
    real_lookup = store.db.lookup

    def lookup(key_id: str) -> Any:
        lookups.add(threading.get_ident())
        return real_lookup(key_id)

    store.db.lookup = lookup  # type: ignore[method-assign]
    slow_hash.hold_s = 0.3
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    await store.averify(key)
    during = ticks - before
    task.cancel()
    loop_thread = threading.get_ident()
    assert lookups and loop_thread not in lookups
    assert slow_hash.threads and loop_thread not in slow_hash.threads
    assert during >= 5, f"the loop ran only {during} ticks while a 0.3 s hash ran"


async def test_cached_positive_is_answered_on_the_loop_without_io(db: Path) -> None:
    with KeyStore(db, recheck_interval=3600) as store:
        record, key = store.create("team-a")
        await store.averify(key)

        def no_pool() -> None:
            raise AssertionError("a cached answer used the worker pool")

        store.verifier._executor = no_pool  # type: ignore[method-assign,assignment]
        for _ in range(100):
            assert await store.averify(key) == record
        assert store.verifier.gate.computations == 1


async def test_unknown_key_ids_cost_no_pbkdf2_and_read_like_a_wrong_secret(
    store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    record, key = store.create("team-a")
    wrong = await _auth_error(store, _guess(key))
    assert store.verifier.gate.computations == 1
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, *args: Any) -> Any:
        slept.append(delay)
        return await real_sleep(delay, *args)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    unknown_key = _unknown_key()
    unknown = await _auth_error(store, unknown_key)
    for _ in range(20):
        await _auth_error(store, _unknown_key())
    assert store.verifier.gate.computations == 1  # no hash for any unknown id
    # same code and the same words: only the (caller's own) key id differs
    assert wrong.code == unknown.code == "invalid_api_key"
    assert wrong.message.replace(record.key_id, "ID") == unknown.message.replace(
        unknown_key[3:15], "ID"
    )
    # each unknown id was answered after a pause of about one hash (costing the loop nothing)
    typical = store.verifier.gate.typical_seconds()
    assert len(slept) == 21 and all(d == pytest.approx(typical, rel=0.5) for d in slept)


async def test_wrong_secrets_per_key_id_are_throttled_without_hashing(db: Path) -> None:
    clock = FakeClock()
    limits = VerifyLimits(max_failures=3, failure_window_s=60)
    with KeyStore(db, clock=clock, limits=limits) as store:
        record, key = store.create("team-a")
        _, other_key = store.create("team-b")
        first = await _auth_error(store, _guess(key))
        for _ in range(2):
            await _auth_error(store, _guess(key))
        assert store.verifier.gate.computations == 3
        for _ in range(20):  # locked: the same answer, no hash
            err = await _auth_error(store, _guess(key))
            assert (err.message, err.code) == (first.message, first.code)
        assert store.verifier.gate.computations == 3
        # while locked, even the right secret is refused unless it was verified before
        assert (await _auth_error(store, key)).message == first.message
        # other key ids are not affected
        assert (await store.averify(other_key)).workspace == "team-b"
        clock.now += 61  # the window passes: hashing resumes
        assert await store.averify(key) == record
        assert store.verifier.gate.computations == 5


async def test_unknown_ids_are_throttled_the_same_way(db: Path, monkeypatch) -> None:
    limits = VerifyLimits(max_failures=2, failure_window_s=60)
    with KeyStore(db, limits=limits) as store:
        base = _unknown_key()
        typical = store.verifier.gate.typical_seconds()
        slept: list[float] = []
        real_sleep = asyncio.sleep

        async def recording_sleep(delay: float, *args: Any) -> Any:
            slept.append(delay)
            return await real_sleep(delay, *args)

        monkeypatch.setattr(asyncio, "sleep", recording_sleep)
        for _ in range(6):
            await _auth_error(store, _guess(base))
        assert slept == [typical, typical]  # padded within the budget, refused at once after
        assert store.verifier.throttle.refused == 4


async def test_a_verified_key_survives_a_lockout_of_its_id(db: Path) -> None:
    limits = VerifyLimits(max_failures=2, failure_window_s=600)
    with KeyStore(db, recheck_interval=0.0, limits=limits) as store:
        record, key = store.create("team-a")
        third, _ = store.create("team-a")
        await store.averify(key)
        for _ in range(5):
            await _auth_error(store, _guess(key))
        store.revoke(third.key_id)  # bumps the generation: the cached entry goes stale
        before = store.verifier.gate.computations
        assert await store.averify(key) == record  # revalidated from its row, no hash
        assert store.verifier.gate.computations == before
        with KeyStore(db, limits=limits) as fresh:  # a process that never verified it
            assert await fresh.averify(key) == record  # its own throttle is fresh


async def test_a_burst_of_guesses_for_one_id_hashes_at_most_max_failures(
    db: Path, slow_hash: SlowHash
) -> None:
    limits = VerifyLimits(max_failures=4, workers=4, max_pending=200)
    with KeyStore(db, limits=limits) as store:
        _, key = store.create("team-a")
        slow_hash.hold_s = 0.02
        results = await asyncio.gather(
            *(store.averify(_guess(key)) for _ in range(60)), return_exceptions=True
        )
        assert all(isinstance(r, AuthenticationError) for r in results)
        assert store.verifier.gate.computations == 4
        assert store.verifier.pending == 0


async def test_concurrent_pbkdf2_is_capped_process_wide(db: Path, slow_hash: SlowHash) -> None:
    limits = VerifyLimits(max_concurrent_hashes=2, workers=6)
    with KeyStore(db, limits=limits) as store:
        made = [store.create("ws") for _ in range(8)]
        slow_hash.hold_s = 0.05
        slow_hash.max_running = 0
        got = await asyncio.gather(*(store.averify(k) for _, k in made))
        assert got == [r for r, _ in made]
        assert slow_hash.max_running == 2


async def test_a_flood_cannot_queue_unbounded_work(db: Path, slow_hash: SlowHash) -> None:
    limits = VerifyLimits(max_pending=4, workers=2)
    with KeyStore(db, limits=limits, recheck_interval=3600) as store:
        made = [store.create("ws") for _ in range(10)]
        await store.averify(store.create("ws")[1])  # the generation is read: no refresh below
        slow_hash.release.clear()  # hold every hash until the flood has been answered
        tasks = [asyncio.create_task(store.averify(k)) for _, k in made]
        await asyncio.sleep(0.05)
        busy = [t for t in tasks if t.done()]
        assert len(busy) == 6 and store.verifier.pending == 4
        for t in busy:
            exc = t.exception()
            assert isinstance(exc, ServiceUnavailableError)
            assert exc.status == 503 and exc.retry_after_s == 1.0
        slow_hash.release.set()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert sum(not isinstance(d, BaseException) for d in done) == 4
        assert store.verifier.pending == 0


async def test_rejections_are_cached(store: KeyStore) -> None:
    _, key = store.create("team-a")
    wrong = _guess(key)
    for _ in range(5):
        await _auth_error(store, wrong)
    assert store.verifier.gate.computations == 1
    unknown = _unknown_key()
    for _ in range(5):
        await _auth_error(store, unknown)
    assert store.verifier.gate.computations == 1


async def test_cancelled_verifications_release_their_slots(db: Path, slow_hash: SlowHash) -> None:
    limits = VerifyLimits(max_pending=3, workers=1, max_failures=4)
    with KeyStore(db, limits=limits) as store:
        _, key = store.create("team-a")
        slow_hash.release.clear()
        tasks = [asyncio.create_task(store.averify(_guess(key))) for _ in range(3)]
        await asyncio.sleep(0.05)
        for t in tasks:
            t.cancel()
        slow_hash.release.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        deadline = time.monotonic() + 5
        while store.verifier.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert store.verifier.pending == 0
        assert await store.averify(key)  # three failures counted, none leaked in flight


async def test_generation_refresh_is_shared_and_off_the_loop(db: Path) -> None:
    with KeyStore(db, recheck_interval=0.2) as store:
        made = [store.create("ws") for _ in range(5)]
        for _, k in made:
            await store.averify(k)
        reads: list[int] = []
        real = store.db.generation

        def generation() -> int:
            reads.append(threading.get_ident())
            time.sleep(0.05)
            return real()

        store.db.generation = generation  # type: ignore[method-assign]
        await asyncio.sleep(0.25)
        await asyncio.gather(*(store.averify(k) for _, k in made * 4))
        assert len(reads) == 1 and threading.get_ident() not in reads


async def test_revoke_elsewhere_reaches_averify_within_a_second(db: Path) -> None:
    with KeyStore(db) as gateway:
        record, key = gateway.create("team-a")
        _, other = gateway.create("team-a")
        await gateway.averify(key)
        await gateway.averify(other)
        with KeyStore(db) as cli:
            cli.revoke(record.key_id)
        revoked_at = time.monotonic()
        while True:
            try:
                await gateway.averify(key)
            except AuthenticationError as exc:
                assert exc.code == "revoked_api_key"
                break
            assert time.monotonic() - revoked_at < 1.5, "revocation not seen within 1.5 s"
            await asyncio.sleep(0.01)
        assert (await gateway.averify(other)).workspace == "team-a"


def test_sync_verify_shares_limits_with_averify(db: Path) -> None:
    limits = VerifyLimits(max_failures=2)
    with KeyStore(db, limits=limits) as store:
        _, key = store.create("team-a")
        for _ in range(2):
            with pytest.raises(AuthenticationError):
                store.verify(_guess(key))
        with pytest.raises(AuthenticationError):
            asyncio.run(store.averify(_guess(key)))
        assert store.verifier.gate.computations == 2
