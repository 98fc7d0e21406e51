"""Fixtures for the policy tests: a test catalogue, a private store, a file writer."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import workbench.guardrails
from tests.policy._checks import LocalRegistry, make_registry
from workbench.policy import PolicyStore


@pytest.fixture
def reg() -> LocalRegistry:
    """The small test catalogue."""
    return make_registry()


@pytest.fixture
def global_reg(monkeypatch: pytest.MonkeyPatch, reg: LocalRegistry) -> LocalRegistry:
    """Make the test catalogue the global one (for the CLI, which uses the default)."""
    monkeypatch.setattr(workbench.guardrails, "registry", reg)
    return reg


@pytest.fixture
def store(tmp_path: Path, reg: LocalRegistry) -> PolicyStore:
    """A store in a temp folder, validating against the test catalogue."""
    return PolicyStore(tmp_path / "policies", registry=reg)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """``write(name, yaml_text)``: a dedented policy file under tmp_path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write
