"""The request-log schema (version 3): one row per request, Arrow types and field docs.

Version 2 added what a faithful replay needs: the request as the client sent it
(``request_original``, before input guardrails rewrote it) and the raw upstream answers
before output guardrails (``upstream_outputs``), each with a flag saying whether spans a
secret/PII check flagged had to be masked in it. Version 3 added the cache fields
(``cache_similarity``, ``cache_key``, ``cost_saved_usd``).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

SCHEMA_VERSION = 3
"""Version of the record schema this code writes (see :mod:`workbench.logstore.migrations`)."""

_TS = pa.timestamp("us", tz="UTC")

# (name, arrow type, human description). Only request_id and received_at are required.
_SPEC: tuple[tuple[str, pa.DataType, str], ...] = (
    ("request_id", pa.string(), "Unique id of the request; makes log writes idempotent."),
    ("trace_id", pa.string(), "Distributed-trace id propagated from the client, if any."),
    ("schema_version", pa.int16(), "Log schema version the record was written under."),
    ("received_at", _TS, "When the gateway received the request (UTC)."),
    ("first_byte_at", _TS, "When the first response byte/token was sent (UTC)."),
    ("done_at", _TS, "When the response finished (UTC)."),
    ("latency_ms", pa.float64(), "Total wall time from receipt to completion, ms."),
    ("ttft_ms", pa.float64(), "Time to first token (streaming) or first byte, ms."),
    ("gateway_overhead_ms", pa.float64(), "Time spent in the gateway itself, ms."),
    ("upstream_ms", pa.float64(), "Time spent waiting on the model/provider, ms."),
    ("queue_wait_ms", pa.float64(), "Time queued before a replica took the request, ms."),
    ("batch_size", pa.int32(), "Size of the dynamic batch the request ran in (local models)."),
    ("endpoint", pa.string(), "API path, e.g. /v1/chat/completions."),
    ("method", pa.string(), "HTTP method."),
    ("stream", pa.bool_(), "Whether the client asked for a streamed (SSE) response."),
    ("model_requested", pa.string(), "Model name the client asked for."),
    ("model_served", pa.string(), "Model that actually answered (after routing/fallback)."),
    ("provider", pa.string(), "Provider that served the request (local, openai-compatible, ...)."),
    ("target", pa.string(), "Routing target name from the policy."),
    ("replica", pa.string(), "Replica/actor id that served the request."),
    ("http_status", pa.int16(), "HTTP status returned to the client."),
    ("status", pa.string(), "Outcome: ok, error or rejected (blocked by a guardrail/limit)."),
    ("error_type", pa.string(), "OpenAI-style error type when status is not ok."),
    ("error_code", pa.string(), "OpenAI-style error code when status is not ok."),
    ("error_message", pa.string(), "Error message when status is not ok."),
    ("finish_reason", pa.string(), "Why generation stopped (stop, length, content_filter, ...)."),
    ("prompt_tokens", pa.int32(), "Input tokens billed/counted."),
    ("completion_tokens", pa.int32(), "Output tokens billed/counted."),
    ("total_tokens", pa.int32(), "prompt_tokens + completion_tokens."),
    ("cost_usd", pa.float64(), "Estimated cost in USD from the price table."),
    ("price_table_version", pa.string(), "Version of the price table used for cost_usd."),
    ("workspace", pa.string(), "Workspace (tenant) the API key belongs to."),
    ("key_id", pa.string(), "Id of the API key used (never the secret)."),
    ("user", pa.string(), "End-user id supplied by the client (OpenAI `user`)."),
    ("metadata", pa.string(), "Client-supplied metadata, as JSON text."),
    ("tags", pa.list_(pa.string()), "Free-form tags attached to the request."),
    ("policy_id", pa.string(), "Id of the policy the request ran under."),
    ("policy_hash", pa.string(), "Content hash of that policy version."),
    ("guardrail_verdicts", pa.string(), "Guardrail results with latencies, as JSON list text."),
    (
        "cache_status",
        pa.string(),
        "Cache outcome: hit, semantic_hit, miss, bypass (client opt-out or not cacheable) "
        "or disabled (the policy does not cache).",
    ),
    ("routing_attempts", pa.string(), "Each routing attempt (target, outcome, ms), JSON list."),
    ("attempt_count", pa.int16(), "Number of upstream attempts (retries + fallbacks)."),
    ("client_ip", pa.string(), "Client IP address (may be redacted by policy)."),
    ("user_agent", pa.string(), "Client User-Agent header."),
    ("request_body", pa.string(), "Request body after redaction, if bodies are stored."),
    ("response_body", pa.string(), "Response body after redaction, if bodies are stored."),
    ("bodies_stored", pa.bool_(), "Whether request/response bodies were kept for this record."),
    ("temperature", pa.float64(), "Sampling temperature requested."),
    ("top_p", pa.float64(), "Nucleus-sampling top_p requested."),
    ("max_tokens", pa.int32(), "Maximum output tokens requested."),
    ("seed", pa.int64(), "Sampling seed requested."),
    ("n", pa.int16(), "Number of choices requested."),
    ("upstream_request_id", pa.string(), "Request id returned by the upstream provider."),
    ("gateway_version", pa.string(), "Version of the gateway that handled the request."),
    # v2: replayable requests
    (
        "request_original",
        pa.string(),
        "Request body as the client sent it (all parameters), before input guardrails "
        "rewrote it; spans a secret/PII check flagged are masked. Null when bodies are not "
        "stored, and null when it equals `request_body` (no input check rewrote the "
        "request; read `coalesce(request_original, request_body)`).",
    ),
    (
        "request_masked",
        pa.bool_(),
        "request_original had spans a secret/PII check flagged masked (a replay of checks "
        "on those spans is approximate).",
    ),
    (
        "upstream_outputs",
        pa.string(),
        "Raw upstream answers before output guardrails, one JSON object per answer in "
        "attempt order: {target, text, finish_reason, prompt_tokens, completion_tokens}; "
        "flagged spans masked. Null when none answered or bodies are not stored.",
    ),
    (
        "output_masked",
        pa.bool_(),
        "upstream_outputs had spans a secret/PII check flagged masked.",
    ),
    # v3: the cache
    (
        "cache_similarity",
        pa.float64(),
        "Cosine similarity of the cached conversation a semantic_hit served (null otherwise).",
    ),
    (
        "cache_key",
        pa.string(),
        "Exact-cache key (hex SHA-256) of the entry served on a hit, or of the entry stored "
        "on a miss that stored its answer; null otherwise.",
    ),
    (
        "cost_saved_usd",
        pa.float64(),
        "On a cache hit: what the cached answer cost when it was generated (the hit's own "
        "cost_usd is 0). Null otherwise.",
    ),
)

V2_FIELD_NAMES: tuple[str, ...] = (
    "request_original",
    "request_masked",
    "upstream_outputs",
    "output_masked",
)
"""The fields schema version 2 added (migration ``m0002_replay_fields``)."""

V3_FIELD_NAMES: tuple[str, ...] = ("cache_similarity", "cache_key", "cost_saved_usd")
"""The fields schema version 3 added (migration ``m0003_cache_fields``)."""

REQUIRED: frozenset[str] = frozenset({"request_id", "received_at"})
"""Fields that may not be null."""

FIELDS: tuple[pa.Field, ...] = tuple(
    pa.field(name, typ, nullable=name not in REQUIRED) for name, typ, _ in _SPEC
)
"""The record fields of the current schema version, in column order."""

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)

FIELD_DOCS: dict[str, str] = {name: doc for name, _, doc in _SPEC}
"""A short human description of every field (and partition column)."""
FIELD_DOCS["date"] = "Partition column: UTC date of received_at, 'YYYY-MM-DD'."
FIELD_DOCS["hour"] = "Partition column: UTC hour of received_at, 0-23."

PARTITION_COLUMNS: tuple[str, ...] = ("date", "hour")
"""Hive partition columns derived from received_at (not stored inside the files)."""


def schema() -> pa.Schema:
    """The Arrow schema of a record (without the partition columns)."""
    return pa.schema(
        list(FIELDS), metadata={b"workbench.schema_version": str(SCHEMA_VERSION).encode()}
    )


def partition_of(received_at: datetime) -> tuple[str, int]:
    """The ``(date, hour)`` partition of a UTC timestamp."""
    return received_at.strftime("%Y-%m-%d"), received_at.hour


def partition_dir(date: str, hour: int) -> str:
    """Relative directory of a partition: ``date=YYYY-MM-DD/hour=HH``."""
    return f"date={date}/hour={hour:02d}"
