"""The gateway's use of the guardrail engine for one request.

Input checks run on the user and tool messages (or the prompt) before anything goes
upstream; output checks run on the completion (or, streamed, window by window);
log-only checks run off the response path and only add verdicts to the log record.
"""

from __future__ import annotations

import asyncio
from typing import Any

from workbench.pipeline.context import RequestContext
from workbench.guardrails._stream import StreamGuard, denial
from workbench.guardrails._types import StageOutcome
from workbench.guardrails.engine import GuardrailEngine
from workbench.providers import ChatRequest

_CHECKED_ROLES = ("user", "tool", "function")


def _input_slots(req: ChatRequest) -> list[tuple[int | None, str]]:
    """(message index or None for the prompt, text) for every checked input text."""
    if req.prompt is not None:
        return [(None, req.prompt)]
    slots: list[tuple[int | None, str]] = []
    for i, m in enumerate(req.messages or []):
        if m.get("role") in _CHECKED_ROLES and isinstance(m.get("content"), str):
            slots.append((i, m["content"]))
        elif m.get("role") in _CHECKED_ROLES and isinstance(m.get("content"), list):
            for part in m["content"]:
                if isinstance(part, dict) and part.get("type") == "text":
                    slots.append((i, str(part.get("text", ""))))
    return slots


def _system_prompt(req: ChatRequest) -> str | None:
    parts = [
        m.get("content")
        for m in req.messages or []
        if m.get("role") in ("system", "developer") and isinstance(m.get("content"), str)
    ]
    return "\n".join(p for p in parts if p) or None


class RequestGuard:
    """One request's guardrail runs; verdicts go into the request context."""

    def __init__(self, engine: GuardrailEngine, ctx: RequestContext, req: ChatRequest) -> None:
        self.engine = engine
        self.ctx = ctx
        self.req = req
        policy = engine.policy
        self.messages = {
            c.name: c.message
            for s in ("input", "output")
            for c in getattr(policy, s, None) or []
            if c.message
        }
        self.meta: dict[str, Any] = {
            "model": ctx.model_requested,
            "workspace": ctx.workspace,
            "user": ctx.user,
            "metadata": ctx.metadata or {},
            "system_prompt": _system_prompt(req),
        }
        ctx.policy_id = engine.version_id or engine.policy_id
        ctx.policy_hash = engine.policy_hash
        logging = getattr(policy, "logging", None)
        if logging is not None and not logging.store_bodies:
            ctx.store_bodies = False
        self.redact_bodies = bool(logging is None or logging.redact_bodies)

    def _record(self, outcome: StageOutcome) -> None:
        self.ctx.guardrail_verdicts.extend(v.to_dict() for v in outcome.verdicts)

    def _log_only(self, stage: str, texts: list[str]) -> None:
        if not texts or not self.engine.checks(stage, log_only=True):
            return

        async def run() -> None:
            out = await self.engine.run_stage(
                stage, texts, self.meta, sample_key=self.ctx.request_id, log_only=True
            )
            self._record(out)

        self.ctx.pending.append(asyncio.get_running_loop().create_task(run()))

    async def check_input(self) -> None:
        """Run the input stage; raise on deny; rewrite redacted/fixed texts in place."""
        slots = _input_slots(self.req)
        texts = [t for _, t in slots]
        self._log_only("input", texts)
        if not self.engine.checks("input") or not texts:
            return
        out = await self.engine.run_stage("input", texts, self.meta, sample_key=self.ctx.request_id)
        self._record(out)
        if out.deny is not None:
            raise denial(out.deny, self.messages.get(out.deny.check))
        if out.changed:
            self._rewrite(slots, out.texts)

    def _rewrite(self, slots: list[tuple[int | None, str]], texts: list[str]) -> None:
        if self.req.prompt is not None:
            self.req.prompt = texts[0]
        else:
            msgs = self.req.messages or []
            by_msg: dict[int, list[str]] = {}
            for (i, _), t in zip(slots, texts, strict=True):
                assert i is not None
                by_msg.setdefault(i, []).append(t)
            for i, parts in by_msg.items():
                content = msgs[i].get("content")
                if isinstance(content, str):
                    msgs[i] = {**msgs[i], "content": parts[0]}
                elif isinstance(content, list):
                    it = iter(parts)
                    msgs[i] = {
                        **msgs[i],
                        "content": [
                            {**p, "text": next(it)}
                            if isinstance(p, dict) and p.get("type") == "text"
                            else p
                            for p in content
                        ],
                    }
        if self.redact_bodies and self.ctx.store_bodies:
            import json

            self.ctx.request_body = json.dumps(
                {
                    "model": self.ctx.model_requested,
                    "messages": self.req.messages,
                    "prompt": self.req.prompt,
                    "note": "input rewritten by guardrails",
                }
            )

    @property
    def guards_output(self) -> bool:
        """Are there enforcing output checks?"""
        return bool(self.engine.checks("output"))

    async def check_output(self, text: str) -> StageOutcome:
        """Run the output stage on a whole completion (caller decides retry/fallback)."""
        out = await self.engine.run_stage(
            "output", [text], self.meta, sample_key=self.ctx.request_id
        )
        self._record(out)
        return out

    def log_only_output(self, text: str) -> None:
        """Schedule log-only output checks on the final text."""
        self._log_only("output", [text])

    def stream_guard(self) -> StreamGuard:
        """A window checker for a streamed completion."""
        s = getattr(self.engine.policy, "streaming", None)
        return StreamGuard(
            self.engine,
            self.meta,
            sample_key=self.ctx.request_id,
            window=getattr(s, "window", "sentence"),
            window_tokens=getattr(s, "window_tokens", 32),
            messages=self.messages,
        )

    def record_stream(self, guard: StreamGuard) -> None:
        """Put a stream's window verdicts into the record."""
        self.ctx.guardrail_verdicts.extend(v.to_dict() for v in guard.verdicts)
