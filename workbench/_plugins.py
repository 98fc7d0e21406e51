"""A name -> spec registry filled from an entry-point group (built-ins register the same way).

Shared by the provider registry and the guardrail check catalogue: each entry point
names a ``register(registry)`` function, loaded once on first use; a plugin that fails
to load is logged and skipped rather than taking the registry down.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class _Named(Protocol):
    name: str


S = TypeVar("S", bound=_Named)


class PluginRegistry(Generic[S]):
    """Specs by name; the entry-point group is read on first lookup."""

    group: str = ""
    kind: str = "plugin"

    def __init__(self) -> None:
        self._specs: dict[str, S] = {}
        self._loaded = False

    def add(self, spec: S) -> None:
        """Register a spec (a later registration of the same name replaces it)."""
        self._specs[spec.name] = spec

    def load_entry_points(self) -> None:
        """Import every entry point of the group and call its ``register(self)``."""
        self._loaded = True
        for ep in entry_points(group=self.group):
            try:
                ep.load()(self)
            except Exception:  # a broken plugin must not take the registry down
                log.exception("%s plugin %r failed to register", self.kind, ep.name)

    def _ensure(self) -> None:
        if not self._loaded:
            self.load_entry_points()

    def names(self) -> set[str]:
        """Registered names."""
        self._ensure()
        return set(self._specs)

    def get(self, name: str) -> S:
        """The spec for ``name``; KeyError when unknown."""
        self._ensure()
        return self._specs[name]
