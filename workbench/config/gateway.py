"""The gateway configuration file: server settings and the model map.

A config file is YAML parsed into pydantic models with ``extra="forbid"``; any error
names the file, line and field. Users send a model *name*; ``models`` maps each name
to a target (a provider plus its settings).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from workbench.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Timeouts(_Strict):
    """Upstream timeouts in seconds."""

    connect: float = Field(5.0, gt=0)
    read: float = Field(120.0, gt=0)
    first_byte: float | None = Field(None, gt=0)
    """Seconds from sending the request to the first byte of the answer (for a stream: its
    first event); enforced by the gateway's call stage. None: only ``read`` applies."""
    total: float | None = Field(None, gt=0)
    """Seconds for the whole attempt, streamed answers included; enforced by the gateway's
    call stage. None: no limit beyond ``read`` between bytes."""


class ReplicaAutoscaling(_Strict):
    """Serve autoscaling of a model's replicas (local models, embedders): between
    ``min_replicas`` and ``max_replicas``, aiming at ``target_ongoing_requests`` per replica,
    after the load held for the up/down delays."""

    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(ge=1)
    target_ongoing_requests: float = Field(2.0, gt=0)
    upscale_delay_s: float = Field(30.0, ge=0)
    downscale_delay_s: float = Field(600.0, ge=0)
    look_back_period_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> ReplicaAutoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) exceeds max_replicas ({self.max_replicas})"
            )
        return self


class ModelTarget(_Strict):
    """One name clients may send, and where it goes."""

    name: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    # local: HF dir or hub id (or "tiny"); openai-compatible: upstream model name.
    model: str | None = None
    fallback: Literal["tiny"] | None = "tiny"
    # capabilities: takes image_url content parts; the model's embedding size
    vision: bool = False
    dimensions: int | None = Field(None, ge=1)
    # local replicas
    max_batch_size: int = Field(8, ge=1, le=256)
    batch_wait_timeout_s: float = Field(0.01, ge=0, le=5)
    num_replicas: int = Field(1, ge=1)
    autoscaling: ReplicaAutoscaling | None = None  # set: replaces num_replicas
    num_gpus: float | None = Field(None, ge=0)
    max_new_tokens_default: int = Field(256, ge=1, le=1 << 20)
    # openai-compatible
    base_url: str | None = None
    api_key_env: str | None = None
    api_key_file: str | None = None
    # a provider credential stored encrypted (``workbench credentials add``): its id
    credential: str | None = Field(None, pattern=r"^cred-[0-9a-f]+$")
    timeouts: Timeouts = Field(default_factory=Timeouts)
    # remote providers: azure-openai api-version query / anthropic-version header;
    # azure deployment name; extra request fields passed through (e.g. store, service_tier)
    api_version: str | None = None
    deployment: str | None = None
    allow_fields: list[str] = Field(default_factory=list)
    # echo
    delay_ms: float = Field(0.0, ge=0)

    @field_validator("name")
    @classmethod
    def _name_chars(cls, v: str) -> str:
        if any(c.isspace() for c in v):
            raise ValueError("model names may not contain whitespace")
        return v

    @model_validator(mode="after")
    def _one_key_source(self) -> ModelTarget:
        given = [f for f in ("api_key_env", "api_key_file", "credential") if getattr(self, f)]
        if len(given) > 1:
            raise ValueError(
                f"give at most one of api_key_env, api_key_file, credential "
                f"(got {', '.join(given)})"
            )
        return self


class GatewaySettings(_Strict):
    """HTTP server settings of the ingress."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    store_bodies: bool = True
    ingress_replicas: int = Field(1, ge=1)
    max_ongoing_requests: int = Field(256, ge=1)
    require_auth: bool = True
    fast_proxy: bool = True  # HAProxy + throughput-optimized Serve (DESIGN.md)
    # CIDRs of reverse proxies whose X-Forwarded-For is believed (workbench.governance.proxies)
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        from workbench.governance.proxies import parse_networks

        parse_networks(v)
        return v


class LoggingSettings(_Strict):
    """Request-log settings."""

    dir: str | None = None
    flush_rows: int = Field(1000, ge=1)
    flush_interval_s: float = Field(1.0, gt=0)
    batch_max_records: int = Field(256, ge=1)
    batch_interval_s: float = Field(0.05, gt=0)
    compact_interval_s: float = Field(300.0, gt=0)  # how often closed hours are merged
    compact_grace_s: float = Field(900.0, ge=0)  # an hour is closed this long after it ends
    # A non-streamed answer waits for its record's acknowledgement by the LogSink (at most
    # ack_timeout_s) before it is sent, so a node lost right after answering loses no
    # record. None: on when deployed to a cluster (`workbench deploy`), off on one machine.
    ack_before_response: bool | None = None
    ack_timeout_s: float = Field(2.0, gt=0)


class GuardrailSettings(_Strict):
    """Guardrail infrastructure (the policies themselves live in the policy store)."""

    scorer: bool = True  # deploy the batched ML scorer (MiniLM) for ML checks
    policy_poll_s: float = Field(0.25, gt=0)


class AnomalySettings(_Strict):
    """The anomaly watcher that ``workbench up`` runs beside the gateway (off by default)."""

    enabled: bool = False
    every_minutes: float = Field(5.0, gt=0)
    webhook_url: str | None = None  # Slack-compatible; or name an env var / a secret file
    webhook_url_env: str | None = None
    webhook_url_file: str | None = None
    cooldown_minutes: float = Field(60.0, ge=0)


class GatewayConfig(_Strict):
    """The whole gateway config file."""

    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    guardrails: GuardrailSettings = Field(default_factory=GuardrailSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    anomalies: AnomalySettings = Field(default_factory=AnomalySettings)
    pricing: str | None = None
    models: Annotated[list[ModelTarget], Field(min_length=1)]

    @field_validator("models")
    @classmethod
    def _unique_names(cls, v: list[ModelTarget]) -> list[ModelTarget]:
        seen: set[str] = set()
        for m in v:
            if m.name in seen:
                raise ValueError(f"duplicate model name {m.name!r}")
            seen.add(m.name)
        return v

    def target(self, name: str) -> ModelTarget | None:
        """The target for a model name, or None."""
        for m in self.models:
            if m.name == name:
                return m
        return None


def default_config_path() -> Path:
    """The packaged embedded-defaults config."""
    return Path(str(resources.files("workbench.config").joinpath("default.yaml")))


def load_config(path: str | Path | None = None) -> GatewayConfig:
    """Load and validate a gateway config (``None``: $WORKBENCH_CONFIG or the default)."""
    from workbench.config._yamlsource import load_yaml_with_lines

    if path is None:
        path = os.environ.get("WORKBENCH_CONFIG") or default_config_path()
    path = Path(path)
    if not path.exists():
        raise ConfigError("file not found", path=str(path))
    data, locate = load_yaml_with_lines(path)
    return parse_config(data, path=str(path), locate=locate)


def parse_config(data: Any, *, path: str = "<config>", locate: Any = None) -> GatewayConfig:
    """Validate already-parsed config data; errors carry file, line and field."""
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping", path=path, line=1)
    from workbench.config._yamlsource import config_error_from_validation

    try:
        cfg = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        raise config_error_from_validation(exc, path=path, locate=locate) from None
    from workbench.providers import registry

    for idx, m in enumerate(cfg.models):
        loc2: tuple[Any, ...] = ("models", idx, "provider")
        if m.provider not in registry.names():
            known = ", ".join(sorted(registry.names()))
            raise ConfigError(
                f"unknown provider {m.provider!r} (known: {known})",
                path=path,
                line=locate(loc2) if locate else None,
                field=".".join(str(p) for p in loc2),
            )
        try:
            registry.get(m.provider).validate_target(m)
        except ValueError as exc:
            loc3: tuple[Any, ...] = ("models", idx)
            raise ConfigError(
                str(exc),
                path=path,
                line=locate(loc3) if locate else None,
                field=f"models.{idx} ({m.name})",
            ) from None
    return cfg
