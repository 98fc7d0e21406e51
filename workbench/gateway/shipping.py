"""Ships log records from a gateway replica to the single log writer.

Records are buffered in memory and sent in batches by one background task. A batch is
dropped from the buffer only once the sink acknowledged it (the sink makes it durable
before it acks). The sink de-duplicates by request id, so a retry after a lost ack
duplicates nothing.

Failures come in two kinds (:func:`is_permanent_error`):

- **transient** (the sink is down, restarting, overloaded, its disk is full): the batch
  is retried with backoff for as long as it takes, so a LogSink restart loses nothing;
- **permanent** (the sink rejected the data itself, e.g. a ``ValueError``, or the batch
  cannot even be serialised): the batch is split in halves until the failing record is
  alone, the good records go through, and the failing one is retried a bounded number
  of times and then written to a local dead-letter file, so one poison record can never
  stall the log.

:meth:`LogShipper.submit_acked` queues a record and gives a future that resolves once the
sink acknowledged it (or it was dead-lettered or dropped, or ``ack_timeout_s`` passed: a
request never waits on a sink that is down for longer than that); while anyone waits, a
batch goes out at once instead of after ``interval_s`` (records that arrive during a send
go in the next one: a group commit).

:meth:`LogShipper.health` reports the backlog, the age of the oldest unacknowledged
record and whether the log is stalled, for ``/health``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SendFn = Callable[[list[dict[str, Any]]], Awaitable[Any]]
#: A buffered record: (monotonic submit time, record, the future of submit_acked or None).
Entry = tuple[float, dict[str, Any], "asyncio.Future[None] | None"]


def _resolve(ack: asyncio.Future[None] | None) -> None:
    if ack is not None and not ack.done():
        ack.set_result(None)

PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # includes UnicodeError and the sink's validation errors
    TypeError,
    KeyError,
    AttributeError,
    OverflowError,
    pickle.PicklingError,
)
"""Exception types that mean "this data will never be accepted" (Ray re-raises a
deployment's exception as an instance of the original class as well)."""


def is_permanent_error(exc: BaseException) -> bool:
    """Whether retrying the same batch can never succeed (everything else is transient)."""
    cause = getattr(exc, "cause", None)  # a RayTaskError that is not a dual instance
    return isinstance(exc, PERMANENT_ERRORS) or isinstance(cause, PERMANENT_ERRORS)


def _default_dead_letter_dir() -> Path:
    from workbench.home import logs_dir

    return logs_dir()


class LogShipper:
    """Batching, retrying, at-least-once record shipper."""

    def __init__(
        self,
        send: SendFn,
        *,
        batch_max: int = 256,
        interval_s: float = 0.05,
        max_buffer: int = 200_000,
        permanent_retries: int = 3,
        stall_after_s: float = 30.0,
        dead_letter_root: Path | None = None,
        is_permanent: Callable[[BaseException], bool] = is_permanent_error,
        ack_timeout_s: float = 2.0,
    ) -> None:
        self._send = send
        self.batch_max = batch_max
        self.interval_s = interval_s
        self.max_buffer = max_buffer
        self.permanent_retries = max(1, permanent_retries)
        self.stall_after_s = stall_after_s
        self._dead_root = dead_letter_root
        self._is_permanent = is_permanent
        self.ack_timeout_s = ack_timeout_s
        self._buf: list[Entry] = []
        self._waiters = 0  # records in the buffer whose acknowledgement someone awaits
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._window = batch_max  # shrinks while a permanent failure is being isolated
        self._strikes = 0  # permanent failures of the single record at the head
        self.sent = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.dropped = 0
        self.dead_lettered = 0
        self.quarantined = 0
        self.last_error: str | None = None

    @property
    def backlog(self) -> int:
        """Records not yet acknowledged."""
        return len(self._buf)

    def submit(self, record: dict[str, Any]) -> None:
        """Queue one record (never blocks, never raises)."""
        self._queue(record, None)

    def submit_acked(self, record: dict[str, Any]) -> asyncio.Future[None]:
        """Queue one record; a future that resolves when the sink acknowledged it (or it
        was dead-lettered or dropped, or after ``ack_timeout_s``). Never raises."""
        loop = asyncio.get_running_loop()
        ack: asyncio.Future[None] = loop.create_future()
        if self._queue(record, ack):
            self._waiters += 1
            self._wake.set()  # no batch build-up while someone waits
            loop.call_later(self.ack_timeout_s, _resolve, ack)
        return ack

    def _queue(self, record: dict[str, Any], ack: asyncio.Future[None] | None) -> bool:
        if len(self._buf) >= self.max_buffer:
            self.dropped += 1
            log.error(
                "log buffer full (%d); dropping record %s",
                self.max_buffer,
                record.get("request_id"),
            )
            _resolve(ack)
            return False
        self._buf.append((time.monotonic(), record, ack))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        if len(self._buf) >= self.batch_max:
            self._wake.set()
        return True

    def _release(self, entries: list[Entry]) -> None:
        """Resolve the acknowledgements of records that left the buffer."""
        for _, _, ack in entries:
            if ack is not None:
                self._waiters -= 1
                _resolve(ack)

    def health(self) -> dict[str, Any]:
        """Counters for ``/health``; ``stalled`` when records wait past ``stall_after_s``."""
        oldest = time.monotonic() - self._buf[0][0] if self._buf else 0.0
        return {
            "backlog": len(self._buf),
            "sent": self.sent,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "oldest_age_s": round(oldest, 3),
            "quarantined": self.quarantined,
            "dead_lettered": self.dead_lettered,
            "dropped": self.dropped,
            "last_error": self.last_error,
            "stalled": bool(self._buf)
            and (oldest >= self.stall_after_s or len(self._buf) >= self.max_buffer),
        }

    async def _wait(self) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
        except TimeoutError:
            pass

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            if not self._buf:
                await self._wait()
                continue
            if (len(self._buf) < self.batch_max and self._window == self.batch_max
                    and not self._waiters):  # fmt: skip
                await self._wait()  # let a batch build up for at most one interval
            n = min(len(self._buf), self._window)
            batch = [rec for _, rec, _ in self._buf[:n]]
            try:
                result = await self._send(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                self.consecutive_failures += 1
                self.last_error = type(exc).__name__
                if self._is_permanent(exc):
                    if await self._on_permanent(n, exc):
                        continue  # retry at once with a smaller batch / the next record
                else:  # sink down or restarting: keep and retry
                    log.warning(
                        "log sink send failed (%s: %.200s); retrying in %.1fs",
                        type(exc).__name__,
                        str(exc),
                        backoff,
                    )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            self._acked(n, result)

    def _acked(self, n: int, result: Any) -> None:
        self._release(self._buf[:n])
        del self._buf[:n]
        self.sent += n
        self.consecutive_failures = 0
        self._strikes = 0
        self._window = min(self.batch_max, self._window * 2)
        if isinstance(result, Mapping):
            self.quarantined += int(result.get("quarantined", 0) or 0)

    async def _on_permanent(self, n: int, exc: BaseException) -> bool:
        """Narrow a permanent failure down to one record; True to retry without a pause."""
        if n > 1:
            self._window = max(1, n // 2)
            self._strikes = 0
            return True
        self._strikes += 1
        if self._strikes < self.permanent_retries:
            return False
        entry = self._buf.pop(0)
        self._strikes = 0
        self._window = self.batch_max
        await self._dead_letter(entry[1], exc)
        self._release([entry])
        return True

    async def _dead_letter(self, record: dict[str, Any], exc: BaseException) -> None:
        rid = record.get("request_id")
        reason = f"log sink rejected the record: {type(exc).__name__}: {exc}"[:1000]
        try:
            from workbench.logstore.deadletter import (
                dead_letter_entry,
                dead_letter_path,
                write_dead_letters,
            )

            root = self._dead_root
            if root is None:
                root = await asyncio.to_thread(_default_dead_letter_dir)
            source = f"shipper-{socket.gethostname()}-{os.getpid()}"
            entry = dead_letter_entry(source, record, [reason], action="rejected")
            path = dead_letter_path(root, source)
            await asyncio.to_thread(write_dead_letters, path, [entry])
        except Exception as write_exc:  # nowhere to keep it: count it as dropped
            self.dropped += 1
            log.error("could not dead-letter log record %s: %s", rid, type(write_exc).__name__)
            return
        self.dead_lettered += 1
        log.error(
            "log sink rejected record %s %d times (%s); dead-lettered to %s",
            rid,
            self.permanent_retries,
            type(exc).__name__,
            path,
        )

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record is acknowledged (or the timeout passes)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self._buf and loop.time() < end:
            self._wake.set()
            await asyncio.sleep(0.02)
        return not self._buf
