"""``guardrail_verdicts`` and ``routing_attempts`` JSON, built column-wise.

Verdicts have the shape of :meth:`workbench.guardrails._types.Verdict.to_dict`, one per
check of the policy's input stage (and output stage when a model answered): the engine
runs every check of a stage, so passing checks are listed too. Failures carry what the
real validators report: PII entity spans (``redact``), ``SECRET: <type>`` spans
(``deny``), classifier scores against the trained thresholds (``deny`` / ``flag``).
Routing attempts have the shape :mod:`workbench.routing.run` records.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from ._catalog import Check, PolicyInfo
from ._outcome import FAILURES, Outcome
from ._rows import Draws
from ._strings import cat, join_skip, num, pick, where

__all__ = ["attempts_json", "classifier_reason", "verdicts_json"]

_ML = ("prompt_injection", "jailbreak", "toxicity")


@lru_cache(maxsize=None)
def threshold(classifier: str) -> float:
    """The threshold the shipped classifier head was trained with (0.5 if unknown)."""
    path = Path(__file__).resolve().parents[1] / "guardrails" / "ml" / "weights"
    try:
        return float(json.loads((path / f"{classifier}.json").read_text())["threshold"])
    except (OSError, KeyError, ValueError):
        return 0.5


def classifier_reason(classifier: str, score: np.ndarray) -> pa.Array:
    """The validator's failure message: ``<name> score 0.953 >= 0.512``."""
    milli = np.clip(np.round(score * 1000), 0, 999).astype(np.int64)
    digits = pa.array([f"{k:03d}" for k in range(1000)]).take(pa.array(milli))
    return cat(f"{classifier} score 0.", digits, f" >= {threshold(classifier):.3f}")


def _head(c: Check) -> str:
    return f'{{"check":"{c.name}","validator":"{c.validator}","stage":"{c.stage}",'


def _verdict(c: Check, lat: pa.Array, fail: np.ndarray, failed: dict[str, pa.Array]) -> pa.Array:
    """One check's verdict per row; ``failed`` holds action/score/spans/message JSON."""
    ok = cat(
        _head(c), '"passed":true,"action":"none","latency_ms":', lat,
        ',"score":null,"spans":[],"message":null,"mode":"enforce"}',
    )  # fmt: skip
    if not fail.any():
        return ok
    bad = cat(
        _head(c), f'"passed":false,"action":"{c.on_fail}","latency_ms":', lat,
        ',"score":', failed["score"], ',"spans":[', failed["spans"], '],"message":"',
        failed["message"], '","mode":"enforce"}',
    )  # fmt: skip
    return where(fail, bad, ok)


def _span(start: pa.Array | str, end: pa.Array | str, reason: pa.Array | str, msg: int) -> pa.Array:
    return cat('{"start":', start, ',"end":', end, ',"reason":"', reason, f'","message":{msg}}}')


def _failures(d: Draws, o: Outcome, text_idx: np.ndarray, user_text: pa.Array, answer: pa.Array
              ) -> dict[str, tuple[np.ndarray, dict[str, pa.Array]]]:  # fmt: skip
    """Per validator: which rows fail, and their score/spans/message JSON pieces."""
    from ._bodies import text_pool

    pool = text_pool()
    start, end = num(pool.span_start[text_idx]), num(pool.span_end[text_idx])
    label = pick(pool.label, text_idx)
    secret_kind = pick([lab.split(": ", 1)[-1] for lab in pool.label], text_idx)
    out = {
        "pii": (d.kind == 1, {
            "score": pa.array(["null"] * len(d.t)), "spans": _span(start, end, label, 1),
            "message": cat("text contains PII: ", label, " x1")}),
        "secrets": (d.kind == 2, {
            "score": pa.array(["null"] * len(d.t)), "spans": _span(start, end, label, 1),
            "message": cat("text contains 1 secret(s): ", secret_kind)}),
    }  # fmt: skip
    text_len = num(np.asarray(pa.compute.utf8_length(user_text)))
    for code, name in ((3, "prompt_injection"), (4, "jailbreak")):
        reason = classifier_reason(name, o.score)
        fail = (d.kind == code) & ~d.missed
        pieces = {"score": num(o.score), "spans": _span("0", text_len, reason, 0),
                  "message": reason}  # fmt: skip
        out[name] = (fail, pieces)
    tox = np.where(o.toxic, np.maximum(o.score, threshold("toxicity") + 0.01), 0.0)
    reason = classifier_reason("toxicity", tox)
    ans_len = num(np.asarray(pa.compute.utf8_length(answer)))
    out["toxicity"] = (o.toxic, {"score": num(tox), "spans": _span("0", ans_len, reason, 0),
                                 "message": reason})  # fmt: skip
    return out


def verdicts_json(
    d: Draws, o: Outcome, policy: PolicyInfo, text_idx: np.ndarray, user_text: pa.Array,
    answer: pa.Array,
) -> pa.Array:  # fmt: skip
    """The ``guardrail_verdicts`` column (``[]`` for requests refused before the checks)."""
    rng, n = d.rng, len(d.t)
    fails = _failures(d, o, text_idx, user_text, answer)
    no_fail = (np.zeros(n, bool), {})
    parts: list[pa.Array] = []
    out_stage = (o.served >= 0) & (o.cache != 2)
    for c in policy.checks:
        ml = c.validator in _ML
        lat_ms = (o.guard_in if c.stage == "input" else o.guard_out) if ml else None
        if lat_ms is None:
            lat_ms = rng.lognormal(np.log(0.08), 0.5, n)
        fail, pieces = fails.get(c.validator, no_fail)
        if c.name == "prompt-injection-in-context":
            fail, pieces = no_fail  # reads the system prompt, which is benign here
        v = _verdict(c, num(lat_ms), fail, pieces)
        runs = ~o.limited if c.stage == "input" else out_stage
        parts.append(where(runs, v, None))
    body = join_skip(parts, ",")
    return cat("[", body, "]")


def _attempt(target: pa.Array, provider: pa.Array, fail: np.ndarray, lat: np.ndarray,
             reason: str) -> pa.Array:  # fmt: skip
    status = pick(["ok"] + [FAILURES[k][2] for k in range(1, 6)], fail)
    http = pick(["null"] + [str(FAILURES[k][3] or "null") for k in range(1, 6)], fail)
    cls = pick(["null"] + [f'"{FAILURES[k][4]}"' for k in range(1, 6)], fail)
    return cat(
        '{"target":"', target, '","provider":"', provider, '","status":"', status,
        '","http_status":', http, ',"latency_ms":', num(lat), ',"error_class":', cls,
        f',"retry_wait_ms":0.0,"reason":"{reason}"}}',
    )  # fmt: skip


def attempts_json(d: Draws, o: Outcome) -> pa.Array:
    """The ``routing_attempts`` column: the primary attempt and the fallback, if any."""
    names = list(d.cast.model_names)
    providers = [m.provider for m in d.cast.models]
    fb = np.maximum(o.fallback, 0)
    first = _attempt(pick(names, d.model), pick(providers, d.model), o.fail1, o.lat1, "primary")
    second = _attempt(pick(names, fb), pick(providers, fb), o.fail2, o.lat2, "fallback")
    parts = [where(o.tried, first, None), where(o.fallback >= 0, second, None)]
    return cat("[", join_skip(parts, ","), "]")
