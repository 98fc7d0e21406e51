"""Which MiniLM graph the ML checks run in production: ``fp32`` or ``int8``.

One rule for every place that scores like the gateway: the scorer deployment
(``serve/scorer.py``) and a replay that recomputes ML checks
(:mod:`workbench.analytics.replay`). int8 is the default; ``$WORKBENCH_GUARDRAIL_PRECISION``
or an explicit argument chooses otherwise (figures: bench/README.md, guardrail quality).
"""

from __future__ import annotations

import os

#: the environment variable that chooses the precision (``fp32`` or ``int8``)
PRECISION_ENV = "WORKBENCH_GUARDRAIL_PRECISION"
#: the precision when nothing chooses one
DEFAULT_PRECISION = "int8"


def scorer_precision(value: str | None = None) -> str:
    """``value``, else ``$WORKBENCH_GUARDRAIL_PRECISION``, else :data:`DEFAULT_PRECISION`;
    ``ValueError`` for anything but ``fp32`` / ``int8``."""
    choice = (value or os.environ.get(PRECISION_ENV, "") or DEFAULT_PRECISION).strip().lower()
    if choice not in ("fp32", "int8"):
        raise ValueError(f"{PRECISION_ENV} must be fp32 or int8, got {choice!r}")
    return choice


__all__ = ["DEFAULT_PRECISION", "PRECISION_ENV", "scorer_precision"]
