"""A hand-made request log written through the real LogWriter, with known answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workbench.logstore import LogWriter

BASE = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # the log covers 10:00-12:59 UTC


def record(i: int) -> dict[str, Any]:
    """Record ``i``: every field a simple function of ``i`` (so tests can recompute)."""
    status = ("ok", "ok", "ok", "error", "rejected")[i % 5]
    denied = status == "rejected" and i % 2 == 0
    verdicts = [{"check": "pii", "action": "deny" if denied else "none", "passed": not denied}]
    if i % 7 == 0:
        verdicts.append({"check": "jailbreak", "action": "flag", "passed": False})
    return {
        "request_id": f"req-{i:05d}",
        "received_at": BASE + timedelta(seconds=13 * i),  # 830 records span ~3 hours
        "latency_ms": float(5 + (i * 37) % 2000),
        "ttft_ms": float(1 + (i * 11) % 300) if i % 2 else None,
        "endpoint": "/v1/chat/completions",
        "method": "POST",
        "stream": i % 2 == 1,
        "workspace": ("acme", "globex")[i % 2],
        "key_id": f"key-{i % 4}",
        "user": f"user-{i % 3}",
        "model_requested": ("small", "large", "small")[i % 3],
        "model_served": ("small", "large", "small")[i % 3],
        "status": status,
        "http_status": {"ok": 200, "error": 502, "rejected": 400}[status],
        "error_code": "guardrail_denied" if denied else None,
        "cache_status": "hit" if i % 6 == 0 else "miss",
        "prompt_tokens": 10 + i % 50,
        "completion_tokens": 3 + i % 20,
        "cost_usd": round(0.001 * (1 + i % 10), 6),
        "tags": [("alpha", "beta")[i % 2]] + (["gamma"] if i % 5 == 0 else []),
        "guardrail_verdicts": json.dumps(verdicts),
        "request_body": json.dumps({"messages": [{"role": "user", "content": f"question {i}"}]}),
        "response_body": "refund granted" if i % 50 == 0 else f"answer {i}",
    }


N = 830
RECORDS = [record(i) for i in range(N)]


def write_log(root: Path, records: list[dict[str, Any]], batch: int = 97) -> None:
    """Append in batches, one flush each (many small files, as the LogSink makes)."""
    with LogWriter(root) as writer:
        for k in range(0, len(records), batch):
            writer.append(records[k : k + batch])
            writer.flush()


@pytest.fixture
def lake(wb_home: Path) -> Path:
    """The hand-made log written into a fresh lake; returns the lake root."""
    root = wb_home / "logs"
    write_log(root, RECORDS)
    return root
