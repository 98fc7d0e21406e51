"""Replay logged traffic against a candidate policy, through the production pipeline.

::

    from workbench.analytics.replay import replay
    result = replay("SELECT * FROM requests WHERE workspace = 'support'",
                    "policies/candidate.yaml", since="24h")
    result.frame          # per request: old vs new outcome, checks, drivers, cost, latency
    result.flips          # the flip matrix cells, with example request ids
    result.to_html("replay.html")

Each logged request runs through :func:`workbench.pipeline.build_pipeline` (the code the
gateway runs) with the candidate's guardrail engine; answers come from the log (the raw
upstream output, so output checks see what the model said) unless ``live`` names a
target. Results of checks whose configuration did not change are reused; ML checks are
batched across requests. See ``docs/replay.md``.
"""

from workbench.analytics.replay._api import areplay, load_candidate, replay
from workbench.analytics.replay._batching import BatchingScorer
from workbench.analytics.replay._outcome import KINDS, Outcome, outcome_of
from workbench.analytics.replay._result import Flip, ReplayResult
from workbench.analytics.replay._workers import ReplayWorkerError

__all__ = [
    "KINDS",
    "BatchingScorer",
    "Flip",
    "Outcome",
    "ReplayResult",
    "ReplayWorkerError",
    "areplay",
    "load_candidate",
    "outcome_of",
    "replay",
]
