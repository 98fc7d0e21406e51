"""The dashboard's pages: each module registers one builder with :func:`page`.

A builder takes a :class:`~workbench.dashboard._context.DashboardContext` and returns a
Panel viewable; it must render fast (defer slow queries with ``pn.state.onload`` or async
callbacks behind a loading indicator) and never hold the whole log in memory.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.dashboard._context import DashboardContext

Builder = Callable[["DashboardContext"], Any]

#: Page modules, in navigation order (imported on first use of :func:`pages`).
PAGE_MODULES = ("live", "cost", "anomalies", "guardrails", "explorer", "policies")


@dataclass(frozen=True)
class PageSpec:
    """One registered page: its URL slug, title, order in the navigation and builder."""

    slug: str
    title: str
    order: int
    build: Builder


_REGISTRY: dict[str, PageSpec] = {}


def page(slug: str, title: str, order: int) -> Callable[[Builder], Builder]:
    """Register ``build(ctx) -> viewable`` as the page ``slug`` (decorator)."""

    def register(build: Builder) -> Builder:
        _REGISTRY[slug] = PageSpec(slug, title, order, build)
        return build

    return register


def pages() -> list[PageSpec]:
    """Every page, in navigation order; imports the page modules once.

    A page module that fails to import raises: a broken page is a loud failure.
    """
    for name in PAGE_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    return sorted(_REGISTRY.values(), key=lambda spec: spec.order)
