"""The policy's ``routing`` section as pydantic models (``extra="forbid"``, frozen).

::

    routing:
      routes:                      # names clients may send (virtual models)
        smart:
          mode: fallback           # single | fallback | loadbalance | conditional
                                   # | least-latency | least-cost
          on_status_codes: [429, 500, 502, 503, 504]
          on_errors: [timeout, connection, malformed]
          on_guardrail_failure: true
          targets:
            - target: gpt-4o-mini  # a gateway model name, or another route's name
              timeouts: {first_byte: 5, total: 30}
            - mode: loadbalance
              targets: [{target: local, weight: 3}, {target: echo, weight: 1}]
        by-tier:
          mode: conditional
          conditions:
            - when: {"metadata.tier": {"$eq": "pro"}}
              then: smart          # a route name or an inline node
          default: {target: echo}
      retry: {attempts: 2, on_status_codes: [429, 500, 502, 503, 504]}
      request_timeout_s: 60
      circuit_breaker: {failure_threshold: 5, failure_rate: 0.5, window_s: 30,
                        min_requests: 10, cooldown_s: 15, half_open_probes: 1}
      dynamic: {warmup_requests: 5, tolerance: 0.15, ewma_alpha: 0.2}

A node is either a *leaf* (``target:``) or a *strategy* (``mode:`` with ``targets:``, or
``conditions:``/``default:`` for ``conditional``). Anywhere a node is expected, a bare
string is short for ``{target: <string>}``. Structural rules (unknown targets, cycles,
unreachable conditions, a node with no targets, ...) live in
:func:`workbench.routing.validate.routing_problems`; the model runs them itself unless the
policy loader asks it to defer them so it can report each with its own line.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

__all__ = [
    "DEFAULT_STATUS_CODES",
    "ERROR_KINDS",
    "MODES",
    "CircuitBreakerConfig",
    "DynamicConfig",
    "ErrorKind",
    "Mode",
    "RetryPolicy",
    "RouteNode",
    "RoutingConfig",
    "Rule",
    "TimeoutOverride",
]

Mode = Literal["single", "fallback", "loadbalance", "conditional", "least-latency", "least-cost"]
MODES: tuple[str, ...] = (
    "single",
    "fallback",
    "loadbalance",
    "conditional",
    "least-latency",
    "least-cost",
)
ErrorKind = Literal["timeout", "connection", "malformed"]
ERROR_KINDS: tuple[str, ...] = ("timeout", "connection", "malformed")
DEFAULT_STATUS_CODES: tuple[int, ...] = (429, 500, 502, 503, 504)

# Same value as workbench.policy.model.DEFER_RULES (not imported: the policy model imports
# this module). tests/routing/test_config.py checks that the two agree.
_DEFER_RULES = "workbench.policy.defer_rules"

StatusCode = int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _status_codes(value: list[int]) -> list[int]:
    for code in value:
        if not 100 <= code <= 599:
            raise ValueError(f"{code} is not an HTTP status code (100-599)")
    return value


def _as_node(value: Any) -> Any:
    """A bare string where a node is expected means ``{target: <string>}``."""
    return {"target": value} if isinstance(value, str) else value


class TimeoutOverride(_Strict):
    """Per-target upstream timeouts in seconds; unset fields keep the gateway target's."""

    connect: float | None = Field(default=None, gt=0)
    first_byte: float | None = Field(default=None, gt=0)
    total: float | None = Field(default=None, gt=0)

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


def _retry_errors() -> list[ErrorKind]:
    return ["timeout", "connection"]


class RetryPolicy(_Strict):
    """Retries of one target before the request moves on (``attempts`` = extra tries)."""

    attempts: int = Field(default=0, ge=0, le=10)
    on_status_codes: list[StatusCode] = Field(default_factory=lambda: list(DEFAULT_STATUS_CODES))
    on_errors: list[ErrorKind] = Field(default_factory=_retry_errors)
    backoff_base_ms: float = Field(default=100.0, ge=0)
    backoff_max_ms: float = Field(default=5000.0, ge=0)
    jitter: Literal["full", "none"] = "full"
    use_retry_after_header: bool = True
    max_retry_after_s: float = Field(default=30.0, ge=0)

    _codes = field_validator("on_status_codes")(_status_codes)


class CircuitBreakerConfig(_Strict):
    """Per-target breaker: opens on ``failure_threshold`` failures in ``window_s``, or on a
    failure rate of at least ``failure_rate`` once ``min_requests`` were seen there."""

    enabled: bool = True
    failure_threshold: int = Field(default=5, ge=1)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    window_s: float = Field(default=30.0, gt=0)
    min_requests: int = Field(default=10, ge=1)
    cooldown_s: float = Field(default=15.0, gt=0)
    half_open_probes: int = Field(default=1, ge=1, le=100)


class DynamicConfig(_Strict):
    """Settings of ``least-latency`` and ``least-cost``."""

    warmup_requests: int = Field(default=5, ge=0)
    tolerance: float = Field(default=0.15, ge=0, le=10)
    ewma_alpha: float = Field(default=0.2, gt=0, le=1)


class Rule(_Strict):
    """One rule of a ``conditional`` node: the first rule whose ``when`` matches wins."""

    when: dict[str, Any]
    then: RouteNode

    _then = field_validator("then", mode="before")(_as_node)


class RouteNode(_Strict):
    """A leaf (``target``) or a strategy (``mode`` + ``targets`` / ``conditions``)."""

    target: str | None = Field(default=None, min_length=1)
    mode: Mode | None = None
    targets: list[RouteNode] | None = None
    conditions: list[Rule] | None = None
    default: RouteNode | None = None
    weight: float = Field(default=1.0, gt=0)
    on_status_codes: list[StatusCode] | None = None
    on_errors: list[ErrorKind] | None = None
    on_guardrail_failure: bool | None = None
    retry: RetryPolicy | None = None
    timeouts: TimeoutOverride | None = None

    _codes = field_validator("on_status_codes")(lambda v: None if v is None else _status_codes(v))
    _nodes = field_validator("targets", mode="before")(
        lambda v: [_as_node(x) for x in v] if isinstance(v, list) else v
    )
    _default = field_validator("default", mode="before")(_as_node)

    @property
    def is_leaf(self) -> bool:
        """True for ``{target: ...}`` nodes."""
        return self.target is not None

    @property
    def effective_mode(self) -> str:
        """The node's mode; a leaf is ``single``."""
        return self.mode or "single"

    def fallback_codes(self) -> tuple[int, ...]:
        """Status codes that move a ``fallback`` node on to its next target."""
        codes = self.on_status_codes
        return tuple(codes) if codes is not None else DEFAULT_STATUS_CODES

    def fallback_errors(self) -> tuple[str, ...]:
        """Error kinds that move a ``fallback`` node on to its next target."""
        return tuple(self.on_errors) if self.on_errors is not None else ERROR_KINDS

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class RoutingConfig(_Strict):
    """The whole ``routing`` section of a policy."""

    routes: dict[str, RouteNode] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    request_timeout_s: float = Field(default=300.0, gt=0)
    circuit_breaker: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)
    dynamic: DynamicConfig = Field(default_factory=DynamicConfig)

    @field_validator("routes", mode="before")
    @classmethod
    def _route_nodes(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, dict):
            return {k: _as_node(v) for k, v in value.items()}
        return value

    @field_validator("routes")
    @classmethod
    def _route_names(cls, value: dict[str, RouteNode]) -> dict[str, RouteNode]:
        for name in value:
            if not name or any(c.isspace() for c in name):
                raise ValueError(f"route name {name!r} may not be empty or contain whitespace")
        return value

    @model_validator(mode="after")
    def _structural_rules(self, info: ValidationInfo) -> RoutingConfig:
        if not (info.context or {}).get(_DEFER_RULES):
            from workbench.routing.validate import routing_problems

            problems = routing_problems(self)
            if problems:
                raise ValueError(
                    "; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems)
                )
        return self

    @model_serializer(mode="wrap")
    def _empty_when_default(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        # A section left at its defaults dumps as {} so that policies written before routing
        # existed keep their content hash.
        data: dict[str, Any] = handler(self)
        if self == _DEFAULT:
            return {}
        return data


_DEFAULT = RoutingConfig.model_construct(
    routes={},
    retry=RetryPolicy(),
    request_timeout_s=300.0,
    circuit_breaker=CircuitBreakerConfig(),
    dynamic=DynamicConfig(),
)
