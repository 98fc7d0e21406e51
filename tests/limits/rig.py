"""In-process rig for the limits tests: N pipeline "replicas" sharing one authority."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.config.gateway import GatewayConfig, parse_config
from workbench.limits import AuthorityCore, Limiter, LimitsStore, LocalAuthority
from workbench.pipeline import GatewayPipeline, build_pipeline
from workbench.pipeline.types import Incoming
from workbench.pricing import PriceTable, Rate

# echo counts a word as a token: "hello world foo bar" -> 4 prompt + 4 completion tokens
PROMPT = "hello world foo bar"
PRICES = PriceTable(
    version="test",
    local_providers=frozenset(),
    models={"echo": Rate(input=1000.0, output=2000.0)},  # USD per million tokens
)
COST = (4 * 1000.0 + 4 * 2000.0) / 1e6  # one answer: $0.012


def config(require_auth: bool = False) -> GatewayConfig:
    return parse_config(
        {
            "gateway": {"require_auth": require_auth},
            "models": [{"name": "echo", "provider": "echo"}],
        }
    )


def chat_body(**extra: Any) -> bytes:
    body = {"model": "echo", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 16}
    return json.dumps({**body, **extra}).encode()


def incoming(body: bytes, headers: dict[str, str] | None = None) -> Incoming:
    async def read(limit: int) -> bytes:
        return body

    return Incoming(
        kind="chat", endpoint="/v1/chat/completions", read_body=read, headers=headers or {}
    )


@dataclass
class Replicas:
    """``n`` pipelines, each with its own Limiter, over one authority; shared records."""

    core: AuthorityCore
    authority: LocalAuthority
    limiters: list[Limiter]
    pipelines: list[GatewayPipeline]
    records: list[dict[str, Any]] = field(default_factory=list)

    async def burst(self, per_replica: int, body: bytes | None = None) -> list[Any]:
        """``per_replica`` concurrent requests on every replica at once."""
        data = body if body is not None else chat_body()
        calls = [p.handle(incoming(data)) for p in self.pipelines for _ in range(per_replica)]
        return await asyncio.gather(*calls)

    async def close(self) -> None:
        for lim in self.limiters:
            await lim.close()

    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] == "ok"]


def replicas(
    n: int,
    store: LimitsStore,
    *,
    leasing: bool = True,
    clock: Callable[[], float] | None = None,
    **cfg: Any,
) -> Replicas:
    """``n`` pipelines with their own Limiter over one in-process authority; ``clock``
    (wall time for windows) is shared by all of them when given."""
    timing: dict[str, Any] = {} if clock is None else {"clock": clock}
    core = AuthorityCore(store, **timing)
    authority = LocalAuthority(core)
    records: list[dict[str, Any]] = []
    limiters, pipelines = [], []
    for i in range(n):
        lim = Limiter(authority, store=store, client_id=f"replica-{i}", leasing=leasing, **timing)
        limiters.append(lim)
        pipelines.append(
            build_pipeline(
                config(**cfg),
                submit_record=records.append,
                prices=PRICES,
                limiter=lim,
                observe_metrics=False,
            )
        )
    return Replicas(core, authority, limiters, pipelines, records)
