"""``LogSink``: the single writer of the request log.

It makes every batch durable (spooled and fsynced by
:class:`workbench.logstore.LogWriter`) before acknowledging it, and flushes to
Parquet partitions in the background. Restarted after a crash, it replays its spool.
A record that does not fit the log schema never fails a batch: the writer keeps it
with the offending fields null (or rejects it alone) and dead-letters the original
under ``<log root>/deadletter/``. A second background thread compacts closed hourly
partitions (:func:`workbench.logstore.compact_closed`). A third serves erasure and
retention requests through the same writer, between flushes, and applies the
per-workspace retention limits daily (:mod:`workbench.governance.lakeops`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
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

    def __init__(
        self,
        root: str,
        flush_rows: int,
        flush_interval_s: float,
        home: str,
        compact_interval_s: float = 300.0,
        compact_grace_s: float = 900.0,
    ) -> None:
        os.environ.setdefault("WORKBENCH_HOME", home)
        from workbench.logstore import LogWriter

        self.writer = LogWriter(
            Path(root), flush_rows=flush_rows, flush_interval_s=flush_interval_s
        )
        self._stop = threading.Event()
        self._interval = min(0.25, flush_interval_s)
        self._compact_interval = compact_interval_s
        self._compact_grace = compact_grace_s
        self.compaction: dict[str, Any] = {"runs": 0, "errors": 0, "last": None, "at": None}
        self._threads = [
            threading.Thread(target=self._flusher, name="logsink-flush", daemon=True),
            threading.Thread(target=self._compactor, name="logsink-compact", daemon=True),
            threading.Thread(target=self._maintain, name="logsink-lakeops", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _flusher(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.writer.maybe_flush()
            except Exception:
                log.exception("log flush failed; will retry")

    def _compactor(self) -> None:
        from workbench.logstore import compact_closed

        while not self._stop.wait(self._compact_interval):
            try:
                report = compact_closed(self.writer, grace_s=self._compact_grace)
            except Exception:
                self.compaction["errors"] += 1
                log.exception("log compaction failed; will retry")
                continue
            self.compaction.update(runs=self.compaction["runs"] + 1, at=time.time())
            self.compaction["last"] = report.as_dict()

    def _maintain(self) -> None:
        """Erasure and retention requests (workbench.governance.lakeops), run through
        this sink's writer between flushes, and the daily retention pass."""
        from workbench.governance.lakeops import serve

        interval = float(os.environ.get("WORKBENCH_RETENTION_INTERVAL_S", 86400))
        serve(self.writer, self._stop, retention_interval_s=interval)

    async def write(self, records: list[dict[str, Any]]) -> dict[str, int]:
        """Durably accept records; returns ``accepted`` (new), ``duplicates`` and
        ``quarantined`` (records with a field that did not fit, see the dead letters)."""
        result: dict[str, int] = await asyncio.to_thread(self.writer.append_batch, records)
        return result

    async def flush(self) -> int:
        """Flush everything accepted so far to Parquet now."""
        n: int = await asyncio.to_thread(self.writer.flush)
        return n

    def stats(self) -> dict[str, Any]:
        """Writer counters (accepted, pending, quarantined, ...) and the compactor's state."""
        stats: dict[str, Any] = self.writer.stats()
        stats["pid"] = os.getpid()
        stats["compaction"] = dict(self.compaction)
        return stats

    def __del__(self) -> None:
        self._stop.set()
        try:
            self.writer.close()
        except Exception:
            pass
