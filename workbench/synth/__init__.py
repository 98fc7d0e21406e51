"""Synthetic request-log traffic: realistic, seeded, fast.

- :func:`generate` yields Arrow tables of the lake's schema (diurnal and weekly load,
  several workspaces with their keys, users and models, streaming, errors, timeouts and
  fallbacks, attacks and PII caught by the default policy's guardrails, exact repeats
  and paraphrases, cache hits), with optional injected anomalies;
- :func:`write` puts them straight into the log lake
  (:func:`workbench.logstore.bulk.write_tables`);
- :func:`send` sends the same mix through a running gateway, which logs real records.

Example::

    from datetime import UTC, datetime, timedelta
    from workbench import synth

    end = datetime.now(UTC)
    spike = synth.Spike(end - timedelta(days=2), hours=3, factor=6, workspace="marketing")
    for table in synth.generate(end - timedelta(days=14), end, rate_per_hour=2000,
                                seed=7, inject=[spike]):
        ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._catalog import ModelSpec, Workspace, default_models, default_policy, default_workspaces
from ._generate import generate
from ._inject import (
    AttackSurge,
    CacheCollapse,
    ErrorBurst,
    Injection,
    LatencyRegression,
    LeakedKey,
    LevelShift,
    Ramp,
    Spike,
)
from ._rows import KINDS

if TYPE_CHECKING:
    from ._send import SendReport
    from ._write import WriteReport

__all__ = [
    "KINDS",
    "AttackSurge",
    "CacheCollapse",
    "ErrorBurst",
    "Injection",
    "LatencyRegression",
    "LeakedKey",
    "LevelShift",
    "ModelSpec",
    "Ramp",
    "SendReport",
    "Spike",
    "Workspace",
    "WriteReport",
    "default_models",
    "default_policy",
    "default_workspaces",
    "generate",
    "send",
    "write",
]


def __getattr__(name: str) -> Any:
    """Lazy: the writer and the sender (aiohttp) load only when used."""
    if name in ("write", "WriteReport"):
        from . import _write

        return getattr(_write, name)
    if name in ("send", "SendReport", "send_async"):
        from . import _send

        return getattr(_send, name)
    raise AttributeError(name)
