"""Assemble one batch of draws and outcomes into a log table of the lake's schema."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench import __version__
from workbench.logstore.schema import SCHEMA_VERSION, schema

from ._bodies import bodies, text_index
from ._catalog import PolicyInfo
from ._outcome import DENIED, FAILURES, Outcome
from ._rows import Draws
from ._strings import cat, hex_ids, num, pick, where
from ._verdicts import attempts_json, verdicts_json

__all__ = ["build_table"]

_TS = pa.timestamp("us", tz="UTC")


def _masked(values: np.ndarray, valid: np.ndarray, typ: pa.DataType) -> pa.Array:
    return pa.array(values, typ, mask=~valid)


def _errors(d: Draws, o: Outcome, policy: PolicyInfo, user_text: pa.Array) -> dict[str, Any]:
    from ._verdicts import classifier_reason

    kinds = sorted(FAILURES)
    idx = np.searchsorted(kinds, np.maximum(o.error, kinds[0]))
    failed = o.error > 0
    etype = where(failed, pick([FAILURES[k][1] for k in kinds], idx), None)
    ecode = where(failed, pick([FAILURES[k][2] for k in kinds], idx), None)
    last = np.where(o.fallback >= 0, o.fallback, d.model)
    target = pick(list(d.cast.model_names), last)
    upstream_msg = {
        1: cat("upstream ", target, " gave no answer within 30s"),
        2: cat("upstream ", target, " answered 500: internal server error"),
        3: cat("upstream ", target, " answered 429: Rate limit reached for requests"),
        4: cat("upstream ", target, " answered 503: the server is overloaded"),
        5: cat("upstream ", target, " unreachable: connection refused"),
        6: pa.array(["rate limit of this key exceeded; retry later"] * len(d.t)),
    }
    secrets = policy.check("secrets")
    msg = where(o.error == DENIED, where(d.kind == 2, secrets.message or "denied", None), None)
    for code, name, check in (
        (3, "prompt_injection", "prompt-injection"),
        (4, "jailbreak", "jailbreak"),
    ):
        text = cat(
            f"input refused by guardrail '{check}' ({name}): ", classifier_reason(name, o.score)
        )
        msg = where((o.error == DENIED) & (d.kind == code), text, msg)
    for code, text in upstream_msg.items():
        msg = where(o.error == code, text, msg)
    return {"error_type": etype, "error_code": ecode, "error_message": msg}


def _served(d: Draws, o: Outcome) -> dict[str, Any]:
    answered = o.served >= 0
    s = np.maximum(o.served, 0)
    models = d.cast.models
    local = np.array([m.provider == "local" for m in models])[s] & answered & (o.cache != 2)
    return {
        "model_served": where(answered, pick([m.upstream_model for m in models], s), None),
        "provider": where(answered, pick([m.provider for m in models], s), None),
        "target": where(answered, pick([m.name for m in models], s), None),
        "queue_wait_ms": _masked(d.rng.lognormal(np.log(4.0), 0.8, len(s)), local, pa.float64()),
        "batch_size": _masked(d.rng.integers(1, 17, len(s)), local, pa.int32()),
        "finish_reason": where(answered, where(o.length_cut, "length", "stop"), None),
        "prompt_tokens": _masked(o.prompt_tokens, answered, pa.int32()),
        "completion_tokens": _masked(o.completion_tokens, answered, pa.int32()),
        "total_tokens": _masked(o.prompt_tokens + o.completion_tokens, answered, pa.int32()),
        "cost_usd": _masked(np.nan_to_num(o.cost), ~np.isnan(o.cost), pa.float64()),
        "upstream_request_id": where(
            answered & (o.cache != 2), cat("chatcmpl-up-", hex_ids(d.rng, len(s))), None
        ),
    }


def _times(d: Draws, o: Outcome) -> dict[str, Any]:
    t = d.t
    has_up = ~np.isnan(o.upstream)
    return {
        "received_at": pa.array(t, _TS),
        "first_byte_at": pa.array(t + (o.ttft * 1000).astype(np.int64), _TS),
        "done_at": pa.array(t + (o.latency * 1000).astype(np.int64), _TS),
        "latency_ms": pa.array(o.latency),
        "ttft_ms": pa.array(o.ttft),
        "gateway_overhead_ms": pa.array(o.latency - np.nan_to_num(o.upstream)),
        "upstream_ms": _masked(np.nan_to_num(o.upstream), has_up, pa.float64()),
    }


def build_table(d: Draws, o: Outcome, policy: PolicyInfo, price_version: str) -> pa.Table:
    """The batch as a table with exactly the lake's schema (column order and types)."""
    n = len(d.t)
    rid = hex_ids(d.rng, n)
    b = bodies(d, o, rid)
    stored = np.array([w.store_bodies for w in d.cast.workspaces])[d.ws]
    status = np.where(o.http_status < 400, "ok", np.where(o.http_status < 500, "rejected", "error"))
    cache = pick(["bypass", "miss", "hit"], o.cache)
    key_app = pick([f"app:{ws.split('-')[-1]}" for ws in d.cast.ws_names], d.ws)
    cols: dict[str, Any] = {
        "request_id": rid, "trace_id": rid,
        "schema_version": pa.array(np.full(n, SCHEMA_VERSION, np.int16)),
        **_times(d, o),
        "endpoint": pa.array(["/v1/chat/completions"] * n), "method": pa.array(["POST"] * n),
        "stream": pa.array(d.stream), "model_requested": pick(list(d.cast.model_names), d.model),
        **_served(d, o), "http_status": pa.array(o.http_status), "status": pa.array(status),
        **_errors(d, o, policy, b.user_text),
        "price_table_version": pa.array([price_version] * n),
        "workspace": pick(list(d.cast.ws_names), d.ws),
        "key_id": pick(list(d.cast.key_id), d.key), "user": pick(list(d.cast.user_id), d.user),
        "tags": pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), key_app),
        "policy_id": pa.array([policy.id] * n), "policy_hash": pa.array([policy.hash] * n, pa.string()),
        "guardrail_verdicts": verdicts_json(d, o, policy, text_index(d), b.user_text, b.answer),
        "cache_status": cache, "routing_attempts": attempts_json(d, o),
        "attempt_count": pa.array((o.tried.astype(np.int16) + (o.fallback >= 0))),
        "client_ip": cat("10.20.", num(d.key // 250), ".", num(d.key % 250 + 1)),
        "user_agent": pick(list(d.cast.key_ua), d.key),
        "request_body": b.request, "response_body": b.response,
        "bodies_stored": pa.array(stored),
        "temperature": pa.array(d.cast.key_temp[d.key]), "max_tokens": pa.array(d.max_tokens),
        "gateway_version": pa.array([__version__] * n),
        "request_original": b.request,
        "request_masked": _masked((d.kind == 1) | (d.kind == 2), stored, pa.bool_()),
        "upstream_outputs": b.upstream_outputs,
        "output_masked": _masked(np.zeros(n, bool), np.asarray(pc.is_valid(b.upstream_outputs)), pa.bool_()),
    }  # fmt: skip
    target = schema()
    arrays = [cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type) for f in target]
    return pa.Table.from_arrays(arrays, schema=target)
