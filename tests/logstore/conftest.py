"""Fixtures for the log-store tests: a temp WORKBENCH_HOME and record factories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workbench.home import logs_dir

Records = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The log lake root under a temporary WORKBENCH_HOME."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_LOG_DIR", raising=False)
    return logs_dir()


def _make(n: int, prefix: str = "r", hours: int = 1, start: int = 0) -> list[dict[str, Any]]:
    """``n`` realistic records spread over ``hours`` recent UTC hours."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    for i in range(start, start + n):
        received = base - timedelta(hours=i % hours) + timedelta(seconds=i % 59)
        out.append(
            {
                "request_id": f"{prefix}{i}",
                "received_at": received,
                "done_at": received.timestamp() + 0.25,
                "latency_ms": 250.0,
                "endpoint": "/v1/chat/completions",
                "method": "POST",
                "stream": False,
                "model_requested": "tiny",
                "provider": "local",
                "status": "ok",
                "http_status": 200,
                "prompt_tokens": 10 + i,
                "completion_tokens": 5,
                "total_tokens": 15 + i,
                "metadata": {"i": i},
                "tags": ["test"],
                "guardrail_verdicts": [{"name": "regex", "passed": True, "ms": 0.1}],
            }
        )
    return out


@pytest.fixture
def make_records() -> Records:
    """Factory: ``make_records(n, prefix="r", hours=1, start=0)``."""
    return _make
