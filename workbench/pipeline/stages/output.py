"""Output guardrails on a whole answer, run inside the attempt that produced it.

Running them inside the attempt lets the router treat a refused answer like a failed
target (``routing.*.on_guardrail_failure``): :class:`~workbench.routing.OutputRejected`
moves on to the next target. Within one target the policy's own actions apply:
``retry`` asks the same model again (up to ``retry.max_attempts``), ``fallback``
answers from ``fallback.model`` or ``fallback.message``, redact/fix rewrite the text.
"""

from __future__ import annotations

from collections.abc import Mapping

from workbench.guardrails._stream import denial
from workbench.pipeline.targets import Target, within
from workbench.pipeline.types import Exchange
from workbench.providers import ChatRequest, Completion
from workbench.routing import OutputRejected


async def _generate(
    ex: Exchange, target: Target, req: ChatRequest, limit: float | None
) -> Completion:
    comp = await within(target.backend.chat(req), limit, target.name, "answer")
    _keep_raw(ex, target, comp)
    return comp


def _keep_raw(ex: Exchange, target: Target, comp: Completion) -> None:
    """The raw answer, before output guardrails, for the log (replay runs on it)."""
    ex.ctx.add_upstream_output(
        target.name, comp.text, comp.finish_reason, comp.prompt_tokens, comp.completion_tokens
    )


async def checked_completion(
    ex: Exchange,
    target: Target,
    req: ChatRequest,
    limit: float | None,
    targets: Mapping[str, Target],
) -> Completion:
    """One attempt's answer after the output checks (may raise OutputRejected)."""
    guard = ex.guard
    comp = await _generate(ex, target, req, limit)
    if guard is None or not guard.guards_output:
        if guard is not None:
            guard.log_only_output(comp.text)
        return comp
    max_tries = guard.engine.policy.retry.max_attempts
    pt, ct, tries = comp.prompt_tokens, comp.completion_tokens, 1
    while True:
        out = await guard.check_output(comp.text)
        if out.retry is not None and tries < max_tries:
            tries += 1
            _record_retry(ex, target, out.retry.check)
            comp = await _generate(ex, target, req, limit)
            pt, ct = pt + comp.prompt_tokens, ct + comp.completion_tokens
            continue
        break
    decisive = out.deny or out.retry
    if decisive is not None:
        ex.ctx.prompt_tokens, ex.ctx.completion_tokens = pt, ct
        raise OutputRejected(denial(decisive, guard.messages.get(decisive.check)))
    if out.fallback is not None:
        comp = await _policy_fallback(ex, req, targets)
        pt, ct = pt + comp.prompt_tokens, ct + comp.completion_tokens
    elif out.changed:
        comp.text = out.texts[0]
    comp.prompt_tokens, comp.completion_tokens = pt, ct
    guard.log_only_output(comp.text)
    return comp


def _record_retry(ex: Exchange, target: Target, check: str) -> None:
    """Log a regeneration the policy's ``retry`` asked for, before the router's entry for
    the attempt in progress (so ``routing_attempts`` stays in time order)."""
    attempts = ex.ctx.routing_attempts
    entry = {
        "target": target.name,
        "provider": target.config.provider,
        "status": f"retry:{check}",
        "reason": "guardrail_retry",
    }
    # the router's entry for the attempt in progress: begun, not yet completed
    in_progress = bool(attempts) and attempts[-1].get("status") == "cancelled"
    attempts.insert(len(attempts) - 1 if in_progress else len(attempts), entry)


async def _policy_fallback(
    ex: Exchange, req: ChatRequest, targets: Mapping[str, Target]
) -> Completion:
    """The policy's ``fallback``: another model's answer, or the canned message."""
    assert ex.guard is not None
    fb = ex.guard.engine.policy.fallback
    other = targets.get(fb.model) if fb.model else None
    if other is None or "chat" not in other.capabilities:
        return Completion(text=fb.message or "", finish_reason="stop")
    attempts = ex.ctx.routing_attempts
    attempts.append(
        {"target": other.name, "provider": other.config.provider, "reason": "policy_fallback"}
    )
    comp = await other.backend.chat(other.request_for(req))
    _keep_raw(ex, other, comp)
    attempts[-1]["status"] = "ok"
    ex.answered_by = other
    return comp
