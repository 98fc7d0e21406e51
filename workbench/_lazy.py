"""Lazy public names for a package whose parts live in private submodules.

    __getattr__, __dir__ = lazy_exports(__name__, {"Name": "pkg._module", ...})

A name's module is imported on first access, then the value is cached in the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The package's ``__getattr__`` and ``__dir__``: ``names`` maps each public name to
    the (absolute) module that defines it."""
    namespace = sys.modules[package].__dict__

    def getattr_(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name]), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(names))

    return getattr_, dir_
