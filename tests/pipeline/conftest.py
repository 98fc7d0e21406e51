"""In-process gateway fixtures: the production pipeline and the real FastAPI adapter,
no Ray. Requests go over httpx's ASGI transport (real HTTP semantics, no socket)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bench.fake_upstream import FakeUpstreamThread
from workbench.config.gateway import GatewayConfig, parse_config
from workbench.gateway.app import create_app
from workbench.pipeline import GatewayPipeline, build_pipeline


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstreamThread]:
    with FakeUpstreamThread(delay_ms=1) as up:
        yield up


def gateway_config(upstream_url: str, **gateway: Any) -> GatewayConfig:
    return parse_config(
        {
            "gateway": {"require_auth": False, **gateway},
            "models": [
                {"name": "echo", "provider": "echo"},
                {
                    "name": "remote",
                    "provider": "openai-compatible",
                    "base_url": upstream_url,
                    "model": "fake-model",
                },
                {
                    "name": "down",
                    "provider": "openai-compatible",
                    "base_url": f"http://127.0.0.1:{closed_port()}/v1",
                    "model": "fake-model",
                    "timeouts": {"connect": 1, "read": 2},
                },
            ],
        }
    )


@dataclass
class InProcess:
    """A built pipeline, its app, an httpx client on it, and the records it logged."""

    pipeline: GatewayPipeline
    client: httpx.AsyncClient
    records: list[dict[str, Any]] = field(default_factory=list)

    def only_record(self) -> dict[str, Any]:
        assert len(self.records) == 1, self.records
        return self.records[0]


async def in_process(cfg: GatewayConfig, **kwargs: Any) -> InProcess:
    records: list[dict[str, Any]] = []
    gp = build_pipeline(cfg, submit_record=records.append, **kwargs)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(gp)), base_url="http://gw"
    )
    return InProcess(gp, client, records)


@pytest.fixture
async def gw(upstream: FakeUpstreamThread) -> AsyncIterator[InProcess]:
    ip = await in_process(gateway_config(upstream.base_url))
    yield ip
    await ip.client.aclose()
