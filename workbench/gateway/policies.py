"""Live policies in a gateway replica: published versions become engines without a restart.

The replica polls the policy store's ``live_token`` (one small file read) every
``poll_s``; when it changes, the live versions are loaded and compiled into guardrail
engines off the event loop, then swapped in at once. A request picks its engine when
it starts and keeps it, so requests in flight finish under the version they began
with, and later ones run under the new one. A version that fails to load leaves the
previous set in place (and is logged).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from workbench.guardrails._types import Scorer
from workbench.guardrails.engine import GuardrailEngine

log = logging.getLogger(__name__)


class PolicyRuntime:
    """Watches the policy store and hands out the engine for each request."""

    def __init__(self, store: Any, scorer: Scorer | None = None, poll_s: float = 0.25) -> None:
        self.store = store
        self.scorer = scorer
        self.poll_s = poll_s
        self.token: str | None = None
        self.versions: list[Any] = []
        self.engines: dict[str, GuardrailEngine] = {}
        self.reloads = 0
        self.errors = 0
        self._task: asyncio.Task[None] | None = None
        self.reload()
        try:
            self.ensure_polling()
        except RuntimeError:  # no running loop yet: the first request or health check starts it
            pass

    def _build(self) -> tuple[str, list[Any], dict[str, GuardrailEngine]]:
        token = self.store.live_token()
        versions = self.store.live()
        engines = {}
        for v in versions:
            old = self.engines.get(v.version_id)
            engines[v.version_id] = (
                old
                if old is not None
                else GuardrailEngine(
                    v.policy, scorer=self.scorer, policy_hash=v.hash, version_id=v.version_id
                )
            )
        return token, versions, engines

    def _swap(self, built: tuple[str, list[Any], dict[str, GuardrailEngine]]) -> None:
        self.token, self.versions, self.engines = built
        self.reloads += 1
        log.info("policies live: %s", ", ".join(self.engines) or "none")

    def reload(self) -> None:
        """Load the live versions now (blocking)."""
        try:
            self._swap(self._build())
        except Exception:
            self.errors += 1
            log.exception("could not load the live policies; keeping the previous set")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                if self.store.live_token() == self.token:
                    continue
                self._swap(await asyncio.to_thread(self._build))
            except asyncio.CancelledError:
                raise
            except Exception:
                self.errors += 1
                log.exception("could not load the live policies; keeping the previous set")
                await asyncio.sleep(1.0)

    def ensure_polling(self) -> None:
        """Start the watcher on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())

    def for_request(self, workspace: str | None, model: str) -> GuardrailEngine | None:
        """The engine of the most specific live policy for this request, if any."""
        self.ensure_polling()
        if not self.versions:
            return None
        from workbench.policy import resolve

        v = resolve(self.versions, workspace or "default", model)
        return self.engines.get(v.version_id) if v is not None else None

    def info(self) -> dict[str, Any]:
        """For /health (also starts the watcher: health checks arrive before traffic)."""
        self.ensure_polling()
        return {
            "policies_live": sorted(self.engines),
            "policy_reloads": self.reloads,
            "policy_errors": self.errors,
        }
