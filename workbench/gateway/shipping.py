"""Ships log records from a gateway replica to the single log writer.

Records are buffered in memory and sent in batches by one background task. A batch
is dropped from the buffer only once the sink acknowledged it (the sink makes it
durable before it acks); a failed send is retried with backoff, so a LogSink restart
loses nothing. The sink de-duplicates by request id, so a retry after a lost ack
duplicates nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

SendFn = Callable[[list[dict[str, Any]]], Awaitable[Any]]


class LogShipper:
    """Batching, retrying, at-least-once record shipper."""

    def __init__(
        self,
        send: SendFn,
        *,
        batch_max: int = 256,
        interval_s: float = 0.05,
        max_buffer: int = 200_000,
    ) -> None:
        self._send = send
        self.batch_max = batch_max
        self.interval_s = interval_s
        self.max_buffer = max_buffer
        self._buf: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failures = 0
        self.dropped = 0

    @property
    def backlog(self) -> int:
        """Records not yet acknowledged."""
        return len(self._buf)

    def submit(self, record: dict[str, Any]) -> None:
        """Queue one record (never blocks, never raises)."""
        if len(self._buf) >= self.max_buffer:
            self.dropped += 1
            log.error(
                "log buffer full (%d); dropping record %s",
                self.max_buffer,
                record.get("request_id"),
            )
            return
        self._buf.append(record)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        if len(self._buf) >= self.batch_max:
            self._wake.set()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            if not self._buf:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
                except TimeoutError:
                    pass
                continue
            if len(self._buf) < self.batch_max:
                # let a batch build up for at most one interval
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
                except TimeoutError:
                    pass
            batch = self._buf[: self.batch_max]
            try:
                await self._send(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # sink down or restarting: keep and retry
                self.failures += 1
                log.warning("log sink send failed (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            del self._buf[: len(batch)]
            self.sent += len(batch)

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record is acknowledged (or the timeout passes)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self._buf and loop.time() < end:
            self._wake.set()
            await asyncio.sleep(0.02)
        return not self._buf
