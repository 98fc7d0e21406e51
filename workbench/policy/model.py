"""The policy schema: pydantic models with ``extra="forbid"`` everywhere.

A policy file looks like this (every key but ``id`` is optional)::

    id: default                # slug: [a-z0-9][a-z0-9_-]{0,63}
    description: "..."
    applies_to:
      workspaces: ["*"]        # fnmatch globs (case-sensitive); default ["*"]
      models: ["*"]            # fnmatch globs on the model name clients send; default ["*"]
    input:                     # ordered list of checks, run in this order
      - name: block-secrets    # unique within the policy (slug)
        validator: secrets     # a name in the check catalogue
        params: {}             # validated against that check's params model
        on_fail: deny          # deny | flag | redact | fix | fallback | retry | noop
        sample_rate: 1.0       # 0 < x <= 1: run on this share of requests
        mode: enforce          # enforce | log_only (runs after the response, never changes it)
        message: null          # text for the client when it denies
        roles: null            # input only: which texts it reads (default: all of them):
                               # system developer user assistant tool function tools
                               # response_format prompt embedding_input
        mask_in_log: null      # mask its flagged spans in the log (default: secrets/PII checks)
    output: [...]              # same shape (no roles)
    streaming: {window: sentence, window_tokens: 32,   # a window ends at a sentence end or
                max_window_chars: 400, max_window_tokens: 64,  # at the first bound hit
                max_window_ms: 250}
    fallback: {model: null, message: null}
    retry: {max_attempts: 2}
    logging: {store_bodies: true, redact_bodies: true}
    routing: {}                # routes, retry, budget, breaker: see docs/routing.md
    cache: {enabled: false}    # exact/semantic caching, TTL, size: workbench.cache.settings
    limits: {}                 # reserved

Rules that need no check catalogue (``fallback``/``retry`` only in the output stage,
``fallback`` needs ``fallback.model`` or ``fallback.message``, unique check names) are
enforced by :class:`Policy` itself; the catalogue rules (known validator, valid params,
supported stage, ``redact``/``fix`` only on checks that can fix) by
:func:`workbench.policy.loader.parse_policy`, which also reports every error with its
file, line and field.

The content hash (:func:`policy_hash`) is the SHA-256 of the canonical JSON of the
validated model (defaults filled in, keys sorted), so it does not change with key order,
comments or formatting of the source file.
"""

from __future__ import annotations

import hashlib
import json
import typing
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from workbench.cache.settings import CacheSettings
from workbench.routing.config import RoutingConfig

__all__ = [
    "ACTIONS",
    "DEFER_RULES",
    "ROLES",
    "STAGES",
    "Action",
    "AppliesTo",
    "CheckConfig",
    "FallbackConfig",
    "LoggingConfig",
    "Loc",
    "Mode",
    "Policy",
    "RetryConfig",
    "Role",
    "SLUG_PATTERN",
    "Stage",
    "StreamingConfig",
    "policy_hash",
    "rule_problems",
]

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]

Action = Literal["deny", "flag", "redact", "fix", "fallback", "retry", "noop"]
ACTIONS: tuple[str, ...] = ("deny", "flag", "redact", "fix", "fallback", "retry", "noop")
Mode = Literal["enforce", "log_only"]
Stage = Literal["input", "output"]
STAGES: tuple[Stage, ...] = ("input", "output")
Role = Literal[
    "system", "developer", "user", "assistant", "tool", "function",
    "tools", "response_format", "prompt", "embedding_input",
]  # fmt: skip
ROLES: tuple[str, ...] = typing.get_args(Role)
"""The texts an input check can read: message roles; ``tools`` (function names,
descriptions and parameter schemas); ``response_format`` (its JSON schema); ``prompt``
(legacy completions); ``embedding_input`` (texts sent to an embedding model)."""

Loc = tuple[str | int, ...]
"""A path into the policy document: keys and list indexes, as pydantic reports them."""

DEFER_RULES = "workbench.policy.defer_rules"
"""Validation-context flag: skip the cross-field rules so the loader can report each one
with its own line (it then calls :func:`rule_problems` itself)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _none_to_empty(value: Any) -> Any:
    """``params:`` written with no value means ``{}``."""
    return {} if value is None else value


class CheckConfig(_Strict):
    """One check of a stage: which validator runs, with what params, and what a fail does."""

    name: Slug
    validator: NonEmpty
    params: dict[str, Any] = Field(default_factory=dict)
    on_fail: Action = "deny"
    sample_rate: float = Field(default=1.0, gt=0, le=1)
    mode: Mode = "enforce"
    message: str | None = None
    roles: list[Role] | None = Field(default=None, min_length=1)
    mask_in_log: bool | None = None

    _empty_params = field_validator("params", mode="before")(_none_to_empty)

    @model_serializer(mode="wrap")
    def _omit_unset_newer(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Fields added after policies were first published are left out at their
        # default, so the content hash of every stored version stays what it was.
        return _without_defaults(handler(self), {"roles": None, "mask_in_log": None})


class AppliesTo(_Strict):
    """Which requests a policy governs: fnmatch globs on workspace and model name."""

    workspaces: list[NonEmpty] = Field(default_factory=lambda: ["*"], min_length=1)
    models: list[NonEmpty] = Field(default_factory=lambda: ["*"], min_length=1)


_STREAM_BOUNDS = {"max_window_chars": 400, "max_window_tokens": 64, "max_window_ms": 250}


class StreamingConfig(_Strict):
    """How output checks see a streamed answer: per sentence or per N tokens, each window
    bounded in characters, whitespace tokens and milliseconds (from its first character),
    so text without a sentence end still streams."""

    window: Literal["sentence", "tokens"] = "sentence"
    window_tokens: int = Field(default=32, ge=1)
    max_window_chars: int = Field(default=_STREAM_BOUNDS["max_window_chars"], ge=1)
    max_window_tokens: int = Field(default=_STREAM_BOUNDS["max_window_tokens"], ge=1)
    max_window_ms: int = Field(default=_STREAM_BOUNDS["max_window_ms"], ge=1)

    @model_serializer(mode="wrap")
    def _omit_default_bounds(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Left out at their defaults: stored versions keep their content hash.
        return _without_defaults(handler(self), dict(_STREAM_BOUNDS))


def _without_defaults(data: Any, defaults: dict[str, Any]) -> Any:
    """``data`` without the keys of ``defaults`` whose value is the default."""
    if not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if k not in defaults or v != defaults[k]}


class FallbackConfig(_Strict):
    """What a ``fallback`` action answers with: another model, or a canned message."""

    model: NonEmpty | None = None
    message: NonEmpty | None = None


class RetryConfig(_Strict):
    """How often a ``retry`` action asks the model again."""

    max_attempts: int = Field(default=2, ge=1, le=5)


class LoggingConfig(_Strict):
    """What the request log keeps of bodies."""

    store_bodies: bool = True
    redact_bodies: bool = True


def _none_to_empty_list(value: Any) -> Any:
    """``input:`` written with no value means ``[]``."""
    return [] if value is None else value


def _reserved(value: Any) -> Any:
    value = _none_to_empty(value)
    if value != {}:
        raise PydanticCustomError(
            "reserved_section",
            "reserved for a later release: leave it empty ({}) or remove it",
        )
    return value


class Policy(_Strict):
    """A validated policy. Immutable; compare versions with :func:`policy_hash`."""

    id: Slug
    description: str | None = None
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    input: list[CheckConfig] = Field(default_factory=list)
    output: list[CheckConfig] = Field(default_factory=list)
    streaming: StreamingConfig = Field(default_factory=StreamingConfig)
    fallback: FallbackConfig = Field(default_factory=FallbackConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    limits: dict[str, Any] = Field(default_factory=dict)

    _empty_lists = field_validator("input", "output", mode="before")(_none_to_empty_list)
    _reserved_sections = field_validator("limits", mode="before")(_reserved)
    _routing_none = field_validator("routing", "cache", mode="before")(_none_to_empty)

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> Policy:
        if not (info.context or {}).get(DEFER_RULES):
            problems = rule_problems(self)
            if problems:
                raise ValueError(
                    "; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems)
                )
        return self

    def checks(self, stage: Stage) -> list[CheckConfig]:
        """The checks of ``stage`` ("input" or "output"), in order."""
        return list(self.input if stage == "input" else self.output)

    def iter_checks(self) -> Iterator[tuple[Stage, int, CheckConfig]]:
        """Every check as ``(stage, index, check)``, input first."""
        for stage in STAGES:
            for i, check in enumerate(self.checks(stage)):
                yield stage, i, check

    def canonical_json(self) -> str:
        """The hashed form: the full model (defaults included) as compact, key-sorted JSON."""
        return json.dumps(
            self.model_dump(mode="json"),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def canonical_yaml(self) -> str:
        """The full model as YAML: schema key order, free-form mappings sorted.

        Parsing this text again gives an equal policy with the same hash.
        """
        data = self.model_dump(mode="json")
        for stage in STAGES:
            for check in data[stage]:
                check["params"] = _sort_keys(check["params"])
        return yaml.safe_dump(
            data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
        )


def _sort_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sort_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sort_keys(v) for v in value]
    return value


def rule_problems(policy: Policy) -> list[tuple[Loc, str]]:
    """The cross-field rule violations of ``policy`` as ``(loc, message)`` pairs.

    Unique check names across both stages; ``fallback`` and ``retry`` only in the output
    stage; ``fallback`` needs ``fallback.model`` or ``fallback.message``.
    """
    problems: list[tuple[Loc, str]] = []
    seen: dict[str, str] = {}
    has_fallback = policy.fallback.model is not None or policy.fallback.message is not None
    for stage, i, check in policy.iter_checks():
        where = f"{stage}.{i}"
        if check.name in seen:
            problems.append(
                (
                    (stage, i, "name"),
                    f"duplicate check name {check.name!r} (also {seen[check.name]})",
                )
            )
        else:
            seen[check.name] = where
        if check.roles is not None and stage == "output":
            problems.append(
                (
                    (stage, i, "roles"),
                    "roles choose the input texts a check reads; "
                    "output checks read the model's answer (remove roles)",
                )
            )
        if check.on_fail in ("fallback", "retry") and stage == "input":
            problems.append(
                (
                    (stage, i, "on_fail"),
                    f"{check.on_fail!r} is only allowed in the output stage "
                    "(use deny, flag, redact or fix on input)",
                )
            )
        elif check.on_fail == "fallback" and not has_fallback:
            problems.append(
                (
                    (stage, i, "on_fail"),
                    "'fallback' needs fallback.model or fallback.message to be set",
                )
            )
    return problems


def policy_hash(policy: Policy) -> str:
    """SHA-256 (hex) of the policy's canonical JSON: stable across key order and formatting."""
    return hashlib.sha256(policy.canonical_json().encode("utf-8")).hexdigest()


def short_hash(digest: str, n: int = 12) -> str:
    """The first ``n`` hex digits of a hash, for display."""
    return digest[:n]


def format_loc(loc: Sequence[str | int]) -> str:
    """``("output", 1, "params", "pattern")`` -> ``"output.1.params.pattern"``."""
    return ".".join(str(p) for p in loc)
