"""``guardrail_verdicts`` and ``routing_attempts`` JSON.

Verdicts have the shape of :meth:`workbench.guardrails._types.Verdict.to_dict`, one per
check of the policy's input stage (and output stage when a model answered): the engine
runs every check of a stage, so passing checks are listed too. Failures carry what the
real validators report: PII entity spans (``redact``), ``SECRET: <type>`` spans
(``deny``), classifier scores against the shipped heads' thresholds (``deny`` /
``flag``). The JSON of a stage is precomputed for every failure pattern x
:data:`VARIANTS` latency draws and picked per row (string building per row is what
makes 10 M rows slow). Routing attempts have the shape :mod:`workbench.routing.run`
records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ._catalog import Check, PolicyInfo
from ._outcome import FAILURES
from ._strings import cat, join_skip, num, pick, where
from ._texts import TOXIC_ANSWERS

__all__ = ["SCORES", "VARIANTS", "VerdictPools", "attempts_json", "threshold", "verdict_pools"]

VARIANTS = 16
"""Latency draws per verdict pattern."""

SCORES = np.round(np.linspace(0.6, 0.995, 20), 3)
"""Classifier scores of caught attacks (a row's score is one of these)."""

_ML = ("prompt_injection", "jailbreak", "toxicity")
_ATTACKS = ("prompt_injection", "jailbreak")


@cache
def threshold(classifier: str) -> float:
    """The threshold the shipped classifier head was trained with (0.5 if unknown)."""
    path = Path(__file__).resolve().parents[1] / "guardrails" / "ml" / "weights"
    try:
        return float(json.loads((path / f"{classifier}.json").read_text())["threshold"])
    except (OSError, KeyError, ValueError):
        return 0.5


def classifier_reason(classifier: str, score: float) -> str:
    """The validator's failure message, e.g. ``prompt_injection score 0.953 >= 0.512``."""
    return f"{classifier} score {score:.3f} >= {threshold(classifier):.3f}"


def _verdict(c: Check, latency: float, fail: dict[str, Any] | None = None) -> dict[str, Any]:
    """``Verdict.to_dict()`` of check ``c`` (passing, or failing with ``fail``'s fields)."""
    fail = fail or {}
    return {
        "check": c.name,
        "validator": c.validator,
        "stage": c.stage,
        "passed": not fail,
        "action": c.on_fail if fail else "none",
        "latency_ms": round(latency, 3),
        "score": fail.get("score"),
        "spans": fail.get("spans", []),
        "message": fail.get("message"),
        "mode": "enforce",
    }


def _span(start: int, end: int, reason: str, message: int) -> dict[str, Any]:
    return {"start": start, "end": end, "reason": reason, "message": message}


@dataclass(frozen=True)
class VerdictPools:
    """Every ``guardrail_verdicts`` text a row can get, by (input pattern, output pattern,
    latency variant); the last entry is ``[]`` (refused before the checks ran)."""

    full: pa.Array
    n_out: int  # output patterns: 0 none, 1 all pass, 2.. toxic answer k
    input_ms: np.ndarray  # the input stage's time of each variant
    output_ms: np.ndarray
    patterns: dict[str, int]  # first input pattern of each failure family

    def index(self, inp: np.ndarray, out: np.ndarray, variant: np.ndarray,
              limited: np.ndarray) -> np.ndarray:  # fmt: skip
        """Rows' indexes into :attr:`full`."""
        idx = (inp * self.n_out + out) * VARIANTS + variant
        return np.where(limited, len(self.full) - 1, idx)


def _input_fails(checks: dict[str, Check]) -> list[tuple[str, Check | None, dict[str, Any]]]:
    """(family, failing check, failure fields) of every input pattern, in order."""
    from ._bodies import text_pool

    pool = text_pool()
    out: list[tuple[str, Check | None, dict[str, Any]]] = [("pass", None, {})]
    for family, validator in (("pii", "pii"), ("secret", "secrets")):
        off = pool.offsets[family]
        for i in range(pool.sizes[family]):
            label, s, e = (
                pool.label[off + i],
                int(pool.span_start[off + i]),
                int(pool.span_end[off + i]),
            )
            msg = (f"text contains PII: {label} x1" if family == "pii"
                   else f"text contains 1 secret(s): {label.split(': ', 1)[-1]}")  # fmt: skip
            out.append(
                (family, checks[validator], {"spans": [_span(s, e, label, 1)], "message": msg})
            )
    for family, validator in (("injection", "prompt_injection"), ("jailbreak", "jailbreak")):
        off = pool.offsets[family]
        for i in range(pool.sizes[family]):
            text = pool.texts[off + i]
            for score in SCORES:
                reason = classifier_reason(validator, float(score))
                fields = {"score": float(score), "spans": [_span(0, len(text), reason, 0)],
                          "message": reason}  # fmt: skip
                out.append((family, checks[validator], fields))
    return out


def _stage_json(checks: list[Check], failing: Check | None, fail: dict[str, Any],
                lat: dict[str, float]) -> str:  # fmt: skip
    items = [_verdict(c, lat[c.name], fail if c is failing else None) for c in checks]
    return json.dumps(items, separators=(",", ":"))[1:-1]


def _latencies(policy: PolicyInfo) -> list[dict[str, float]]:
    """Per variant, each check's latency (the ML checks of a stage share one batch)."""
    rng = np.random.default_rng(20240611)
    lats = []
    for _ in range(VARIANTS):
        ml = {"input": rng.lognormal(np.log(8.0), 0.35), "output": rng.lognormal(np.log(5.0), 0.3)}
        lats.append({
            c.name: float(ml[c.stage]) if c.validator in _ML
            else float(rng.lognormal(np.log(0.08), 0.5))
            for c in policy.checks
        })  # fmt: skip
    return lats


def _stage_ms(checks: list[Check], lat: dict[str, float]) -> float:
    """A stage's time: the ML batch (they run together) plus the cheap checks in turn."""
    if not checks:
        return 0.0
    cheap = sum(lat[c.name] for c in checks if c.validator not in _ML)
    return max(lat[c.name] for c in checks) + cheap


@cache
def verdict_pools(policy: PolicyInfo) -> VerdictPools:
    """Build the pools for ``policy`` (cached; fixed latency draws)."""
    ins = [c for c in policy.checks if c.stage == "input"]
    outs = [c for c in policy.checks if c.stage == "output"]
    first = {c.validator: c for c in reversed(ins)}
    lats = _latencies(policy)
    stage_ms = [np.array([_stage_ms(cs, lat) for lat in lats]) for cs in (ins, outs)]
    tox = next((c for c in outs if c.validator == "toxicity"), None)
    out_fails: list[tuple[Check | None, dict[str, Any]]] = [(None, {})]
    for answer in TOXIC_ANSWERS:
        reason = classifier_reason("toxicity", 0.91)
        out_fails.append((tox, {"score": 0.91, "spans": [_span(0, len(answer), reason, 0)],
                                "message": reason}))  # fmt: skip
    outputs = [[""] * VARIANTS]
    outputs += [["," + _stage_json(outs, c, f, lat) for lat in lats] for c, f in out_fails]
    texts: list[str] = []
    patterns: dict[str, int] = {}
    for k, (family, check, fields) in enumerate(_input_fails(first)):
        patterns.setdefault(family, k)
        inputs = [_stage_json(ins, check, fields, lat) for lat in lats]
        texts += [f"[{inputs[v]}{out[v]}]" for out in outputs for v in range(VARIANTS)]
    texts.append("[]")
    return VerdictPools(pa.array(texts, pa.string()), len(outputs), stage_ms[0], stage_ms[1],
                        patterns)  # fmt: skip


def verdicts_json(pools: VerdictPools, in_pattern: np.ndarray, out_pattern: np.ndarray,
                  variant: np.ndarray, limited: np.ndarray) -> pa.Array:  # fmt: skip
    """The ``guardrail_verdicts`` column (``[]`` for requests refused before the checks)."""
    return pools.full.take(pa.array(pools.index(in_pattern, out_pattern, variant, limited)))


_STATUS = ["ok"] + [FAILURES[k][2] for k in range(1, 6)]
_HTTP = ["null"] + [str(FAILURES[k][3] or "null") for k in range(1, 6)]
_CLASS = ["null"] + [f'"{FAILURES[k][4]}"' for k in range(1, 6)]


def _attempt_pools(
    names: list[str], providers: list[str], reason: str
) -> tuple[list[str], list[str]]:
    """Text before and after ``latency_ms`` of an attempt, by ``model * 6 + failure``."""
    head, tail = [], []
    for name, provider in zip(names, providers, strict=True):
        for k in range(6):
            head.append(f'{{"target":"{name}","provider":"{provider}","status":"{_STATUS[k]}",'
                        f'"http_status":{_HTTP[k]},"latency_ms":')  # fmt: skip
            tail.append(f',"error_class":{_CLASS[k]},"retry_wait_ms":0.0,"reason":"{reason}"}}')
    return head, tail


def attempts_json(names: list[str], providers: list[str], model: np.ndarray, fail1: np.ndarray,
                  lat1: np.ndarray, tried: np.ndarray, fallback: np.ndarray, fail2: np.ndarray,
                  lat2: np.ndarray) -> pa.Array:  # fmt: skip
    """The ``routing_attempts`` column: the primary attempt and the fallback, if any."""
    parts = []
    second = (np.maximum(fallback, 0), fail2, lat2, fallback >= 0, "fallback")
    for m, f, lat, on, reason in ((model, fail1, lat1, tried, "primary"), second):
        head, tail = _attempt_pools(names, providers, reason)
        idx = m.astype(np.int64) * 6 + f
        parts.append(where(on, cat(pick(head, idx), num(lat), pick(tail, idx)), None))
    return cat("[", join_skip(parts, ","), "]")
