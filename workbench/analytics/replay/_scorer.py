"""The ML scorer a replay uses by default: the production scorer's MiniLM graph.

The gateway's scorer deployment (``serve/scorer.py``) runs the int8 ONNX graph of MiniLM
unless ``$WORKBENCH_GUARDRAIL_PRECISION`` says ``fp32``; a replay that recomputes ML
checks must score like it, or its verdicts would differ from the ones production gives
(and logs). :func:`replay_scorer` is the process-wide in-process scorer of that
precision: the plain :func:`~workbench.guardrails.ml.scorer.get_scorer` for ``fp32``, a
:class:`LocalScorer` over the int8 graph for ``int8``. Like every ``LocalScorer`` it
loads the model on first use, so a replay whose ML checks are all reused never loads it.
"""

from __future__ import annotations

import threading

from workbench.guardrails.ml.precision import DEFAULT_PRECISION as DEFAULT_PRECISION
from workbench.guardrails.ml.precision import PRECISION_ENV as PRECISION_ENV
from workbench.guardrails.ml.precision import scorer_precision
from workbench.guardrails.ml.scorer import LocalScorer, get_scorer

_scorers: dict[str, LocalScorer] = {}
_lock = threading.Lock()


def production_precision() -> str:
    """``$WORKBENCH_GUARDRAIL_PRECISION``, else :data:`DEFAULT_PRECISION` (the rule of
    the gateway's scorer deployment)."""
    return scorer_precision()


class Int8Scorer(LocalScorer):
    """A :class:`LocalScorer` whose featurizer is the int8 ONNX graph (made on first use,
    like the model of any ``LocalScorer``)."""

    def _load(self) -> None:
        with self._load_lock:
            if self._featurizer is None:
                from workbench.guardrails.ml.encoder import INT8_BACKEND, Featurizer

                self._featurizer = Featurizer.load(device="cpu", backend=INT8_BACKEND)
        super()._load()


def replay_scorer() -> LocalScorer:
    """The process-wide scorer of the production precision (see the module)."""
    precision = production_precision()
    if precision == "fp32":
        return get_scorer()
    with _lock:
        if precision not in _scorers:
            _scorers[precision] = Int8Scorer()
        return _scorers[precision]
