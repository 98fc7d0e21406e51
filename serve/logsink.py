"""``LogSink``: the single writer of the request log.

It makes every batch durable (spooled and fsynced by
:class:`workbench.logstore.LogWriter`) before acknowledging it, and flushes to
Parquet partitions in the background. Restarted after a crash, it replays its spool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import Any

from ray import serve

log = logging.getLogger("ray.serve")


@serve.deployment(
    num_replicas=1,
    ray_actor_options={"num_cpus": 0},
    max_ongoing_requests=1000,
    health_check_period_s=5,
)
class LogSink:
    """Owns the LogWriter; gateway replicas send it batches of records."""

    def __init__(self, root: str, flush_rows: int, flush_interval_s: float, home: str) -> None:
        os.environ.setdefault("WORKBENCH_HOME", home)
        from workbench.logstore import LogWriter

        self.writer = LogWriter(
            Path(root), flush_rows=flush_rows, flush_interval_s=flush_interval_s
        )
        self._stop = threading.Event()
        self._interval = min(0.25, flush_interval_s)
        self._thread = threading.Thread(target=self._flusher, name="logsink-flush", daemon=True)
        self._thread.start()

    def _flusher(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.writer.maybe_flush()
            except Exception:
                log.exception("log flush failed; will retry")

    async def write(self, records: list[dict[str, Any]]) -> int:
        """Durably accept records; returns how many were new (not duplicates)."""
        n: int = await asyncio.to_thread(self.writer.append, records)
        return n

    async def flush(self) -> int:
        """Flush everything accepted so far to Parquet now."""
        n: int = await asyncio.to_thread(self.writer.flush)
        return n

    def stats(self) -> dict[str, Any]:
        """Writer counters."""
        stats: dict[str, Any] = self.writer.stats()
        stats["pid"] = os.getpid()
        return stats

    def __del__(self) -> None:
        self._stop.set()
        try:
            self.writer.close()
        except Exception:
            pass
