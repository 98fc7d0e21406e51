"""The guardrail engine: a catalogue of checks on guardrails-ai, run by policy."""

from workbench.guardrails._registry import (
    ENTRY_POINT_GROUP,
    CheckRegistry,
    CheckSpec,
    NoParams,
    registry,
)

__all__ = ["ENTRY_POINT_GROUP", "CheckRegistry", "CheckSpec", "NoParams", "registry"]
