"""Fixtures for the guardrail catalogue tests: a registry holding only the built-in cheap
checks (no entry points), and helpers to build a check and read a result's spans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from workbench.guardrails import CheckRegistry


@pytest.fixture(scope="session")
def catalogue() -> CheckRegistry:
    """A registry with the built-in cheap checks only."""
    from workbench.guardrails.validators import register

    reg = CheckRegistry()
    reg._loaded = True  # skip entry points: only what register() adds
    register(reg)
    return reg


@pytest.fixture(scope="session")
def make(catalogue: CheckRegistry) -> Callable[..., Any]:
    """``make(name, **params)``: build a check the way the engine does (spec.make)."""

    def _make(name: str, **params: Any) -> Any:
        return catalogue.get(name).make(params)

    return _make


def span_texts(result: Any, text: str) -> list[tuple[str, str]]:
    """``(covered text, reason)`` for each error span of ``result``."""
    return [(text[s.start : s.end], s.reason) for s in (result.error_spans or [])]


@pytest.fixture(scope="session")
def spans() -> Callable[[Any, str], list[tuple[str, str]]]:
    """The :func:`span_texts` helper as a fixture."""
    return span_texts
