"""LLM gateway and governance workbench.

The engine (pipeline, policies, guardrails, routing, providers, log store, pricing,
config) has no Ray import; the Ray Serve layer lives in the top-level ``serve`` package.

The workbench library, for notebooks and scripts (each imported on first use, so
``import workbench`` stays light)::

    import workbench

    workbench.logs.scan(since="24h").collect()          # the request log (DuckDB / polars)
    result = workbench.replay("SELECT * FROM requests", "candidate.yaml")
    workbench.evaluate(policy="policies/default.yaml")  # guardrails on labelled data
    workbench.cost.spend(by="workspace", since="30d")   # cost analytics and suggestions
    workbench.anomalies.detect(since="7d")              # anomaly detection
    workbench.cost.suggest(since="30d")                 # savings with the money at stake

All of these work inside a running event loop (Jupyter): none calls ``asyncio.run``
while a loop is running.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute or None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "logs": ("workbench.logs", None),
    "synth": ("workbench.synth", None),
    "cost": ("workbench.analytics.cost", None),
    "anomalies": ("workbench.analytics.anomalies", None),
    "replay": ("workbench.analytics.replay", "replay"),
    "areplay": ("workbench.analytics.replay", "areplay"),
    "evaluate": ("workbench.analytics.evaluation", "evaluate"),
    "compare": ("workbench.analytics.evaluation", "compare"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value: Any = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
