"""Hand-made requests with guardrail verdicts, and the failed-verdict counts recomputed in
Python from the records (the known answers of the verdict-rollup tests)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workbench.logstore import LogWriter

BASE = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # 600 records every 30 s: 10:00-14:59 UTC
N = 600
Key = tuple[str | None, ...]


def _verdicts(i: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"check": "ok-check", "validator": "regex", "stage": "input", "passed": True,
         "action": "deny", "mode": "enforce"},
    ]  # fmt: skip
    if i % 4 == 0:  # no mode: reads as enforce
        out.append({"check": "redact-pii", "validator": "pii", "stage": "input",
                    "passed": False, "action": "redact"})  # fmt: skip
    if i % 6 == 0:  # a stream stopped in its second window: two failed verdicts
        for _ in range(2):
            out.append({"check": "toxicity", "validator": "toxicity", "stage": "stream",
                        "passed": False, "action": "deny", "mode": "enforce"})  # fmt: skip
    if i % 10 == 0:
        out.append({"check": "watch", "validator": "regex", "stage": "output",
                    "passed": False, "action": "flag", "mode": "log_only"})  # fmt: skip
    if i % 9 == 0:  # no outcome: not a failure
        out.append({"check": "odd", "validator": "regex", "stage": "input", "action": "flag"})
    return out


def record(i: int) -> dict[str, Any]:
    """Record ``i`` (workspace ``w{i % 3}``)."""
    return {
        "request_id": f"v{i:04d}",
        "received_at": BASE + timedelta(seconds=30 * i),
        "workspace": f"w{i % 3}",
        "key_id": "k",
        "model_served": "m",
        "status": "ok",
        "latency_ms": 10.0,
        "guardrail_verdicts": _verdicts(i) if i % 13 else None,
    }


RECORDS = [record(i) for i in range(N)]


def write(root: Path, records: list[dict[str, Any]] = RECORDS, batch: int = 70) -> None:
    """Append through the real LogWriter, one flush per batch (several files an hour)."""
    with LogWriter(root) as writer:
        for k in range(0, len(records), batch):
            writer.append(records[k : k + batch])
            writer.flush()


def expected(
    records: Iterable[dict[str, Any]],
    since: datetime | None = None,
    until: datetime | None = None,
    workspaces: list[str] | None = None,
) -> tuple[dict[Key, tuple[int, int]], int]:
    """``({(check, validator, stage, action, mode): (verdicts, requests)}, requests with
    a failed verdict)`` of the records in ``[since, until)`` and the workspaces."""
    verdicts: dict[Key, int] = {}
    ids: dict[Key, set[str]] = {}
    anywhere: set[str] = set()
    for r in records:
        t = r["received_at"]
        if (since and t < since) or (until and t >= until):
            continue
        if workspaces is not None and r["workspace"] not in workspaces:
            continue
        for v in r["guardrail_verdicts"] or []:
            if v.get("passed") is not False:
                continue
            key = (v["check"], v["validator"], v["stage"], v["action"], v.get("mode") or "enforce")
            verdicts[key] = verdicts.get(key, 0) + 1
            ids.setdefault(key, set()).add(r["request_id"])
            anywhere.add(r["request_id"])
    return {k: (verdicts[k], len(ids[k])) for k in verdicts}, len(anywhere)
