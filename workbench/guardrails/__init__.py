"""The guardrail engine: a catalogue of checks on guardrails-ai, run by policy."""

from workbench.guardrails._offline import ensure_offline

ensure_offline()  # before anything imports guardrails: it reads its settings at import

from workbench.guardrails._registry import (  # noqa: E402
    ENTRY_POINT_GROUP,
    CheckRegistry,
    CheckSpec,
    NoParams,
    registry,
)

__all__ = ["ENTRY_POINT_GROUP", "CheckRegistry", "CheckSpec", "NoParams", "registry"]
