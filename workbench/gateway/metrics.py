"""Prometheus metrics of the gateway, exposed at ``GET /metrics`` on the gateway port.

Every label value comes from a bounded set, so unauthenticated clients cannot create
series: ``endpoint`` is one of the gateway's route templates (else ``other``),
``model`` one of the configured model/route names given to :func:`set_known_models`
(``none`` when the request named no model, else ``other``), ``status`` one of
:data:`STATUSES` and ``error_type`` one of the error types of :mod:`workbench.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from workbench import errors

OTHER = "other"
NONE = "none"

ENDPOINTS: frozenset[str] = frozenset(
    {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
        "/v1/models/{id}",
        "/health",
        "/health/live",
        "/metrics",
    }
)
"""The route templates used as ``endpoint`` label values."""

STATUSES: frozenset[str] = frozenset(
    str(s) for s in (200, 400, 401, 403, 404, 405, 408, 413, 415, 422, 429, 499, 500, 502, 503, 504)
)
"""HTTP statuses kept as ``status`` label values; any other becomes ``other``."""

ERROR_TYPES: frozenset[str] = frozenset(
    getattr(errors, name).type
    for name in errors.__all__
    if isinstance(getattr(errors, name), type)
    and issubclass(getattr(errors, name), errors.WorkbenchError)
)
"""The ``type`` of every error in :mod:`workbench.errors`: the ``error_type`` values."""

_known_models: frozenset[str] = frozenset()


def set_known_models(names: Iterable[str]) -> None:
    """Name the models (configured names, route names) kept as ``model`` label values."""
    global _known_models
    _known_models = frozenset(str(n) for n in names)


_MAX_MODELS = 1000


def add_known_models(names: Iterable[str]) -> None:
    """Add route names of a newly published policy (bounded: at most 1000 names)."""
    global _known_models
    new = _known_models | frozenset(str(n) for n in names)
    if len(new) <= _MAX_MODELS:
        _known_models = new


def endpoint_label(endpoint: object) -> str:
    """The bounded ``endpoint`` label of a request path or route template."""
    path = str(endpoint or "")
    if path in ENDPOINTS:
        return path
    if path.startswith("/v1/models/"):
        return "/v1/models/{id}"
    return OTHER


def model_label(model: object) -> str:
    """The bounded ``model`` label of a client-supplied model name."""
    if not model:
        return NONE
    name = str(model)
    return name if name in _known_models else OTHER


def status_label(status: object) -> str:
    """The bounded ``status`` label of an HTTP status."""
    code = str(status)
    return code if code in STATUSES else OTHER


def error_label(error_type: object) -> str:
    """The bounded ``error_type`` label."""
    name = str(error_type)
    return name if name in ERROR_TYPES else OTHER


REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "workbench_requests_total",
    "Requests by endpoint, model and HTTP status",
    ["endpoint", "model", "status"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "workbench_errors_total",
    "Failed requests by model and error type",
    ["model", "error_type"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "workbench_request_latency_seconds",
    "End-to-end latency by endpoint and model",
    ["endpoint", "model"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
TTFT = Histogram(
    "workbench_time_to_first_token_seconds",
    "Time to first byte of streamed responses",
    ["model"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TOKENS = Counter(
    "workbench_tokens_total",
    "Tokens by model and kind (prompt/completion)",
    ["model", "kind"],
    registry=REGISTRY,
)
COST = Counter(
    "workbench_cost_usd_total",
    "Cost in USD by model",
    ["model"],
    registry=REGISTRY,
)
LOG_BACKLOG = Gauge(
    "workbench_log_backlog",
    "Log records not yet acknowledged by the log sink",
    registry=REGISTRY,
)


def observe(record: dict[str, object]) -> None:
    """Update the metrics from one finished log record."""
    model = model_label(record.get("model_requested"))
    endpoint = endpoint_label(record.get("endpoint"))
    REQUESTS.labels(endpoint, model, status_label(record.get("http_status"))).inc()
    if record.get("error_type"):
        ERRORS.labels(model, error_label(record["error_type"])).inc()
    lat = record.get("latency_ms")
    if isinstance(lat, float):
        LATENCY.labels(endpoint, model).observe(lat / 1000.0)
    ttft = record.get("ttft_ms")
    if record.get("stream") and isinstance(ttft, float):
        TTFT.labels(model).observe(ttft / 1000.0)
    for kind in ("prompt", "completion"):
        n = record.get(f"{kind}_tokens")
        if isinstance(n, int) and n:
            TOKENS.labels(model, kind).inc(n)
    cost = record.get("cost_usd")
    if isinstance(cost, float) and cost:
        COST.labels(model).inc(cost)


def render() -> bytes:
    """The Prometheus text exposition."""
    return generate_latest(REGISTRY)
