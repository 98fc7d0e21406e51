"""Prometheus metrics: label values come from bounded sets, whatever clients send."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

import pytest

from workbench.gateway import metrics


@pytest.fixture
def known_models() -> Iterator[None]:
    for collector in (
        metrics.REQUESTS,
        metrics.ERRORS,
        metrics.LATENCY,
        metrics.TTFT,
        metrics.TOKENS,
        metrics.COST,
    ):
        collector.clear()  # series left by other tests in this process
    metrics.set_known_models(["echo", "gpt-4o-mini", "support-route"])
    yield
    metrics.set_known_models([])


def _series() -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (s.name, tuple(sorted(s.labels.items())))
        for fam in metrics.REGISTRY.collect()
        for s in fam.samples
    }


def _label_values(label: str) -> set[str]:
    return {dict(labels)[label] for _, labels in _series() if label in dict(labels)}


def _junk(rng: random.Random) -> str:
    return "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 40)))


def _record(rng: random.Random) -> dict[str, object]:
    return {
        "endpoint": rng.choice(["/" + _junk(rng), "/v1/" + _junk(rng), "/v1/models/" + _junk(rng)]),
        "model_requested": rng.choice([_junk(rng), None, "echo"]),
        "http_status": rng.choice([200, 404, 422, rng.randint(100, 999)]),
        "error_type": rng.choice([None, _junk(rng), "not_found_error"]),
        "latency_ms": rng.random() * 100,
        "ttft_ms": rng.random() * 10,
        "stream": rng.random() < 0.5,
        "prompt_tokens": rng.randint(0, 50),
        "completion_tokens": rng.randint(0, 50),
        "cost_usd": rng.random() / 1000,
    }


def test_random_paths_and_models_add_no_unbounded_series(known_models: None) -> None:
    rng = random.Random(6)
    for _ in range(1000):
        metrics.observe(_record(rng))
    assert _label_values("endpoint") <= metrics.ENDPOINTS | {metrics.OTHER}
    assert _label_values("model") <= {"echo", "gpt-4o-mini", "support-route", "other", "none"}
    assert _label_values("status") <= metrics.STATUSES | {metrics.OTHER}
    assert _label_values("error_type") <= metrics.ERROR_TYPES | {metrics.OTHER}
    bound = (len(metrics.ENDPOINTS) + 1) * 5 * (len(metrics.STATUSES) + 1)
    requests = {s for s in _series() if s[0] == "workbench_requests_total"}
    assert 0 < len(requests) <= bound


def test_a_thousand_unknown_paths_and_models_are_one_series(known_models: None) -> None:
    rng = random.Random(7)
    metrics.observe({"endpoint": "/x", "model_requested": "y", "http_status": 404})
    before = _series()
    for _ in range(1000):
        rec = {**_record(rng), "http_status": 404, "error_type": "not_found_error"}
        rec["endpoint"] = "/" + _junk(rng)
        rec["model_requested"] = _junk(rng) + "-unknown"
        metrics.observe(rec)
    new = _series() - before
    assert all(dict(labels).get("model") == "other" for _, labels in new), new
    series = {tuple(kv for kv in labels if kv[0] != "le") for _, labels in new}
    assert len(series) <= 6  # one per metric family and token kind, whatever the 1000 values


def test_known_names_and_templates_are_kept(known_models: None) -> None:
    metrics.observe(
        {
            "endpoint": "/v1/chat/completions",
            "model_requested": "support-route",
            "http_status": 429,
            "error_type": "rate_limit_error",
        }
    )
    assert (
        "workbench_requests_total",
        (("endpoint", "/v1/chat/completions"), ("model", "support-route"), ("status", "429")),
    ) in _series()
    assert (
        "workbench_errors_total",
        (("error_type", "rate_limit_error"), ("model", "support-route")),
    ) in _series()


def test_label_mapping() -> None:
    assert metrics.endpoint_label("/v1/models/gpt-4o") == "/v1/models/{id}"
    assert metrics.endpoint_label("/v1/models/{id}") == "/v1/models/{id}"
    assert metrics.endpoint_label("/wp-admin/x.php") == "other"
    assert metrics.endpoint_label(None) == "other"
    metrics.set_known_models(["a"])
    try:
        assert metrics.model_label("a") == "a"
        assert metrics.model_label("b") == "other"
        assert metrics.model_label("") == "none"
    finally:
        metrics.set_known_models([])
    assert metrics.model_label("a") == "other"  # nothing configured: nothing client-chosen
    assert metrics.status_label(200) == "200" and metrics.status_label(299) == "other"
    assert metrics.error_label("upstream_error") == "upstream_error"
    assert metrics.error_label("'; DROP") == "other"
    assert {"invalid_request_error", "rate_limit_error", "internal_error"} <= metrics.ERROR_TYPES


def test_render_is_prometheus_text() -> None:
    metrics.LOG_BACKLOG.set(3)
    text = metrics.render().decode()
    assert "workbench_log_backlog 3.0" in text
    assert "# TYPE workbench_requests_total counter" in text
