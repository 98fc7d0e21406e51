"""The guardrail engine: runs a policy's checks on input, output and streamed output.

One engine serves the live gateway and the workbench (replay, evaluation), so a
notebook replays exactly the production code path. Checks are guardrails-ai
Validators built from the catalogue (:mod:`workbench.guardrails._registry`); ML scores
are precomputed for all texts of a stage in one batched scorer call, then every check
runs in-process on the precomputed scores.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.guardrails._masking import is_sensitive, scrub, span_masks
from workbench.guardrails._memo import StageKeys, VerdictMemo, config_hash, reads_request
from workbench.guardrails._registry import CheckRegistry, CheckSpec
from workbench.guardrails._registry import registry as default_registry
from workbench.guardrails._types import Scorer, Span, StageOutcome, Verdict

FIXING_ACTIONS = ("redact", "fix")

# Our actions as guardrails-ai's on_fail, for :meth:`GuardrailEngine.as_guard`.
GUARDRAILS_ON_FAIL = {
    "deny": "exception",
    "flag": "noop",
    "noop": "noop",
    "redact": "fix",
    "fix": "fix",
    "retry": "reask",
    "fallback": "refrain",
}


@dataclass
class CompiledCheck:
    """A policy check with its Validator built once."""

    name: str
    validator_name: str
    spec: CheckSpec
    validator: Any
    on_fail: str
    params: dict[str, Any]
    sample_rate: float
    mode: str
    message: str | None
    roles: frozenset[str] | None = None  # input texts it reads (None: all)
    sensitive: bool = False  # its matches are masked in the log (see _masking)
    config_hash: str = ""  # what it computes (see _memo): validator, params, roles
    reads_request: bool = False  # its result may depend on the request, not only the text

    def reads(self, roles: Sequence[str] | None, n: int) -> list[int]:
        """Indexes of the ``n`` texts (with these ``roles``) this check reads."""
        if roles is None or self.roles is None:
            return list(range(n))
        return [i for i in range(n) if roles[i] in self.roles]


def _sampled(rate: float, key: str, check: str) -> bool:
    if rate >= 1.0:
        return True
    h = hashlib.blake2b(f"{key}:{check}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64 < rate


def _spans(result: Any, message: int) -> list[Span]:
    out = []
    for sp in getattr(result, "error_spans", None) or []:
        out.append(Span(int(sp.start), int(sp.end), str(sp.reason), message))
    return out


def _apply_redactions(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Replace merged spans right-to-left with their replacement strings."""
    if not spans:
        return text
    spans = sorted(spans)
    merged: list[list[Any]] = []
    for s, e, rep in spans:
        if merged and s < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e, rep])
    for s, e, rep in reversed(merged):
        text = text[:s] + rep + text[e:]
    return text


class GuardrailEngine:
    """Compiled checks of one policy (or none) plus the scorer they share."""

    def __init__(
        self,
        policy: Any,
        *,
        scorer: Scorer | None = None,
        registry: CheckRegistry | None = None,
        policy_hash: str | None = None,
        version_id: str | None = None,
        memo: VerdictMemo | None = None,
    ) -> None:
        reg = registry or default_registry
        self.policy = policy
        self.scorer = scorer
        self.memo = memo  # reuse of check results (replay); None in the gateway
        self.policy_id: str | None = getattr(policy, "id", None)
        self.version_id = version_id
        if policy_hash is None and policy is not None:
            from workbench.policy import policy_hash as _hash

            policy_hash = _hash(policy)
        self.policy_hash = policy_hash
        self.stages: dict[str, list[CompiledCheck]] = {"input": [], "output": []}
        for stage in ("input", "output"):
            for c in getattr(policy, stage, None) or []:
                spec = reg.get(c.validator)
                validator = spec.make(c.params)
                roles = frozenset(c.roles) if getattr(c, "roles", None) else None
                self.stages[stage].append(
                    CompiledCheck(
                        name=c.name,
                        validator_name=c.validator,
                        spec=spec,
                        validator=validator,
                        on_fail=c.on_fail,
                        params=dict(c.params or {}),
                        sample_rate=c.sample_rate,
                        mode=c.mode,
                        message=c.message,
                        roles=roles,
                        sensitive=is_sensitive(c.validator, getattr(c, "mask_in_log", None)),
                        config_hash=config_hash(c.validator, dict(c.params or {}), roles),
                        reads_request=reads_request(validator),
                    )
                )
        # each stage's enforcing and log-only checks, selected once (read per request)
        self._modes = {
            (stage, log_only): [c for c in checks if (c.mode == "log_only") == log_only]
            for stage, checks in self.stages.items()
            for log_only in (False, True)
        }

    def checks(self, stage: str, *, log_only: bool = False) -> list[CompiledCheck]:
        """The checks of a stage, enforcing ones or log-only ones (a new list each call)."""
        return list(self._modes[(stage, log_only)])

    async def _scores(
        self, checks: list[CompiledCheck], texts: list[str], roles: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Precompute every classifier the ML checks need, for every text an ML check
        reads, concurrently."""
        per_text: list[dict[str, Any]] = [{} for _ in texts]
        if self.scorer is None:
            return per_text  # validators compute in-process (notebook path)
        ml = [c for c in checks if c.spec.classifiers]
        wanted = sorted({cl for c in ml for cl in c.spec.classifiers})
        needed = sorted({i for c in ml for i in c.reads(roles, len(texts))})
        if not wanted or not needed:
            return per_text
        subset = [texts[i] for i in needed]
        for cl, values in zip(wanted, await self._classify(wanted, subset), strict=True):
            for i, v in zip(needed, values, strict=True):
                per_text[i][cl] = v
        return per_text

    async def _classify(self, classifiers: list[str], texts: list[str]) -> list[list[Any]]:
        """Every classifier's values for ``texts``: one ``score_many`` call when the scorer
        has it (a remote scorer: one round trip for the stage), else one call each."""
        scorer = self.scorer
        assert scorer is not None
        many = getattr(scorer, "score_many", None)
        if many is not None:
            return [list(v) for v in await many([(cl, texts) for cl in classifiers])]

        async def one(cl: str) -> list[Any]:
            if cl == "pii_ner":
                return list(await scorer.tag(texts))
            return list(await scorer.score(cl, texts))

        return list(await asyncio.gather(*(one(cl) for cl in classifiers)))

    async def run_stage(
        self,
        stage: str,
        texts: list[str],
        request: dict[str, Any] | None = None,
        *,
        sample_key: str = "",
        log_only: bool = False,
        window: int | None = None,
        roles: Sequence[str] | None = None,
    ) -> StageOutcome:
        """Run a stage's checks on ``texts`` (e.g. the user messages) and decide.

        ``roles`` (one per text: ``user``, ``system``, ``tools``, ...) limits each check
        to the texts of the roles it reads (its policy ``roles``; default all).
        Returns the verdicts, the texts rewritten by redact/fix checks, and the first
        failing check whose action is deny / fallback / retry.
        """
        out = StageOutcome(texts=list(texts))
        checks = [
            c
            for c in self.checks(stage, log_only=log_only)
            if _sampled(c.sample_rate, sample_key, c.name)
        ]
        if not checks or not texts:
            return out
        reads = {c.name: c.reads(roles, len(texts)) for c in checks}
        keys, known = self._reuse(stage, checks, texts, reads, request)
        scores = await self._scores([c for c in checks if c.name not in known], texts, roles)
        base_meta = {"stage": stage, "request": request or {}}
        redactions: list[list[tuple[int, int, str]]] = [[] for _ in texts]
        fixers: list[CompiledCheck] = []
        for c in checks:
            if not reads[c.name]:
                continue  # none of the roles it reads is in this request
            t0 = time.perf_counter()
            failed_results = known.get(c.name)
            if failed_results is None:
                failed_results = [
                    (i, res)
                    for i, res in await _validate_at(
                        c.validator, texts, reads[c.name], base_meta, scores
                    )
                    if getattr(res, "outcome", "pass") == "fail"
                ]
                if self.memo is not None and c.name in keys:
                    self.memo.put(c.config_hash, keys[c.name], failed_results)
            latency = (time.perf_counter() - t0) * 1000.0
            passed = not failed_results
            v = _verdict(c, stage, window, texts, failed_results, latency)
            v.config_hash, v.text_hash = c.config_hash, keys.get(c.name)
            out.verdicts.append(v)
            if passed or c.mode == "log_only":
                continue
            if v.action == "deny" and out.deny is None:
                out.deny = v
            elif v.action == "fallback" and out.fallback is None:
                out.fallback = v
            elif v.action == "retry" and out.retry is None:
                out.retry = v
            elif v.action == "redact":
                for i, r in failed_results:
                    redactions[i].extend(_redaction_spans(r, texts[i]))
            elif v.action == "fix":
                fixers.append(c)
        if any(redactions):
            out.texts = [_apply_redactions(t, r) for t, r in zip(texts, redactions, strict=True)]
            out.changed = True
        for c in fixers:  # fixes apply in policy order, each on the current text
            await _apply_fix(c, out, reads[c.name], base_meta, scores)
        return out

    def _reuse(
        self,
        stage: str,
        checks: list[CompiledCheck],
        texts: list[str],
        reads: dict[str, list[int]],
        request: dict[str, Any] | None,
    ) -> tuple[dict[str, str], dict[str, list[Any]]]:
        """Each check's text hash (logged with its verdict) and, with a memo, the
        results it already holds (io_bound checks are never reused)."""
        stage_keys = StageKeys(texts, request)
        keys = {
            c.name: stage_keys.key(reads[c.name], c.reads_request) for c in checks if reads[c.name]
        }
        known: dict[str, list[Any]] = {}
        if self.memo is not None:
            for c in checks:
                if c.name in keys and not getattr(c.validator, "io_bound", False):
                    got = self.memo.get(
                        c.config_hash, keys[c.name], for_fix=c.on_fail == "fix", stage=stage
                    )
                    if got is not None:
                        known[c.name] = got
        return keys, known

    def as_guard(self, stage: str) -> Any:
        """The stage as a guardrails-ai ``Guard``: the same validators, each with our action
        mapped to guardrails' ``on_fail`` (deny -> exception, redact/fix -> fix,
        retry -> reask, fallback -> refrain, flag -> noop). For use outside the gateway,
        e.g. in a notebook or another guardrails-ai pipeline."""
        from guardrails import Guard
        from guardrails.types import OnFailAction

        guard = Guard(name=f"{self.policy_id or 'policy'}-{stage}")
        for c in self.stages[stage]:
            v = c.spec.make(c.params)
            v.on_fail_descriptor = OnFailAction(GUARDRAILS_ON_FAIL[c.on_fail])
            guard.use(v)
        return guard

    def check_sync(
        self, stage: str, text: str, request: dict[str, Any] | None = None, **kw: Any
    ) -> StageOutcome:
        """Blocking form for notebooks and evaluation."""
        return asyncio.run(self.run_stage(stage, [text], request, **kw))


async def _validate_at(
    validator: Any,
    texts: list[str],
    indexes: list[int],
    meta: dict[str, Any],
    scores: list[dict[str, Any]],
) -> list[tuple[int, Any]]:
    """``(i, result)`` of one check on ``texts[i]`` for each of ``indexes``.

    An ``io_bound`` check (one that waits on the network, e.g. ``webhook``) is awaited
    through its ``async_validate``, on all texts concurrently, so it never blocks the
    event loop; the others are CPU-cheap and run inline.
    """
    if getattr(validator, "io_bound", False):
        calls = [validator.async_validate(texts[i], {**meta, "scores": scores[i]}) for i in indexes]
        results = list(await asyncio.gather(*calls))
    else:
        results = [validator.validate(texts[i], {**meta, "scores": scores[i]}) for i in indexes]
    return list(zip(indexes, results, strict=True))


async def _apply_fix(
    c: CompiledCheck,
    out: StageOutcome,
    indexes: list[int],
    meta: dict[str, Any],
    scores: list[dict[str, Any]],
) -> None:
    """Rewrite ``out.texts`` (those at ``indexes``) with one fixing check's fix values."""
    fixes = dict(await _validate_at(c.validator, out.texts, indexes, meta, scores))
    new = list(out.texts)
    for i, res in fixes.items():
        fixed = getattr(res, "fix_value", None)
        if getattr(res, "outcome", "pass") == "fail" and isinstance(fixed, str):
            new[i] = fixed
    if new != out.texts:
        out.texts, out.changed = new, True


def _verdict(
    c: CompiledCheck,
    stage: str,
    window: int | None,
    texts: list[str],
    failed: list[tuple[int, Any]],
    latency: float,
) -> Verdict:
    """The verdict of one check; a sensitive check's matches become masks, and its
    message and span reasons are scrubbed of them."""
    if not failed:  # passed: no spans, score, message or masks (most verdicts)
        return Verdict(
            check=c.name,
            validator=c.validator_name,
            stage=stage,
            passed=True,
            action="none",
            latency_ms=latency,
            mode=c.mode,
            window=window,
        )
    passed = False
    spans = [s for i, r in failed for s in _spans(r, i)]
    score = None
    for _, r in failed:
        md = getattr(r, "metadata", None) or {}
        if "score" in md:
            score = max(score or 0.0, float(md["score"]))
    msg = "; ".join(str(r.error_message) for _, r in failed)[:500] or None
    action = "none" if passed or c.mode == "log_only" else c.on_fail
    if action == "noop":
        action = "flag"
    masks = []
    if c.sensitive and failed:
        spanned = {s.message for s in spans}
        whole = [i for i, _ in failed if i not in spanned]
        masks = span_masks(spans, texts, whole, c.validator_name)
        msg = scrub(msg, masks) if msg else msg
        for s in spans:
            s.reason = scrub(s.reason, masks)
    return Verdict(
        check=c.name,
        validator=c.validator_name,
        stage=stage,
        passed=passed,
        action=action,
        latency_ms=latency,
        score=score,
        spans=spans,
        message=msg,
        mode=c.mode,
        window=window,
        masks=masks,
    )


def _redaction_spans(result: Any, text: str) -> list[tuple[int, int, str]]:
    """Spans to replace for a redact action: the validator's spans, else its whole fix."""
    spans = getattr(result, "error_spans", None) or []
    if spans:
        return [
            (int(s.start), int(s.end), f"<{str(s.reason).split(':')[0].upper()}>")
            for s in spans
            if 0 <= int(s.start) < int(s.end) <= len(text)
        ]
    fixed = getattr(result, "fix_value", None)
    if isinstance(fixed, str):
        return [(0, len(text), fixed)]
    return [(0, len(text), "[REDACTED]")]
