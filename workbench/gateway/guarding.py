"""The gateway's use of the guardrail engine for one request.

Input checks run on every text the caller sends (every message role, tool definitions,
the ``response_format`` schema, the prompt, embedding inputs: see
:mod:`workbench.guardrails._slots`), each check only on the roles its policy names
(default: all), before anything goes upstream. Output checks run on the completion
(or, streamed, window by window); log-only checks run off the response path and only
add verdicts to the log record.

Nothing a secret/PII check flagged reaches the log unmasked
(:mod:`workbench.guardrails._masking`): the request body is masked as soon as a check
flags something, and :meth:`RequestGuard.mask_bodies` masks both bodies, the logged
verdicts and the logged error once more. The pipeline must call ``mask_bodies()`` right
before it builds the log record, after the request's log-only checks
(``ctx.pending``) have finished and after ``ctx.response_body`` is set.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from workbench.errors import GuardrailDeniedError
from workbench.guardrails._masking import Mask, mask_body, scrub, scrub_verdict_dict
from workbench.guardrails._slots import Slot, request_slots, text_slots
from workbench.guardrails._stream import StreamGuard, denial
from workbench.guardrails._types import StageOutcome, Verdict
from workbench.guardrails.engine import GuardrailEngine

if TYPE_CHECKING:  # the pipeline package imports this module: no import cycle at run time
    from workbench.pipeline.context import RequestContext
    from workbench.providers import ChatRequest


def _system_prompt(req: ChatRequest | None) -> str | None:
    if req is None:
        return None
    parts = [
        m.get("content")
        for m in req.messages or []
        if m.get("role") in ("system", "developer") and isinstance(m.get("content"), str)
    ]
    return "\n".join(p for p in parts if p) or None


class RequestGuard:
    """One request's guardrail runs; verdicts go into the request context.

    Built from a chat/completion request (``RequestGuard(engine, ctx, creq)``) or from
    the texts of an embeddings request (:meth:`for_embeddings`; rewritten texts are then
    in ``self.texts``).
    """

    def __init__(
        self,
        engine: GuardrailEngine,
        ctx: RequestContext,
        req: ChatRequest | None = None,
        *,
        texts: list[str] | None = None,
    ) -> None:
        self.engine = engine
        self.ctx = ctx
        self.req = req
        self.texts: list[str] = list(texts or [])
        self.slots: list[Slot] = request_slots(req) if req is not None else text_slots(self.texts)
        self.masks: list[Mask] = []
        self._streams: list[StreamGuard] = []
        self._rewritten = False
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

    @classmethod
    def for_embeddings(
        cls, engine: GuardrailEngine, ctx: RequestContext, texts: list[str]
    ) -> RequestGuard:
        """A guard for the input texts of an embeddings request (role ``embedding_input``)."""
        return cls(engine, ctx, None, texts=texts)

    def _add_masks(self, verdicts: list[Verdict]) -> None:
        new = [m for v in verdicts for m in v.masks]
        if new:
            self.masks.extend(new)
            self.ctx.request_body = mask_body(self.ctx.request_body, self.masks)
            self._mask_original(self.masks)

    def _record(self, outcome: StageOutcome, *, on_input: bool = False) -> None:
        self._add_masks(outcome.verdicts)
        dicts = [v.to_dict() for v in outcome.verdicts]
        if on_input:  # name the slot each span is in: "messages[0].content" and its role
            for d in dicts:
                for sp in d["spans"]:
                    if 0 <= sp["message"] < len(self.slots):
                        slot = self.slots[sp["message"]]
                        sp["where"], sp["role"] = slot.where, slot.role
        self.ctx.guardrail_verdicts.extend(dicts)

    def _log_only(self, stage: str, texts: list[str], roles: list[str] | None = None) -> None:
        if not texts or not self.engine.checks(stage, log_only=True):
            return

        async def run() -> None:
            out = await self.engine.run_stage(
                stage,
                texts,
                self.meta,
                sample_key=self.ctx.request_id,
                log_only=True,
                roles=roles,
            )
            self._record(out, on_input=stage == "input")

        self.ctx.pending.append(asyncio.get_running_loop().create_task(run()))

    async def check_input(self) -> None:
        """Run the input stage; raise on deny; rewrite redacted/fixed texts in place."""
        texts = [s.text for s in self.slots]
        roles = [s.role for s in self.slots]
        self._log_only("input", texts, roles)
        if not self.engine.checks("input") or not texts:
            return
        out = await self.engine.run_stage(
            "input", texts, self.meta, sample_key=self.ctx.request_id, roles=roles
        )
        self._record(out, on_input=True)
        if out.deny is not None:
            raise denial(out.deny, self.messages.get(out.deny.check))
        if out.changed:
            self._rewrite(out)

    def _rewrite(self, out: StageOutcome) -> None:
        """Write rewritten texts back into their slots; refuse the request when a slot
        that cannot be rewritten safely (a schema, a tool name) would change."""
        changed = [
            (k, slot, new)
            for k, (slot, new) in enumerate(zip(self.slots, out.texts, strict=True))
            if new != slot.text
        ]
        for k, slot, new in changed:
            if not slot.can_write(new):
                raise self._unsafe_rewrite(out, k, slot)
        for _, slot, new in changed:
            assert slot.write is not None
            slot.write(new)
            slot.text = new
        self._rewritten = True
        if self.redact_bodies and self.ctx.store_bodies:
            self.ctx.request_body = mask_body(self._rewritten_body(), self.masks)

    def _unsafe_rewrite(self, out: StageOutcome, k: int, slot: Slot) -> GuardrailDeniedError:
        fixing = [v for v in out.verdicts if not v.passed and v.action in ("redact", "fix")]
        on_slot = [v for v in fixing if any(s.message == k for s in v.spans)]
        v = (on_slot or fixing or out.verdicts)[0]
        return GuardrailDeniedError(
            f"input guardrail '{v.check}' ({v.validator}) would have to rewrite "
            f"{slot.where} ({slot.role}), which cannot be rewritten safely; "
            "remove what it flagged and try again",
            check=v.check,
            stage="input",
        )

    def _rewritten_body(self) -> str:
        """The logged request body with the rewritten texts in place of the originals."""
        try:
            data = json.loads(self.ctx.request_body or "")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {"model": self.ctx.model_requested}
        if self.req is None:
            one = isinstance(data.get("input"), str) and len(self.texts) == 1
            data["input"] = self.texts[0] if one else self.texts
        else:
            if self.req.prompt is not None:
                data["prompt"] = self.req.prompt
            if self.req.messages is not None:
                data["messages"] = self.req.messages
            for key in ("tools", "functions"):
                if key in (self.req.extra or {}):
                    data[key] = self.req.extra[key]
        return json.dumps(data, ensure_ascii=False)

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
        """A window checker for a streamed completion, bounded as the policy says."""
        s = getattr(self.engine.policy, "streaming", None)
        guard = StreamGuard(
            self.engine,
            self.meta,
            sample_key=self.ctx.request_id,
            window=getattr(s, "window", "sentence"),
            window_tokens=getattr(s, "window_tokens", 32),
            messages=self.messages,
            max_chars=getattr(s, "max_window_chars", 400),
            max_tokens=getattr(s, "max_window_tokens", 64),
            max_ms=float(getattr(s, "max_window_ms", 250)),
        )
        self._streams.append(guard)
        return guard

    def record_stream(self, guard: StreamGuard) -> None:
        """Put a stream's window verdicts into the record."""
        self._add_masks(guard.verdicts)
        self.ctx.guardrail_verdicts.extend(v.to_dict() for v in guard.verdicts)

    def _mask_original(self, masks: list[Mask]) -> None:
        original = self.ctx.request_original
        masked = mask_body(original, masks)
        if masked != original:
            self.ctx.request_original, self.ctx.request_masked = masked, True

    def mask_bodies(self) -> None:
        """Mask everything a secret/PII check flagged (any stage, stream windows included)
        in the logged bodies, verdicts and error message. Call right before the record
        is built; idempotent."""
        masks = self.masks + [m for g in self._streams for v in g.verdicts for m in v.masks]
        if not masks:
            return
        ctx = self.ctx
        ctx.request_body = mask_body(ctx.request_body, masks)
        ctx.response_body = mask_body(ctx.response_body, masks)
        self._mask_original(masks)
        for out in ctx.upstream_outputs:
            text = out.get("text")
            masked = mask_body(text, masks) if isinstance(text, str) else text
            if masked != text:
                out["text"], ctx.output_masked = masked, True
        ctx.guardrail_verdicts = [scrub_verdict_dict(d, masks) for d in ctx.guardrail_verdicts]
        err = ctx.error
        if err is not None and isinstance(getattr(err, "message", None), str):
            err.message = scrub(err.message, masks)
