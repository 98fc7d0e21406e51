"""``openai-compatible``: any remote endpoint speaking the OpenAI wire format.

One long-lived aiohttp session per gateway replica (DESIGN.md: httpx's pool
contention costs 10x the CPU at concurrency 32). The API key comes from an
environment variable or a secret file named in the config, never from the request.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from workbench.errors import (
    InvalidRequestError,
    RateLimitError,
    UpstreamError,
    UpstreamTimeoutError,
)
from workbench.providers._types import ChatRequest, Completion, Delta, EmbeddingResult

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.providers._registry import ProviderRegistry


def _validate(target: ModelTarget) -> None:
    if not target.base_url:
        raise ValueError("openai-compatible targets need base_url")
    if not target.base_url.startswith(("http://", "https://")):
        raise ValueError("base_url must start with http:// or https://")


def _api_key(target: ModelTarget) -> str | None:
    if target.api_key_file:
        return Path(target.api_key_file).expanduser().read_text().strip()
    if target.api_key_env:
        return os.environ.get(target.api_key_env)
    return None


def _body(req: ChatRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = dict(req.extra)
    body["model"] = model
    if req.prompt is not None:
        body["prompt"] = req.prompt
    else:
        body["messages"] = req.messages
    p = req.params
    if p.max_tokens is not None:
        body["max_tokens"] = p.max_tokens
    if p.temperature is not None:
        body["temperature"] = p.temperature
    if p.top_p is not None:
        body["top_p"] = p.top_p
    if p.stop:
        body["stop"] = p.stop
    if p.seed is not None:
        body["seed"] = p.seed
    if req.user is not None:
        body["user"] = req.user
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _choice_text(choice: dict[str, Any], chat: bool, delta: bool) -> str:
    if chat:
        part = choice.get("delta" if delta else "message") or {}
        return part.get("content") or ""
    return choice.get("text") or ""


class OpenAICompatClient:
    """Calls one remote OpenAI-compatible target."""

    def __init__(self, target: ModelTarget) -> None:
        assert target.base_url
        self.base_url = target.base_url.rstrip("/")
        self.model = target.model or target.name
        self.key = _api_key(target)
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=target.timeouts.connect, sock_read=target.timeouts.read
        )
        self._session: aiohttp.ClientSession | None = None

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Content-Type": "application/json"}
            if self.key:
                headers["Authorization"] = f"Bearer {self.key}"
            self._session = aiohttp.ClientSession(
                headers=headers,
                timeout=self.timeout,
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                json_serialize=json.dumps,
            )
        return self._session

    async def _raise_for(self, resp: aiohttp.ClientResponse) -> None:
        if resp.status < 400:
            return
        try:
            data = await resp.json(content_type=None)
            msg = data.get("error", {}).get("message") or json.dumps(data)[:500]
        except Exception:
            msg = (await resp.text())[:500]
        where = f"upstream {self.base_url} answered {resp.status}: {msg}"
        if resp.status == 429:
            raise RateLimitError(where, code="upstream_rate_limited")
        if resp.status in (400, 404, 422):
            raise InvalidRequestError(where, code="upstream_rejected")
        if resp.status in (408, 504):
            raise UpstreamTimeoutError(where)
        raise UpstreamError(where)

    async def _post(self, path: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
        try:
            resp = await self._sess().post(self.base_url + path, data=json.dumps(body))
        except TimeoutError as exc:
            raise UpstreamTimeoutError(f"upstream {self.base_url} timed out") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"upstream {self.base_url} unreachable: {exc}") from exc
        if resp.status >= 400:
            try:
                await self._raise_for(resp)
            finally:
                resp.release()
        return resp

    async def chat(self, req: ChatRequest) -> Completion:
        """A non-streamed completion."""
        chat = req.prompt is None
        path = "/chat/completions" if chat else "/completions"
        resp = await self._post(path, _body(req, self.model))
        try:
            data = await resp.json(content_type=None)
        except TimeoutError as exc:
            raise UpstreamTimeoutError(f"upstream {self.base_url} timed out") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise UpstreamError(f"upstream {self.base_url} sent an invalid body: {exc}") from exc
        finally:
            resp.release()
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise UpstreamError(f"upstream {self.base_url} sent no choices") from exc
        usage = data.get("usage") or {}
        return Completion(
            text=_choice_text(choice, chat, delta=False),
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            upstream_request_id=data.get("id"),
        )

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        """Pass the upstream SSE stream through as deltas."""
        chat = req.prompt is None
        path = "/chat/completions" if chat else "/completions"
        req.stream = True
        resp = await self._post(path, _body(req, self.model))
        finish: str | None = None
        usage: dict[str, Any] = {}
        upstream_id: str | None = None
        try:
            async for raw in resp.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError:
                    continue
                if "error" in chunk:
                    raise UpstreamError(f"upstream error mid-stream: {chunk['error']}")
                upstream_id = upstream_id or chunk.get("id")
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    text = _choice_text(choice, chat, delta=True)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    if text:
                        yield Delta(text=text)
        except TimeoutError as exc:
            raise UpstreamTimeoutError(f"upstream {self.base_url} stalled mid-stream") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"upstream {self.base_url} broke the stream: {exc}") from exc
        finally:
            resp.release()
        yield Delta(
            finish_reason=finish or "stop",
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            upstream_request_id=upstream_id,
        )

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        """Remote embeddings."""
        resp = await self._post("/embeddings", {"model": self.model, "input": texts})
        try:
            data = await resp.json(content_type=None)
        finally:
            resp.release()
        rows = sorted(data.get("data") or [], key=lambda r: r.get("index", 0))
        return EmbeddingResult(
            vectors=[r["embedding"] for r in rows],
            prompt_tokens=int((data.get("usage") or {}).get("prompt_tokens") or 0),
            model=data.get("model") or self.model,
        )

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()


def register(registry: ProviderRegistry) -> None:
    """Entry point: register ``openai-compatible``."""

    @registry.provider(
        "openai-compatible",
        capabilities=("chat", "completions", "embeddings"),
        validate=_validate,
        description="Remote OpenAI-compatible HTTP endpoint",
    )
    def _factory(target: ModelTarget) -> Any:
        return OpenAICompatClient(target)
