"""The request pipeline: one Ray-free chain of stages for the gateway, tests and replay.

::

    authenticate -> parse/validate -> select policy (guardrails + router) -> limits
      -> input guardrails -> cache lookup -> route + call (attempts; output guardrails
      inside each attempt) -> cache store -> respond (JSON or SSE) -> record (always)

Build it with :func:`build_pipeline` from a gateway config; hand it
:class:`Incoming` requests; get :class:`Reply` objects back. The FastAPI app
(:mod:`workbench.gateway.app`) and the Ray Serve ingress (``serve/gateway.py``) are thin
adapters over it; a notebook or a test calls it directly.
"""

from workbench.pipeline.builder import GatewayPipeline, build_pipeline, make_targets
from workbench.pipeline.context import RequestContext
from workbench.pipeline.runner import Pipeline
from workbench.pipeline.targets import Backend, Target
from workbench.pipeline.types import Exchange, Incoming, Kind, Reply, Stage, StreamStart

__all__ = [
    "Backend",
    "Exchange",
    "GatewayPipeline",
    "Incoming",
    "Kind",
    "Pipeline",
    "Reply",
    "RequestContext",
    "Stage",
    "StreamStart",
    "Target",
    "build_pipeline",
    "make_targets",
]
