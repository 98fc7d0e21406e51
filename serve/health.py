"""Readiness of one ingress replica: the deployments it calls, the scorer, the log.

``/health`` must say "not ready" when requests would fail or go unlogged: a model
replica or the guardrail scorer that is not running, or a log shipper whose backlog is
stuck. The deployments' states come from Serve's controller (``serve.status()``), polled
off the event loop every ``interval_s`` while someone asks for /health (the poller stops
after ``idle_polls`` intervals without a request, and the next one restarts it); the
report itself is a cheap read. ``idle_polls`` is 1: ``serve.status()`` is a controller
round trip whose reply is parsed in a worker thread that holds the GIL for several ms, so
a probe asked once (a readiness check, a load balancer's probe every few seconds) costs one
poll, not a poll every ``interval_s`` for the next 12 s on the path of the requests that
follow it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ray import serve

log = logging.getLogger("ray.serve")

_BAD = {"UNHEALTHY", "DEPLOY_FAILED"}


def _deployment_states() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    status = serve.status()
    for app in status.applications.values():
        for name, dep in app.deployments.items():
            running = 0
            for state, count in (dep.replica_states or {}).items():
                if str(getattr(state, "value", state)) == "RUNNING":
                    running += int(count)
            status_name = str(getattr(dep.status, "value", dep.status))
            out[name] = {"status": status_name, "running": running}
    return out


class HealthProbe:
    """Keeps a recent view of the deployments and builds the /health report."""

    def __init__(
        self,
        cfg: Any,
        shipper: Any,
        policies: Any,
        scorer: bool,
        routing: Any = None,
        interval_s: float = 2.0,
        idle_polls: int = 1,
    ) -> None:
        self.shipper, self.policies, self.scorer = shipper, policies, scorer
        self.routing = routing
        self.interval_s = interval_s
        self.idle_polls = idle_polls
        self.asked_at = 0.0
        self.states: dict[str, dict[str, Any]] = {}
        self.checked_at: float | None = None
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        while time.monotonic() - self.asked_at < self.idle_polls * self.interval_s:
            try:
                self.states = await asyncio.to_thread(_deployment_states)
                self.checked_at, self.error = time.time(), None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the controller is busy or gone
                self.error = f"{type(exc).__name__}"
                log.debug("serve.status() failed: %s", exc)
            await asyncio.sleep(self.interval_s)

    def _ensure_polling(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())

    def _log_health(self) -> dict[str, Any]:
        report = getattr(self.shipper, "health", None)
        if report is not None:
            return dict(report())
        return {"backlog": self.shipper.backlog, "failures": self.shipper.failures}

    def report(self) -> dict[str, Any]:
        """The facts /health shows; ``ready`` is false when something would fail."""
        self.asked_at = time.monotonic()
        self._ensure_polling()
        problems: list[str] = []
        for name, st in self.states.items():
            if st["status"] in _BAD or st["running"] == 0:
                problems.append(f"deployment {name} is {st['status'].lower()}")
        logh = self._log_health()
        if logh.get("stalled"):
            problems.append("the request log is not draining")
        info: dict[str, Any] = {
            "ready": not problems,
            "problems": problems,
            "deployments": self.states,
            "deployments_checked_at": self.checked_at,
            "log": logh,
            "log_backlog": logh.get("backlog"),
            **self.policies.info(),
        }
        if self.routing is not None:
            sync_status = getattr(self.routing, "sync_status", None)  # shared state only
            info["routing"] = {
                "sync": sync_status() if sync_status is not None else {"mode": "local"},
                "targets": self.routing.snapshot(),
            }
        if self.error:
            info["status_error"] = self.error
        return info
