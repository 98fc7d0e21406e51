"""Per-request state and the log record it becomes.

A :class:`RequestContext` travels through the ingress pipeline; every request,
rejected and failed ones included, ends as exactly one record (the current schema of
:mod:`workbench.logstore`).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from workbench import __version__
from workbench.errors import WorkbenchError
from workbench.logstore.schema import SCHEMA_VERSION

_MS = 1000.0


def new_request_id() -> str:
    """A sortable-enough unique request id."""
    return uuid.uuid4().hex


@dataclass
class RequestContext:
    """What the gateway knows about one request."""

    endpoint: str
    method: str = "POST"
    request_id: str = field(default_factory=new_request_id)
    trace_id: str | None = None
    received: float = field(default_factory=time.time)
    received_perf: float = field(default_factory=time.perf_counter)
    first_byte_perf: float | None = None
    done_perf: float | None = None
    upstream_s: float = 0.0
    stream: bool = False
    model_requested: str | None = None
    model_served: str | None = None
    provider: str | None = None
    target: str | None = None
    replica: str | None = None
    http_status: int = 200
    error: WorkbenchError | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    price_table_version: str | None = None
    workspace: str | None = None
    key_id: str | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    policy_id: str | None = None
    policy_hash: str | None = None
    guardrail_verdicts: list[dict[str, Any]] = field(default_factory=list)
    cache_status: str = "bypass"
    cache_similarity: float | None = None  # cosine of a semantic hit
    cache_key: str | None = None  # the entry served (hit) or stored (miss)
    cost_saved_usd: float | None = None  # a hit: what the cached answer cost
    routing_attempts: list[dict[str, Any]] = field(default_factory=list)
    queue_wait_ms: float | None = None
    batch_size: int | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    request_body: str | None = None
    response_body: str | None = None
    request_original: str | None = None
    request_masked: bool = False
    upstream_outputs: list[dict[str, Any]] = field(default_factory=list)
    output_masked: bool = False
    store_bodies: bool = True
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    n: int | None = None
    upstream_request_id: str | None = None
    # background work (log-only guardrails) the record waits for; not logged itself
    pending: list[Any] = field(default_factory=list)
    # the cache's plan for this request (workbench.cache._plan.Plan); not logged itself
    cache_plan: Any = None
    # who is calling (workbench.governance.Principal; None without auth); not logged itself
    principal: Any = None
    # what the limits stage reserved (workbench.limits.client.Admission); not logged itself
    limits_hold: Any = None

    def mark_first_byte(self) -> None:
        """Record the time the first response byte left (once)."""
        if self.first_byte_perf is None:
            self.first_byte_perf = time.perf_counter()

    def add_upstream_output(
        self,
        target: str | None,
        text: str | None,
        finish_reason: str | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
    ) -> None:
        """Keep one raw upstream answer (before output guardrails) for the log."""
        self.upstream_outputs.append(
            {
                "target": target,
                "text": text,
                "finish_reason": finish_reason,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
            }
        )

    def fail(self, err: WorkbenchError) -> None:
        """Record an error outcome."""
        self.error = err
        self.http_status = err.status

    def finish(self) -> None:
        """Stamp the end time (idempotent)."""
        if self.done_perf is None:
            self.done_perf = time.perf_counter()

    @property
    def status(self) -> str:
        """``ok``, ``rejected`` (4xx) or ``error`` (5xx / mid-stream failure)."""
        if 400 <= self.http_status < 500:
            return "rejected"
        if self.error is None and self.http_status < 400:
            return "ok"
        return "error"

    def to_record(self) -> dict[str, Any]:
        """The log record (the current log schema)."""
        self.finish()
        assert self.done_perf is not None
        latency = (self.done_perf - self.received_perf) * _MS
        ttft = (
            (self.first_byte_perf - self.received_perf) * _MS
            if self.first_byte_perf is not None
            else None
        )
        upstream = self.upstream_s * _MS if self.upstream_s else None
        err = self.error
        pt, ct = self.prompt_tokens, self.completion_tokens
        return {
            "request_id": self.request_id,
            "trace_id": self.trace_id or self.request_id,
            "schema_version": SCHEMA_VERSION,
            "received_at": self.received,
            "first_byte_at": (
                self.received + (self.first_byte_perf - self.received_perf)
                if self.first_byte_perf is not None
                else None
            ),
            "done_at": self.received + (self.done_perf - self.received_perf),
            "latency_ms": latency,
            "ttft_ms": ttft,
            "gateway_overhead_ms": latency - (upstream or 0.0),
            "upstream_ms": upstream,
            "queue_wait_ms": self.queue_wait_ms,
            "batch_size": self.batch_size,
            "endpoint": self.endpoint,
            "method": self.method,
            "stream": self.stream,
            "model_requested": self.model_requested,
            "model_served": self.model_served,
            "provider": self.provider,
            "target": self.target,
            "replica": self.replica,
            "http_status": self.http_status,
            "status": self.status,
            "error_type": err.type if err else None,
            "error_code": err.code if err else None,
            "error_message": err.message[:2000] if err else None,
            "finish_reason": self.finish_reason,
            "prompt_tokens": pt,
            "completion_tokens": ct,
            "total_tokens": (pt or 0) + (ct or 0) if (pt is not None or ct is not None) else None,
            "cost_usd": self.cost_usd,
            "price_table_version": self.price_table_version,
            "workspace": self.workspace,
            "key_id": self.key_id,
            "user": self.user,
            "metadata": json.dumps(self.metadata) if self.metadata else None,
            "tags": self.tags,
            "policy_id": self.policy_id,
            "policy_hash": self.policy_hash,
            "guardrail_verdicts": json.dumps(self.guardrail_verdicts),
            "cache_status": self.cache_status,
            "cache_similarity": self.cache_similarity,
            "cache_key": self.cache_key,
            "cost_saved_usd": self.cost_saved_usd,
            "routing_attempts": json.dumps(self.routing_attempts),
            "attempt_count": len(self.routing_attempts),
            "client_ip": self.client_ip,
            "user_agent": self.user_agent,
            "request_body": self.request_body if self.store_bodies else None,
            "response_body": self.response_body if self.store_bodies else None,
            "bodies_stored": self.store_bodies,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "n": self.n,
            "upstream_request_id": self.upstream_request_id,
            "gateway_version": __version__,
            **self._replay_fields(),
        }

    def _replay_fields(self) -> dict[str, Any]:
        """The v2 fields a replay needs (only when bodies are stored).

        ``request_original`` is left null when it equals ``request_body`` (no input check
        rewrote the request): the record is not shipped, spooled and stored twice.
        """
        keep = self.store_bodies
        outputs = self.upstream_outputs if keep and self.upstream_outputs else None
        original = self.request_original if keep else None
        if original == self.request_body:  # no input rewrite: request_body holds it already
            original = None
        return {
            "request_original": original,
            "request_masked": self.request_masked if keep else None,
            "upstream_outputs": json.dumps(outputs, ensure_ascii=False) if outputs else None,
            "output_masked": self.output_masked if outputs else None,
        }
