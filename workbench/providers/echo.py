"""``echo``: answers with the last user message (or the prompt). For tests and smoke checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from workbench.providers._types import ChatRequest, Completion, Delta

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.providers._registry import ProviderRegistry


def _source_text(req: ChatRequest) -> str:
    if req.prompt is not None:
        return req.prompt
    for msg in reversed(req.messages or []):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):  # content parts
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _words(text: str) -> list[str]:
    return text.split()


class EchoClient:
    """Echoes the input, honouring ``max_tokens`` (one token = one word) and ``stop``."""

    def __init__(self, target: ModelTarget) -> None:
        self.delay_s = target.delay_ms / 1000.0
        self.name = target.name

    def _answer(self, req: ChatRequest) -> tuple[list[str], str, int]:
        source = _source_text(req)
        words = _words(source)
        finish = "stop"
        limit = req.params.max_tokens
        if limit is not None and len(words) > limit:
            words, finish = words[:limit], "length"
        text = " ".join(words)
        for s in req.params.stop:
            cut = text.find(s)
            if cut >= 0:
                text, finish = text[:cut], "stop"
                words = _words(text)
        prompt_tokens = sum(
            len(_words(str(m.get("content", "")))) for m in (req.messages or [])
        ) or len(_words(req.prompt or ""))
        return words, finish, prompt_tokens

    async def chat(self, req: ChatRequest) -> Completion:
        """The whole echo at once."""
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        words, finish, pt = self._answer(req)
        return Completion(
            text=" ".join(words),
            finish_reason=finish,
            prompt_tokens=pt,
            completion_tokens=len(words),
            replica="echo",
        )

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        """The echo a word at a time."""
        words, finish, pt = self._answer(req)
        for i, w in enumerate(words):
            if self.delay_s:
                await asyncio.sleep(self.delay_s / max(1, len(words)))
            yield Delta(text=w if i == 0 else " " + w)
        yield Delta(
            finish_reason=finish, prompt_tokens=pt, completion_tokens=len(words), replica="echo"
        )

    async def close(self) -> None:
        """Nothing to release."""


def register(registry: ProviderRegistry) -> None:
    """Entry point: register ``echo``."""

    @registry.provider(
        "echo", capabilities=("chat", "completions"), description="Echoes the last user message"
    )
    def _factory(target: ModelTarget) -> Any:
        return EchoClient(target)
