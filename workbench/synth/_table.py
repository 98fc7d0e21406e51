"""Assemble one batch of draws and outcomes into a log table of the lake's schema."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench import __version__
from workbench.logstore.schema import SCHEMA_VERSION, schema

from ._bodies import bodies, text_index, text_pool
from ._catalog import PolicyInfo
from ._outcome import DENIED, FAILURES, LIMITED, Outcome
from ._rows import Draws
from ._strings import cat, hex_ids, pick, where
from ._verdicts import SCORES, VerdictPools, attempts_json, classifier_reason
from ._verdicts import verdicts_json as _verdicts_json

__all__ = ["build_table"]

_TS = pa.timestamp("us", tz="UTC")
_ATTACK_CHECKS = {3: ("prompt-injection", "prompt_injection"), 4: ("jailbreak", "jailbreak")}


def _masked(values: np.ndarray, valid: np.ndarray, typ: pa.DataType) -> pa.Array:
    return pa.array(values, typ, mask=~valid)


def _messages(names: list[str], policy: PolicyInfo) -> tuple[list[str], dict[str, int]]:
    """Every error message a synthetic request can get, and where each family starts."""
    msgs: list[str] = []
    starts: dict[str, int] = {}
    upstream = {
        1: "upstream {} gave no answer within 30s",
        2: "upstream {} answered 500: internal server error",
        3: "upstream {} answered 429: Rate limit reached for requests",
        4: "upstream {} answered 503: the server is overloaded",
        5: "upstream {} unreachable: connection refused",
    }
    for kind, template in upstream.items():
        starts[f"up{kind}"] = len(msgs)
        msgs += [template.format(name) for name in names]
    starts["limit"] = len(msgs)
    msgs.append("rate limit of this key exceeded; retry later")
    starts["secret"] = len(msgs)
    msgs.append(policy.check("secrets").message or "input refused by guardrail 'block-secrets'")
    for code, (check, validator) in _ATTACK_CHECKS.items():
        starts[f"attack{code}"] = len(msgs)
        msgs += [
            f"input refused by guardrail '{check}' ({validator}): "
            + classifier_reason(validator, float(s))
            for s in SCORES
        ]
    return msgs, starts


def _errors(d: Draws, o: Outcome, policy: PolicyInfo) -> dict[str, Any]:
    kinds = sorted(FAILURES)
    idx = np.searchsorted(kinds, np.maximum(o.error, kinds[0]))
    failed = o.error > 0
    names = list(d.cast.model_names)
    msgs, starts = _messages(names, policy)
    last = np.where(o.fallback >= 0, o.fallback, d.model)
    m = np.full(len(d.t), -1)
    for kind in range(1, 6):
        m = np.where(o.error == kind, starts[f"up{kind}"] + last, m)
    m = np.where(o.error == LIMITED, starts["limit"], m)
    denied = o.error == DENIED
    m = np.where(denied & (d.kind == 2), starts["secret"], m)
    for code in _ATTACK_CHECKS:
        m = np.where(denied & (d.kind == code), starts[f"attack{code}"] + o.bucket, m)
    return {
        "error_type": where(failed, pick([FAILURES[k][1] for k in kinds], idx), None),
        "error_code": where(failed, pick([FAILURES[k][2] for k in kinds], idx), None),
        "error_message": where(m >= 0, pick(msgs, np.maximum(m, 0)), None),
    }


def _served(d: Draws, o: Outcome) -> dict[str, Any]:
    answered = o.served >= 0
    s = np.maximum(o.served, 0)
    models = d.cast.models
    upstream = answered & (o.cache != 2)
    local = np.array([m.provider == "local" for m in models])[s] & upstream
    up_id = where(upstream, cat("chatcmpl-up-", hex_ids(d.rng, len(s))), None)
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
        "upstream_request_id": up_id,
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


def _verdict_index(d: Draws, o: Outcome, pools: VerdictPools, text_idx: np.ndarray) -> tuple:
    """Rows' indexes into the input and output verdict pools."""
    tp = text_pool()
    pattern = np.zeros(len(d.t), np.int64)
    for code, family in ((1, "pii"), (2, "secret")):
        entry = text_idx - tp.offsets[family]
        pattern = np.where(d.kind == code, pools.patterns[family] + entry, pattern)
    for code, family in ((3, "injection"), (4, "jailbreak")):
        entry = text_idx - tp.offsets[family]
        caught = (d.kind == code) & ~d.missed
        pattern = np.where(caught, pools.patterns[family] + entry * len(SCORES) + o.bucket, pattern)
    out_stage = (o.served >= 0) & (o.cache != 2)
    out_pattern = np.where(out_stage, np.where(o.toxic, 2 + d.variant % 3, 1), 0)
    return pattern, out_pattern


def _client_ips(n_keys: int) -> list[str]:
    """One private client address per key (an app runs on its own host)."""
    return [f"10.20.{k // 250}.{k % 250 + 1}" for k in range(n_keys)]


def _routing(d: Draws, o: Outcome) -> pa.Array:
    return attempts_json(
        list(d.cast.model_names), [m.provider for m in d.cast.models], d.model, o.fail1,
        o.lat1, o.tried, o.fallback, o.fail2, o.lat2,
    )  # fmt: skip


def build_table(
    d: Draws, o: Outcome, policy: PolicyInfo, pools: VerdictPools, prices: str
) -> pa.Table:
    """The batch as a table with exactly the lake's schema (column order and types)."""
    n = len(d.t)
    rid = hex_ids(d.rng, n)
    text_idx = text_index(d)
    b = bodies(d, o, rid, text_idx)
    stored = np.array([w.store_bodies for w in d.cast.workspaces])[d.ws]
    status = np.where(o.http_status < 400, "ok", np.where(o.http_status < 500, "rejected", "error"))
    app = pick([f"app:{ws.split('-')[-1]}" for ws in d.cast.ws_names], d.ws)
    in_idx, out_idx = _verdict_index(d, o, pools, text_idx)
    has_out = np.asarray(pc.is_valid(b.upstream_outputs))
    cols: dict[str, Any] = {
        "request_id": rid, "trace_id": rid,
        "schema_version": pa.array(np.full(n, SCHEMA_VERSION, np.int16)),
        **_times(d, o),
        "endpoint": pa.array(["/v1/chat/completions"] * n), "method": pa.array(["POST"] * n),
        "stream": pa.array(d.stream), "model_requested": pick(list(d.cast.model_names), d.model),
        **_served(d, o), "http_status": pa.array(o.http_status), "status": pa.array(status),
        **_errors(d, o, policy), "price_table_version": pa.array([prices] * n),
        "workspace": pick(list(d.cast.ws_names), d.ws),
        "key_id": pick(list(d.cast.key_id), d.key), "user": pick(list(d.cast.user_id), d.user),
        "tags": pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), app),
        "policy_id": pa.array([policy.id] * n),
        "policy_hash": pa.array([policy.hash] * n, pa.string()),
        "guardrail_verdicts": _verdicts_json(pools, in_idx, out_idx, o.variant, o.limited),
        "cache_status": pick(["bypass", "miss", "hit"], o.cache),
        "routing_attempts": _routing(d, o),
        "attempt_count": pa.array(o.tried.astype(np.int16) + (o.fallback >= 0)),
        "client_ip": pick(_client_ips(len(d.cast.key_id)), d.key),
        "user_agent": pick(list(d.cast.key_ua), d.key),
        "request_body": b.request, "response_body": b.response, "bodies_stored": pa.array(stored),
        "temperature": pa.array(d.cast.key_temp[d.key]), "max_tokens": pa.array(d.max_tokens),
        "gateway_version": pa.array([__version__] * n),
        "request_original": pa.nulls(n, pa.string()),  # = request_body (no input rewrites)
        "request_masked": _masked((d.kind == 1) | (d.kind == 2), stored, pa.bool_()),
        "upstream_outputs": b.upstream_outputs,
        "output_masked": _masked(np.zeros(n, bool), has_out, pa.bool_()),
    }  # fmt: skip
    target = schema()
    arrays = [cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type) for f in target]
    return pa.Table.from_arrays(arrays, schema=target)
