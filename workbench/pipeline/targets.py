"""The gateway's concrete model targets and the backends that serve them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from workbench.config.gateway import ModelTarget
from workbench.errors import InvalidRequestError, UpstreamTimeoutError
from workbench.providers import ChatRequest, Completion, Delta, EmbeddingResult


class Backend(Protocol):
    """What the pipeline calls for one target (in-process client or a replica handle)."""

    async def chat(self, req: ChatRequest) -> Completion: ...

    def stream(self, req: ChatRequest) -> AsyncIterator[Delta]: ...

    async def embed(self, texts: list[str]) -> EmbeddingResult: ...


@dataclass(frozen=True)
class Target:
    """One configured target: its config, its backend, what it can do."""

    config: ModelTarget
    backend: Backend
    capabilities: frozenset[str]

    @property
    def name(self) -> str:
        """The name clients (and routes) use."""
        return self.config.name

    @property
    def upstream_model(self) -> str:
        """The model name sent upstream."""
        return self.config.model or self.config.name

    def require(self, capability: str) -> None:
        """Refuse a request this target cannot serve (400, never retried)."""
        if capability not in self.capabilities:
            raise InvalidRequestError(
                f"model '{self.name}' does not support {capability} "
                f"(it supports: {', '.join(sorted(self.capabilities)) or 'nothing'})",
                param="model",
                code="unsupported_model_capability",
            )

    def request_for(self, req: ChatRequest) -> ChatRequest:
        """``req`` addressed to this target (its upstream name, its default max_tokens)."""
        params = req.params
        if params.max_tokens is None and self.config.provider == "local":
            params = replace(params, max_tokens=self.config.max_new_tokens_default)
        return replace(req, model=self.upstream_model, params=params)


T = TypeVar("T")


async def within(step: Awaitable[T], limit: float | None, target: str, what: str) -> T:
    """``await step``, or UpstreamTimeoutError naming ``target`` when ``limit`` s pass
    first (None: no limit). The one timeout mapping of every upstream wait."""
    try:
        async with asyncio.timeout(limit):
            return await step
    except TimeoutError:
        raise UpstreamTimeoutError(
            f"upstream {target} gave no {what} within {limit or 0:.3g}s"
        ) from None


def capability_of(kind: str) -> str:
    """The capability an endpoint kind needs."""
    return {"chat": "chat", "completions": "completions", "embeddings": "embeddings"}[kind]
