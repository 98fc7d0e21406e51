"""Prometheus metrics of the gateway, exposed at ``GET /metrics`` on the gateway port."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
    model = str(record.get("model_requested") or "")
    endpoint = str(record.get("endpoint") or "")
    REQUESTS.labels(endpoint, model, str(record.get("http_status"))).inc()
    if record.get("error_type"):
        ERRORS.labels(model, str(record["error_type"])).inc()
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
