"""A third-party provider plugin, as another package would ship it."""

from __future__ import annotations

from typing import Any


class Shouty:
    def shout(self, text: str) -> str:
        return text.upper()


def register(registry: Any) -> None:
    @registry.provider("shouty", capabilities=("chat",))
    def _factory(target: Any) -> Shouty:
        return Shouty()
