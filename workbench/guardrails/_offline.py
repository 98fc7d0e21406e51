"""Keep guardrails-ai off the network (metrics, remote inference, LiteLLM's cost map).

What guardrails-ai 0.11 reads, and what :func:`ensure_offline` does about it:

- ``~/.guardrailsrc`` (``enable_metrics``, ``use_remote_inferencing``) is read by
  ``RC.load()``, and every ``Guard()`` re-reads it (``Guard._load_rc``). With no rc file
  ``enable_metrics`` defaults to True and each Guard turns on the hub telemetry, whose
  OTLP exporter posts spans to a public endpoint from a background thread. Validators read
  ``settings.rc.use_remote_inferencing`` to choose local vs. hub inference.
  There is no environment variable for either, so we wrap ``RC.load`` in-process to force
  both off, whatever the file says (no file is written in the user's home).
- ``LITELLM_LOCAL_MODEL_COST_MAP=True`` stops LiteLLM (imported by guardrails) from
  fetching its model cost map at import; it must be set before guardrails is imported.
- The hub telemetry singleton, if it already exists, is switched off.

The function is idempotent and cheap after the first call.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_applied = False
_MARK = "_workbench_offline"


def _force_offline(rc: Any) -> Any:
    rc.enable_metrics = False
    rc.use_remote_inferencing = False
    return rc


def _patch_rc_load() -> None:
    from guardrails.classes.rc import RC

    current = RC.__dict__["load"]
    if getattr(current, _MARK, False):
        return
    original = current.__func__

    def load(cls: type, logger: Any = None) -> Any:
        return _force_offline(original(cls, logger))

    patched: Any = classmethod(load)
    setattr(patched, _MARK, True)
    RC.load = patched  # type: ignore[method-assign,assignment]


def ensure_offline() -> None:
    """Apply the offline settings for guardrails-ai (idempotent, thread-safe)."""
    global _applied
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    if _applied:
        return
    with _lock:
        if _applied:
            return
        _patch_rc_load()
        from guardrails.classes.rc import RC
        from guardrails.settings import settings
        from guardrails.utils.hub_telemetry_utils import HubTelemetry

        settings.rc = RC.load()
        if HubTelemetry._instance is not None:
            HubTelemetry._instance._enabled = False
        _applied = True


def is_offline() -> bool:
    """True when guardrails-ai's current settings keep it off the network."""
    from guardrails.settings import settings

    rc = settings.rc
    return (
        _applied
        and rc.enable_metrics is False
        and rc.use_remote_inferencing is False
        and os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP") == "True"
    )
