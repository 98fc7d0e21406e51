"""What happened to each request: guardrail denials, limits, cache, upstream attempts
with fallbacks, tokens, cost and timings (numpy, vectorised).

Error kinds mirror :mod:`workbench.errors` and the provider error mapping
(:func:`workbench.providers._http.status_error`): the client-facing HTTP status, error
type and code, the upstream status the attempt recorded, and the exception class name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._rows import Draws

__all__ = ["FAILURES", "Outcome", "resolve"]

OK, TIMEOUT, HTTP_5XX, HTTP_429, HTTP_503, CONNECTION, LIMITED, DENIED = range(8)

# kind -> (http status, error type, error code, upstream status, exception class)
FAILURES: dict[int, tuple[int, str, str, int | None, str]] = {
    TIMEOUT: (504, "upstream_error", "upstream_timeout", None, "UpstreamTimeoutError"),
    HTTP_5XX: (502, "upstream_error", "upstream_error", 500, "UpstreamError"),
    HTTP_429: (429, "rate_limit_error", "upstream_rate_limited", 429, "RateLimitError"),
    HTTP_503: (503, "service_unavailable", "upstream_unavailable", 503, "ServiceUnavailableError"),
    CONNECTION: (502, "upstream_error", "upstream_unreachable", None, "UpstreamConnectionError"),
    LIMITED: (429, "rate_limit_error", "rate_limit_exceeded", None, "RateLimitError"),
    DENIED: (400, "invalid_request_error", "guardrail_denied", None, "GuardrailDeniedError"),
}
_FAIL_KINDS = np.array([TIMEOUT, HTTP_5XX, HTTP_429, HTTP_503, CONNECTION], dtype=np.int8)
_FAIL_P = np.array([0.3, 0.3, 0.25, 0.1, 0.05])
_TIMEOUT_MS = 30_000.0
_GATEWAY_LIMIT_RATE = 0.003
_TOXIC_RATE = 0.003


@dataclass
class Outcome:
    """Outcome arrays of one batch (``-1`` / NaN where a value is null)."""

    denied: np.ndarray
    limited: np.ndarray
    cache: np.ndarray  # 0 bypass, 1 miss, 2 hit
    tried: np.ndarray  # the primary target was called
    fail1: np.ndarray  # failure kind of the primary attempt (0: ok)
    fallback: np.ndarray  # model index of the fallback attempt, -1: none
    fail2: np.ndarray
    served: np.ndarray  # model index that answered (cache hit: the requested one), -1
    error: np.ndarray  # final failure kind (0: ok)
    http_status: np.ndarray
    prompt_tokens: np.ndarray  # -1: null
    completion_tokens: np.ndarray
    length_cut: np.ndarray  # finish_reason length
    cost: np.ndarray  # NaN: null
    lat1: np.ndarray
    lat2: np.ndarray
    guard_in: np.ndarray
    guard_out: np.ndarray
    latency: np.ndarray
    ttft: np.ndarray
    upstream: np.ndarray  # NaN: no upstream call
    toxic: np.ndarray  # output flagged by the toxicity check
    score: np.ndarray  # classifier score of the attack check (kinds 3, 4)
    bucket: np.ndarray  # index of ``score`` in ``scores``
    variant: np.ndarray  # latency variant of the guardrail verdicts


def _failures(rng: np.random.Generator, mask: np.ndarray, p: np.ndarray) -> np.ndarray:
    n = len(mask)
    fails = mask & (rng.random(n) < p)
    kinds = _FAIL_KINDS[rng.choice(len(_FAIL_KINDS), size=n, p=_FAIL_P)]
    return np.where(fails, kinds, OK).astype(np.int8)


def _attempt_ms(rng: np.random.Generator, fail: np.ndarray, ok_ms: np.ndarray) -> np.ndarray:
    n = len(fail)
    quick = rng.uniform(5.0, 60.0, n)
    ms = np.where(fail == TIMEOUT, _TIMEOUT_MS + rng.uniform(0, 40, n), quick)
    ms = np.where(fail == HTTP_5XX, rng.uniform(150, 900, n), ms)
    ms = np.where(fail == HTTP_429, rng.uniform(40, 160, n), ms)
    return np.where(fail == OK, ok_ms, ms)


def _gate(d: Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Denied (guardrails), limited (gateway 429), cache status."""
    rng, n = d.rng, len(d.t)
    attack = (d.kind == 3) | (d.kind == 4)
    denied = (d.kind == 2) | (attack & ~d.missed)
    limited = ~denied & (rng.random(n) < _GATEWAY_LIMIT_RATE)
    cache_on = np.array([w.cache for w in d.cast.workspaces])[d.ws]
    passes = ~denied & ~limited
    repeatable = (d.ref == 0) & (d.frame == 0) & (d.kind == 0)
    hit = passes & cache_on & repeatable & (rng.random(n) < d.hit_p)
    cache = np.where(passes & cache_on, np.where(hit, 2, 1), 0).astype(np.int8)
    return denied, limited, cache


def _tokens(d: Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sys_tokens = np.array([len(w.system_prompt) // 4 for w in d.cast.workspaces])[d.ws]
    prompt = 18 + sys_tokens + d.prompt_extra
    cut = d.completion > d.max_tokens
    return prompt.astype(np.int32), np.minimum(d.completion, d.max_tokens), cut


def resolve(d: Draws, stage_ms: tuple[np.ndarray, np.ndarray], scores: np.ndarray) -> Outcome:
    """Decide every request's outcome from its draws.

    ``stage_ms``: the input and output guardrail stage time of each verdict variant;
    ``scores``: the classifier scores a caught attack may get.
    """
    rng, n = d.rng, len(d.t)
    models = d.cast.models
    denied, limited, cache = _gate(d)
    variant = rng.integers(0, len(stage_ms[0]), n)
    bucket = rng.integers(0, len(scores), n)
    hit = cache == 2
    tried = ~denied & ~limited & ~hit
    fail1 = _failures(rng, tried, d.fail_p)
    fb_of = np.array([[m.name for m in models].index(m.fallback) if m.fallback else -1
                      for m in models])  # fmt: skip
    fallback = np.where(fail1 > 0, fb_of[d.model], -1)
    base_fail = np.array([m.fail_rate for m in models])
    fail2 = _failures(rng, fallback >= 0, 3 * base_fail[np.maximum(fallback, 0)])
    served = np.where(tried & (fail1 == OK), d.model, np.where((fallback >= 0) & (fail2 == OK),
                                                              fallback, -1))  # fmt: skip
    served = np.where(hit, d.model, served)
    error = np.where(denied, DENIED, np.where(limited, LIMITED, OK))
    lost = tried & (served < 0)
    error = np.where(lost, np.where(fallback >= 0, fail2, fail1), error).astype(np.int8)
    http = np.full(n, 200, np.int16)
    for kind, (status, *_rest) in FAILURES.items():
        http[error == kind] = status
    prompt, completion, cut = _tokens(d)
    answered = served >= 0
    in_p = np.array([m.input_per_m for m in models])[np.maximum(served, 0)]
    out_p = np.array([m.output_per_m for m in models])[np.maximum(served, 0)]
    cost = (prompt * in_p + completion * out_p) / 1e6
    cost = np.where(hit, 0.0, np.where(answered, cost, np.nan))
    out = Outcome(
        denied=denied, limited=limited, cache=cache, tried=tried, fail1=fail1,
        fallback=fallback, fail2=fail2, served=served, error=error, http_status=http,
        prompt_tokens=np.where(answered, prompt, -1).astype(np.int32),
        completion_tokens=np.where(answered, completion, -1).astype(np.int32),
        length_cut=answered & cut, cost=cost, lat1=np.zeros(n), lat2=np.zeros(n),
        guard_in=stage_ms[0][variant], guard_out=stage_ms[1][variant],
        latency=np.zeros(n), ttft=np.zeros(n), upstream=np.full(n, np.nan),
        toxic=answered & ~hit & (d.kind == 0) & (rng.random(n) < _TOXIC_RATE),
        score=scores[bucket], bucket=bucket, variant=variant,
    )  # fmt: skip
    _timings(d, out, prompt, completion)
    return out


def _timings(d: Draws, o: Outcome, prompt: np.ndarray, completion: np.ndarray) -> None:
    """Attempt latencies, total latency, time to first token, upstream time."""
    rng, models = d.rng, d.cast.models
    ttft_of = np.array([m.ttft_ms for m in models])
    tps_of = np.array([m.tokens_per_s for m in models])

    def ok_ms(model: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first = ttft_of[model] * d.slow * (1.0 + prompt / 4000.0)
        return first, first + completion / tps_of[model] * 1000.0 * d.slow

    first1, full1 = ok_ms(d.model)
    first2, full2 = ok_ms(np.maximum(o.fallback, 0))
    o.lat1 = np.where(o.tried, _attempt_ms(rng, o.fail1, full1), 0.0)
    o.lat2 = np.where(o.fallback >= 0, _attempt_ms(rng, o.fail2, full2), 0.0)
    gw = rng.lognormal(np.log(1.8), 0.3, len(d.t))  # parse, auth, routing, respond
    out_checks = np.where(o.served >= 0, o.guard_out, 0.0)
    o.latency = gw + o.guard_in + o.lat1 + o.lat2 + out_checks
    o.latency = np.where(o.cache == 2, gw + o.guard_in + 1.5 + o.guard_out, o.latency)
    o.latency = np.where(o.denied | o.limited, gw + o.guard_in * ~o.limited, o.latency)
    before = gw + o.guard_in + np.where(o.fallback >= 0, o.lat1, 0.0)
    first = before + np.where(o.fallback >= 0, first2, first1)
    streamed = d.stream & (o.served >= 0) & (o.cache != 2)
    o.ttft = np.where(streamed, first, o.latency - rng.uniform(0.05, 0.4, len(d.t)))
    o.ttft = np.maximum(o.ttft, 0.1)
    o.upstream = np.where(o.tried, o.lat1 + o.lat2, np.nan)
