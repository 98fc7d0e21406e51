"""Router strategies with a scripted upstream: single, fallback, loadbalance, conditional,
nesting, route references, OutputRejected, and the attempt records."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.routing._fakes import make_router, rejected, upstream_error
from workbench.errors import (
    AuthenticationError,
    GuardrailDeniedError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamMalformedError,
    UpstreamTimeoutError,
)
from workbench.routing import RouteRequest

KEYS = {
    "target",
    "provider",
    "status",
    "http_status",
    "latency_ms",
    "error_class",
    "retry_wait_ms",
    "reason",
}


def req(model: str, **kw: Any) -> RouteRequest:
    return RouteRequest(model=model, **kw)


FALLBACK = {"routes": {"smart": {"mode": "fallback", "targets": ["a", "b", "c"]}}}


async def test_a_plain_model_is_single_with_no_config() -> None:
    router, up, _, _ = make_router(None, "a", "b")
    attempts: list[dict[str, Any]] = []
    attempt, result = await router.execute(req("a"), up, attempts)
    assert result == "answer from a" and attempt.target == "a" and attempt.number == 1
    assert attempt.reason == "primary" and attempt.retry == 0 and attempt.provider == "fake"
    assert attempts == [
        {
            "target": "a",
            "provider": "fake",
            "status": "ok",
            "http_status": None,
            "latency_ms": 0.0,
            "error_class": None,
            "retry_wait_ms": 0.0,
            "reason": "primary",
        }
    ]
    assert router.routes() == [] and router.knows("a") and not router.knows("zzz")


async def test_unknown_model_is_not_found() -> None:
    router, up, _, _ = make_router(FALLBACK, "a", "b", "c")
    with pytest.raises(NotFoundError) as info:
        await router.execute(req("nope"), up, [])
    assert info.value.code == "model_not_found" and info.value.param == "model"
    assert up.seen == []


async def test_fallback_moves_on_and_records_every_attempt() -> None:
    router, up, _, clock = make_router(FALLBACK, "a", "b", "c")
    up.script = {
        "a": [(0.25, upstream_error(UpstreamError, 503))],
        "b": [(0.5, UpstreamTimeoutError("slow"))],
        "c": [0.1],
    }
    attempts: list[dict[str, Any]] = []
    attempt, result = await router.execute(req("smart"), up, attempts)
    assert result == "answer from c"
    assert (attempt.target, attempt.number, attempt.reason, attempt.route) == (
        "c",
        3,
        "fallback",
        "smart",
    )
    assert up.targets() == ["a", "b", "c"]
    assert all(set(a) == KEYS for a in attempts)
    assert [
        (a["target"], a["status"], a["http_status"], a["error_class"], a["reason"])
        for a in attempts
    ] == [
        ("a", "upstream_error", 503, "UpstreamError", "primary"),
        ("b", "upstream_timeout", None, "UpstreamTimeoutError", "fallback"),
        ("c", "ok", None, None, "fallback"),
    ]
    assert [a["latency_ms"] for a in attempts] == pytest.approx([250.0, 500.0, 100.0])


@pytest.mark.parametrize(
    "error",
    [
        upstream_error(UpstreamError, 500),
        upstream_error(UpstreamError, 502),
        upstream_error(RateLimitError, 429),
        RateLimitError("replica queue full"),  # no upstream status: counts as 429
        ServiceUnavailableError("no replica"),  # 503
        UpstreamConnectionError("refused"),
        UpstreamMalformedError("bad json"),
        UpstreamTimeoutError("slow"),
    ],
)
async def test_fallback_triggers(error: Exception) -> None:
    router, up, _, _ = make_router(FALLBACK, "a", "b", "c")
    up.script = {"a": [error]}
    attempt, _ = await router.execute(req("smart"), up, [])
    assert attempt.target == "b"


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequestError("bad field"),
        AuthenticationError("no key"),
        upstream_error(UpstreamError, 400),  # an upstream 4xx that is not listed
        upstream_error(UpstreamError, 401),
    ],
)
async def test_client_errors_and_unlisted_codes_do_not_fall_back(error: Exception) -> None:
    router, up, _, _ = make_router(FALLBACK, "a", "b", "c")
    up.script = {"a": [error]}
    with pytest.raises(type(error)):
        await router.execute(req("smart"), up, [])
    assert up.targets() == ["a"]


async def test_on_status_codes_and_on_errors_are_configurable() -> None:
    routing = {
        "routes": {
            "smart": {
                "mode": "fallback",
                "on_status_codes": [404],
                "on_errors": ["malformed"],
                "targets": ["a", "b"],
            }
        }
    }
    router, up, _, _ = make_router(routing, "a", "b")
    up.script = {"a": [upstream_error(UpstreamError, 404)]}
    assert (await router.execute(req("smart"), up, []))[0].target == "b"
    up.script = {"a": [upstream_error(UpstreamError, 503)]}
    with pytest.raises(UpstreamError):
        await router.execute(req("smart"), up, [])
    up.script = {"a": [UpstreamConnectionError("refused")]}
    with pytest.raises(UpstreamConnectionError):
        await router.execute(req("smart"), up, [])
    up.script = {"a": [UpstreamMalformedError("bad")]}
    assert (await router.execute(req("smart"), up, []))[0].target == "b"


async def test_when_everything_fails_the_last_error_is_raised() -> None:
    router, up, _, _ = make_router(FALLBACK, "a", "b", "c")
    last = upstream_error(UpstreamError, 502)
    up.script = {
        "a": [upstream_error(UpstreamError, 503)],
        "b": [UpstreamTimeoutError("slow")],
        "c": [last],
    }
    attempts: list[dict[str, Any]] = []
    with pytest.raises(UpstreamError) as info:
        await router.execute(req("smart"), up, attempts)
    assert info.value is last and len(attempts) == 3


async def test_output_rejected_falls_back_without_retry_and_without_breaker_failure() -> None:
    routing = {**FALLBACK, "retry": {"attempts": 3}}
    router, up, state, _ = make_router(routing, "a", "b", "c")
    up.script = {"a": [(0.2, rejected())]}
    attempts: list[dict[str, Any]] = []
    attempt, _ = await router.execute(req("smart"), up, attempts)
    assert attempt.target == "b" and up.targets() == ["a", "b"]
    assert attempts[0]["status"] == "guardrail_denied"
    assert attempts[0]["error_class"] == "OutputRejected"
    assert attempts[0]["latency_ms"] == pytest.approx(200.0)
    snap = state.snapshot()["a"]
    assert snap["window_failures"] == 0 and snap["failed"] == 1 and snap["samples"] == 1


async def test_output_rejected_everywhere_raises_its_error() -> None:
    router, up, _, _ = make_router(FALLBACK, "a", "b", "c")
    up.script = {"a": [rejected("no a")], "b": [rejected("no b")], "c": [rejected("no c")]}
    with pytest.raises(GuardrailDeniedError, match="no c"):
        await router.execute(req("smart"), up, [])


async def test_on_guardrail_failure_false_stops_at_the_first_rejection() -> None:
    routing = {
        "routes": {
            "smart": {"mode": "fallback", "on_guardrail_failure": False, "targets": ["a", "b"]}
        }
    }
    router, up, _, _ = make_router(routing, "a", "b")
    up.script = {"a": [rejected("no a")]}
    with pytest.raises(GuardrailDeniedError, match="no a"):
        await router.execute(req("smart"), up, [])
    assert up.targets() == ["a"]


async def test_output_rejected_on_a_plain_model_raises_its_error() -> None:
    router, up, _, _ = make_router(None, "a")
    up.script = {"a": [rejected("nope")]}
    with pytest.raises(GuardrailDeniedError, match="nope"):
        await router.execute(req("a"), up, [])


async def test_loadbalance_follows_the_weights() -> None:
    routing = {
        "routes": {
            "lb": {
                "mode": "loadbalance",
                "targets": [
                    {"target": "a", "weight": 3},
                    {"target": "b", "weight": 1},
                    {"target": "c", "weight": 0.5},
                ],
            }
        }
    }
    router, up, _, _ = make_router(routing, "a", "b", "c", seed=1234)
    n = 9000
    for _ in range(n):
        attempt, _ = await router.execute(req("lb"), up, [])
        assert attempt.reason == "loadbalance"
    counts = Counter(up.targets())
    total_weight = 4.5
    for name, weight in (("a", 3), ("b", 1), ("c", 0.5)):
        expected = n * weight / total_weight
        # 4 standard deviations of a binomial count: fails only if the draw is biased.
        sd = (n * (weight / total_weight) * (1 - weight / total_weight)) ** 0.5
        assert abs(counts[name] - expected) < 4 * sd, counts


async def test_loadbalance_does_not_fail_over_by_itself() -> None:
    routing = {"routes": {"lb": {"mode": "loadbalance", "targets": ["a", "b"]}}}
    router, up, _, _ = make_router(routing, "a", "b")
    up.script = {
        "a": [upstream_error(UpstreamError, 503)],
        "b": [upstream_error(UpstreamError, 503)],
    }
    with pytest.raises(UpstreamError):
        await router.execute(req("lb"), up, [])
    assert len(up.seen) == 1


async def test_nesting_to_depth_with_route_references() -> None:
    routing = {
        "routes": {
            "top": {
                "mode": "fallback",
                "targets": [
                    "a",
                    {
                        "mode": "single",
                        "targets": [
                            {"mode": "loadbalance", "targets": ["mid"]},
                        ],
                    },
                ],
            },
            "mid": {"mode": "fallback", "targets": ["b", {"mode": "fallback", "targets": ["c"]}]},
        }
    }
    router, up, _, _ = make_router(routing, "a", "b", "c")
    up.script = {"a": [upstream_error(UpstreamError, 500)], "b": [UpstreamConnectionError("x")]}
    attempt, _ = await router.execute(req("top"), up, [])
    assert up.targets() == ["a", "b", "c"]
    assert attempt.target == "c" and attempt.route == "mid" and attempt.reason == "fallback"
    assert router.routes() == ["mid", "top"] and router.knows("mid")


async def test_a_route_can_wrap_the_model_of_its_own_name() -> None:
    routing = {"routes": {"a": {"mode": "fallback", "targets": ["a", "b"]}}}
    router, up, _, _ = make_router(routing, "a", "b")
    up.script = {"a": [upstream_error(UpstreamError, 503)]}
    attempt, _ = await router.execute(req("a"), up, [])
    assert up.targets() == ["a", "b"] and attempt.target == "b"


CONDITIONAL = {
    "routes": {
        "tiers": {
            "mode": "conditional",
            "conditions": [
                {"when": {"metadata.tier": {"$eq": "pro"}}, "then": "premium"},
                {
                    "when": {
                        "$and": [
                            {"prompt_tokens": {"$gt": 2000}},
                            {"workspace": {"$in": ["x", "y"]}},
                        ]
                    },
                    "then": {"target": "b"},
                },
                {
                    "when": {"user": {"$regex": "^bot-"}},
                    "then": {"mode": "fallback", "targets": ["c", "a"]},
                },
            ],
            "default": "a",
        },
        "premium": {"mode": "fallback", "targets": ["b", "c"]},
    }
}


@pytest.mark.parametrize(
    ("request_kw", "target", "reason"),
    [
        ({"metadata": {"tier": "pro"}}, "b", "conditional"),
        ({"prompt_tokens": 2500, "workspace": "y"}, "b", "conditional"),
        ({"prompt_tokens": 2500, "workspace": "z"}, "a", "conditional"),
        ({"user": "bot-7"}, "c", "conditional"),
        ({}, "a", "conditional"),
    ],
)
async def test_conditional_rules(request_kw: dict[str, Any], target: str, reason: str) -> None:
    router, up, _, _ = make_router(CONDITIONAL, "a", "b", "c")
    attempt, _ = await router.execute(req("tiers", **request_kw), up, [])
    assert (attempt.target, attempt.reason) == (target, reason)


async def test_conditional_branch_falls_back_and_keeps_saying_so() -> None:
    router, up, _, _ = make_router(CONDITIONAL, "a", "b", "c")
    up.script = {"b": [upstream_error(UpstreamError, 503)]}
    attempts: list[dict[str, Any]] = []
    attempt, _ = await router.execute(req("tiers", metadata={"tier": "pro"}), up, attempts)
    assert attempt.target == "c"
    assert [a["reason"] for a in attempts] == ["conditional", "fallback"]


async def test_conditional_without_default_and_no_match_is_a_client_error() -> None:
    routing = {
        "routes": {
            "only-pro": {
                "mode": "conditional",
                "conditions": [{"when": {"metadata.tier": "pro"}, "then": "a"}],
            }
        }
    }
    router, up, _, _ = make_router(routing, "a")
    with pytest.raises(InvalidRequestError) as info:
        await router.execute(req("only-pro"), up, [])
    assert info.value.code == "no_route_matched" and info.value.status == 400


async def test_unknown_targets_at_run_time_are_skipped() -> None:
    routing = {"routes": {"smart": {"mode": "fallback", "targets": ["gone", "a"]}}}
    router, up, _, _ = make_router(routing, "a")
    assert router.problems and "unknown target 'gone'" in router.problems[0]
    attempts: list[dict[str, Any]] = []
    attempt, _ = await router.execute(req("smart"), up, attempts)
    assert attempt.target == "a" and attempt.number == 1
    assert attempts[0]["status"] == "skipped" and attempts[0]["reason"] == "unknown_target"
    assert attempts[1]["status"] == "ok"

    only = {"routes": {"smart": {"mode": "fallback", "targets": ["gone"]}}}
    router, up, _, _ = make_router(only, "a")
    with pytest.raises(ServiceUnavailableError) as info:
        await router.execute(req("smart"), up, [])
    assert info.value.code == "no_target_available"


async def test_errors_that_are_not_workbench_errors_propagate_unretried() -> None:
    router, up, state, _ = make_router({**FALLBACK, "retry": {"attempts": 2}}, "a", "b", "c")
    up.script = {"a": [KeyError("bug")]}
    attempts: list[dict[str, Any]] = []
    with pytest.raises(KeyError):
        await router.execute(req("smart"), up, attempts)
    assert up.targets() == ["a"]
    assert attempts[0]["status"] == "internal_error" and attempts[0]["error_class"] == "KeyError"
    assert state.snapshot()["a"]["window_failures"] == 0
