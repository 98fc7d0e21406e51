"""Hand-made request logs written through the real LogWriter."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from workbench.logstore import LogWriter

_n = 0


def record(at: datetime, **fields: Any) -> dict[str, Any]:
    """One log record at ``at``."""
    global _n
    _n += 1
    rec: dict[str, Any] = {
        "request_id": f"an-{_n:08d}",
        "received_at": at,
        "endpoint": "/v1/chat/completions",
        "method": "POST",
        "status": "ok",
        "http_status": 200,
        "workspace": "ws-a",
        "key_id": "key-1",
        "model_requested": "m1",
        "model_served": "m1",
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "total_tokens": 150,
        "cost_usd": 0.001,
        "latency_ms": 500.0,
        "ttft_ms": 100.0,
        "cache_status": "miss",
    }
    rec.update(fields)
    return rec


def hourly(
    start: datetime, hours: int, per_hour: int = 40, errors: int = 0
) -> list[dict[str, Any]]:
    """``per_hour`` requests an hour (evenly spread), the first ``errors`` of each failing."""
    out = []
    step = timedelta(minutes=60 / per_hour)
    for h in range(hours):
        for i in range(per_hour):
            at = start + timedelta(hours=h) + i * step
            if i < errors:
                out.append(record(at, status="error", http_status=502, error_code="upstream_error"))
            else:
                out.append(record(at))
    return out


def write(root: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append ``records`` to the lake at ``root`` and flush."""
    writer = LogWriter(root)
    try:
        writer.append(list(records))
        writer.flush()
    finally:
        writer.close()
