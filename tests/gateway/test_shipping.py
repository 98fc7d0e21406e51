"""LogShipper: at-least-once delivery, poison isolation, bounded permanent retries, health.

The sink side is a real LogWriter on a temp dir, called the way the LogSink calls it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from workbench.gateway.shipping import LogShipper, is_permanent_error
from workbench.logstore import LogWriter, normalize_record, query, read_dead_letters

Batch = list[dict[str, Any]]


def _record(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": f"q{i:03d}",
        "received_at": datetime.now(UTC),
        "status": "ok",
        "http_status": 200,
        "prompt_tokens": i,
        **extra,
    }


async def _until(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < end, f"gave up waiting for {what}"
        await asyncio.sleep(0.01)


def _logged(root: Path) -> list[str]:
    return query("SELECT request_id FROM requests ORDER BY request_id", root)[
        "request_id"
    ].to_list()


@pytest.fixture
def writer(tmp_path: Path) -> Any:
    w = LogWriter(tmp_path / "logs")
    yield w
    w.close()


def _sink(writer: LogWriter) -> Callable[[Batch], Awaitable[dict[str, int]]]:
    """What the LogSink deployment's ``write`` does."""

    async def send(batch: Batch) -> dict[str, int]:
        return await asyncio.to_thread(writer.append_batch, batch)

    return send


async def test_poison_record_in_a_batch_does_not_stall_the_log(writer: LogWriter) -> None:
    shipper = LogShipper(_sink(writer), batch_max=16, interval_s=0.01)
    for i in range(40):
        extra = {"max_tokens": 3_000_000_000} if i == 7 else {}
        extra = {"seed": 2**64} if i == 23 else extra
        shipper.submit(_record(i, **extra))
    assert await shipper.drain(timeout=20)
    for i in range(40, 50):  # and later records still flow
        shipper.submit(_record(i))
    assert await shipper.drain(timeout=20)
    writer.flush()
    assert _logged(writer.root) == [f"q{i:03d}" for i in range(50)]
    health = shipper.health()
    assert health["backlog"] == 0 and health["failures"] == 0 and not health["stalled"]
    assert health["quarantined"] == 2 and health["dead_lettered"] == 0
    dead = {d["request_id"]: d for d in read_dead_letters(writer.root)}
    assert set(dead) == {"q007", "q023"}
    assert "max_tokens" in dead["q007"]["reasons"][0]
    assert dead["q023"]["record"]["seed"] == 2**64


async def test_permanent_rejection_is_isolated_then_dead_lettered(
    writer: LogWriter, tmp_path: Path
) -> None:
    """A sink that refuses a whole batch for one bad record (as the old LogSink did)."""
    sends: list[int] = []

    async def strict_send(batch: Batch) -> dict[str, int]:
        sends.append(len(batch))
        for rec in batch:
            normalize_record(rec)  # ValueError for the whole batch
        return await asyncio.to_thread(writer.append_batch, batch)

    local = tmp_path / "replica-local"
    shipper = LogShipper(strict_send, batch_max=64, interval_s=0.01, dead_letter_root=local)
    for i in range(64):
        shipper.submit(_record(i, max_tokens=3_000_000_000) if i == 37 else _record(i))
    assert await shipper.drain(timeout=30)
    writer.flush()
    assert _logged(writer.root) == [f"q{i:03d}" for i in range(64) if i != 37]
    health = shipper.health()
    assert health["dead_lettered"] == 1 and health["backlog"] == 0 and not health["stalled"]
    assert health["sent"] == 63 and health["consecutive_failures"] == 0
    assert health["last_error"] == "ValueError"
    assert sends.count(1) >= 3  # the lone poison record was tried permanent_retries times
    assert len(sends) < 30  # bisection, not one send per record
    (entry,) = read_dead_letters(local)
    assert entry["request_id"] == "q037" and entry["action"] == "rejected"
    assert entry["source"].startswith("shipper-")
    assert "max_tokens" in entry["reasons"][0]
    assert entry["record"]["max_tokens"] == 3_000_000_000


async def test_unserialisable_record_is_dead_lettered(tmp_path: Path) -> None:
    got: Batch = []

    async def send(batch: Batch) -> None:
        for rec in batch:
            if isinstance(rec.get("metadata"), threading.Lock().__class__):
                raise TypeError("cannot pickle '_thread.lock' object")
        got.extend(batch)

    shipper = LogShipper(send, batch_max=8, interval_s=0.01, dead_letter_root=tmp_path)
    shipper.submit(_record(1))
    shipper.submit(_record(2, metadata=threading.Lock()))
    shipper.submit(_record(3))
    assert await shipper.drain(timeout=20)
    assert [r["request_id"] for r in got] == ["q001", "q003"]
    (entry,) = read_dead_letters(tmp_path)
    assert entry["request_id"] == "q002" and "TypeError" in entry["reasons"][0]


async def test_transient_outage_is_retried_until_the_sink_is_back(writer: LogWriter) -> None:
    down = {"on": True}
    attempts = {"n": 0}
    real = _sink(writer)

    async def flaky(batch: Batch) -> dict[str, int]:
        attempts["n"] += 1
        if down["on"]:
            raise ConnectionError("sink restarting")
        return await real(batch)

    shipper = LogShipper(flaky, batch_max=10, interval_s=0.01, permanent_retries=2)
    for i in range(25):
        shipper.submit(_record(i))
    # far more failures than permanent_retries: a transient error never drops a record
    await _until(lambda: shipper.consecutive_failures >= 6, "repeated send failures")
    health = shipper.health()
    assert health["backlog"] == 25 and health["last_error"] == "ConnectionError"
    assert health["dead_lettered"] == 0 and health["oldest_age_s"] > 0
    down["on"] = False
    assert await shipper.drain(timeout=30)
    writer.flush()
    assert _logged(writer.root) == [f"q{i:03d}" for i in range(25)]
    assert shipper.health()["consecutive_failures"] == 0
    assert read_dead_letters(writer.root) == []


async def test_health_reports_a_stalled_log() -> None:
    down = {"on": True}
    got: Batch = []

    async def send(batch: Batch) -> None:
        if down["on"]:
            raise OSError("no space left on device")
        got.extend(batch)

    shipper = LogShipper(send, batch_max=4, interval_s=0.01, stall_after_s=0.3)
    assert shipper.health()["stalled"] is False  # idle is not stalled
    shipper.submit(_record(1))
    await _until(lambda: shipper.health()["stalled"], "the stall to be reported")
    assert shipper.health()["backlog"] == 1
    down["on"] = False
    assert await shipper.drain(timeout=30)
    assert shipper.health()["stalled"] is False and len(got) == 1


async def test_full_buffer_counts_drops_and_reports_stalled() -> None:
    async def never(batch: Batch) -> None:
        raise ConnectionError("down")

    shipper = LogShipper(never, batch_max=2, interval_s=0.01, max_buffer=3)
    for i in range(5):
        shipper.submit(_record(i))
    health = shipper.health()
    assert health["backlog"] == 3 and health["dropped"] == 2 and health["stalled"]
    assert shipper._task is not None
    shipper._task.cancel()


def test_error_classification_matches_ray_exceptions() -> None:
    from ray.exceptions import ActorDiedError, RayTaskError

    dual = RayTaskError("write", "Traceback...", ValueError("max_tokens out of range"))
    assert is_permanent_error(dual.as_instanceof_cause())
    assert is_permanent_error(dual)  # via .cause
    assert not is_permanent_error(RayTaskError("write", "tb", OSError("disk full")))
    assert not is_permanent_error(ActorDiedError())
    assert not is_permanent_error(ConnectionError("refused"))
    assert not is_permanent_error(TimeoutError())
    assert not is_permanent_error(RuntimeError("LogWriter is closed"))
    assert is_permanent_error(TypeError("cannot pickle"))
