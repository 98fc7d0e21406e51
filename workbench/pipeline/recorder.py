"""The last stage of every request: its one log record.

Runs for every request, whatever happened (see :mod:`workbench.pipeline.runner`).
Log-only guardrail checks still running are awaited off the response path first, so
their verdicts land in the same record. Bodies are masked where a check flagged a
secret or PII before the record is built, and the workspace's body policy (full, masked
or none: :mod:`workbench.governance.datapolicy`) is applied to it. Logging never fails a
request.

With ``acked`` (a cluster gateway, where a node can die between the answer and the
shipment of its record), ``submit`` returns an awaitable that resolves once the log writer
acknowledged the record (bounded by the shipper); the host records a non-streamed reply
and awaits that before it sends the reply, so an answer the client got is in the log even
if its node dies right after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from workbench.gateway import metrics
from workbench.governance.datapolicy import apply_body_policy
from workbench.pipeline.types import Exchange

log = logging.getLogger(__name__)

#: Hands a record to the log shipper; may return an awaitable of its acknowledgement.
Submit = Callable[[dict[str, Any]], Awaitable[None] | None]


class Recorder:
    """Builds the record of a finished exchange and hands it to the log shipper."""

    def __init__(self, submit: Submit, *, observe: bool = True, acked: bool = False) -> None:
        self.submit = submit
        self.observe = observe  # count the record in the Prometheus metrics
        self.acked = acked  # the host awaits the record's acknowledgement before replying

    def __call__(self, ex: Exchange) -> Awaitable[None] | None:
        """Record ``ex``; the acknowledgement to await (None: nothing to wait for)."""
        ctx = ex.ctx
        if ctx.pending:  # log-only guardrails still running: record when they are done
            ctx.finish()
            tasks, ctx.pending = ctx.pending, []

            async def later() -> None:
                await asyncio.gather(*tasks, return_exceptions=True)
                self(ex)

            asyncio.get_running_loop().create_task(later())
            return None
        try:
            mask = getattr(ex.guard, "mask_bodies", None)
            if mask is not None:
                mask()
            record = apply_body_policy(ctx.to_record())  # the workspace's bodies mode
            if self.observe:
                metrics.observe(record)
            return self.submit(record)
        except Exception:  # logging must never fail a request
            log.exception("could not log request %s", ctx.request_id)
            return None
