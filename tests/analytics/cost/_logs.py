"""Hand-made request logs for the cost tests, written through the real LogWriter."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.logstore import LogWriter

_n = 0


def record(at: datetime, **fields: Any) -> dict[str, Any]:
    """A log record at ``at`` (UTC); ``body`` (a dict) becomes request_original/body."""
    global _n
    _n += 1
    body = fields.pop("body", None)
    rec: dict[str, Any] = {
        "request_id": fields.pop("request_id", f"req-{_n:07d}"),
        "received_at": at,
        "endpoint": "/v1/chat/completions",
        "method": "POST",
        "status": "ok",
        "http_status": 200,
        "workspace": "ws-a",
        "key_id": "key-1",
        "model_requested": "gpt-4o",
        "model_served": "gpt-4o",
        "provider": "openai-compatible",
        "prompt_tokens": 10,
        "completion_tokens": 10,
        "cost_usd": 0.01,
        "policy_hash": "p1",
        "cache_status": "miss",
    }
    rec.update(fields)
    if body is not None:
        text = json.dumps(body)
        rec.setdefault("request_original", text)
        rec.setdefault("request_body", text)
        rec["temperature"] = body.get("temperature")
        rec["max_tokens"] = body.get("max_tokens")
    return rec


def write(root: Path, records: Iterable[dict[str, Any]]) -> None:
    """Write ``records`` into the lake at ``root`` and flush."""
    with_writer = LogWriter(root)
    try:
        with_writer.append(list(records))
        with_writer.flush()
    finally:
        with_writer.close()


def chat(text: str, **params: Any) -> dict[str, Any]:
    """A chat request body with one user message."""
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **params}
