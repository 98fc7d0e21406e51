"""Routing: strategies, retries, time budgets and circuit breakers (no Ray, no FastAPI).

- :mod:`~workbench.routing.config`: the policy's ``routing`` section (:class:`RoutingConfig`)
- :mod:`~workbench.routing.validate`: its structural rules (``routing_problems``)
- :mod:`~workbench.routing.conditions`: the condition language of ``conditional`` routes
- :mod:`~workbench.routing.router`: :class:`Router` (``execute`` makes the attempts)
- :mod:`~workbench.routing.selection`: loadbalance / least-latency / least-cost order
- :mod:`~workbench.routing.breaker` and :mod:`~workbench.routing.state`: per-target health
  behind the :class:`RoutingState` interface (:class:`LocalRoutingState` in-process;
  ``serve.routing_state.SharedRoutingState`` across ingress replicas)

See docs/routing.md.
"""

from workbench.routing.config import (
    CircuitBreakerConfig,
    DynamicConfig,
    RetryPolicy,
    RouteNode,
    RoutingConfig,
    Rule,
    TimeoutOverride,
)
from workbench.routing.router import Router
from workbench.routing.state import LocalRoutingState, RoutingState
from workbench.routing.types import (
    Attempt,
    AttemptTimeouts,
    OutputRejected,
    RouteRequest,
    TargetInfo,
)
from workbench.routing.validate import routing_problems

__all__ = [
    "Attempt",
    "AttemptTimeouts",
    "CircuitBreakerConfig",
    "DynamicConfig",
    "LocalRoutingState",
    "OutputRejected",
    "RetryPolicy",
    "RouteNode",
    "RouteRequest",
    "Router",
    "RoutingConfig",
    "RoutingState",
    "Rule",
    "TargetInfo",
    "TimeoutOverride",
    "routing_problems",
]
