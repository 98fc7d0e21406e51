"""Run a policy's guardrail stage on a labelled set through the real engine.

Each item is one request: its text is the user message (input sets) or the model's
answer (output sets), run by :meth:`GuardrailEngine.run_stage` exactly as the gateway
runs it, enforcing and log-only checks alike. Items go in chunks: the ML scores of a
whole chunk are computed first by one batched :class:`LocalScorer` pass (in a worker
thread, so the caller's event loop stays free), then every item's stage runs on the
cached scores. What comes back per item is the policy's decision and one record per
verdict (check, fired, action, latency from the engine, score).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from workbench.analytics.evaluation._sets import LabelledSet

#: Policy decisions, strongest first; ``allow`` when no enforcing check failed.
DECISIONS = ("deny", "fallback", "retry", "flag", "redact", "fix", "allow")
#: Which decisions count as the policy catching an item, by name.
POSITIVE = {
    "blocked": ("deny", "fallback", "retry"),
    "flagged": ("deny", "fallback", "retry", "flag"),
    "any": ("deny", "fallback", "retry", "flag", "redact", "fix"),
}
BATCH = 64


class _Prewarmed:
    """The engine's async scorer over a LocalScorer whose cache each chunk fills first."""

    def __init__(self, local: Any) -> None:
        self.local = local

    async def score(self, classifier: str, texts: list[str]) -> list[Any]:
        return list(self.local.score(classifier, texts))

    async def tag(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        return list(self.local.tag(texts))


@dataclass
class SetRun:
    """What running one set produced: one row per item, one per verdict, and timing."""

    items: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    scoring_s: float = 0.0


def decision(outcome: Any) -> str:
    """The policy's decision on one stage outcome (the strongest action it took)."""
    if outcome.deny is not None:
        return "deny"
    if outcome.fallback is not None:
        return "fallback"
    if outcome.retry is not None:
        return "retry"
    acts = {v.action for v in outcome.verdicts if not v.passed and v.mode != "log_only"}
    for a in ("flag", "redact", "fix"):
        if a in acts:
            return a
    return "allow"


def uses_ml(engine: Any, stage: str) -> bool:
    """Does any check of ``stage`` need ML scores?"""
    return any(c.spec.classifiers for c in engine.stages[stage])


def _verdict_rows(item_id: str, verdicts: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": item_id,
            "check": v.check,
            "validator": v.validator,
            "stage": v.stage,
            "mode": v.mode,
            "fired": not v.passed,
            "action": v.action,
            "latency_ms": float(v.latency_ms),
            "score": None if v.score is None else float(v.score),
        }
        for v in verdicts
    ]


async def _one(engine: Any, stage: str, text: str, item_id: str) -> tuple[str, list[Any]]:
    meta: dict[str, Any] = {"model": None, "workspace": None, "user": None, "metadata": {}}
    meta["system_prompt"] = None
    roles = ["user"] if stage == "input" else None
    out = await engine.run_stage(stage, [text], meta, sample_key=item_id, roles=roles)
    shadow = await engine.run_stage(
        stage, [text], meta, sample_key=item_id, roles=roles, log_only=True
    )
    return decision(out), [*out.verdicts, *shadow.verdicts]


async def run_set(
    engine: Any,
    labelled: LabelledSet,
    *,
    local_scorer: Any = None,
    batch: int = BATCH,
    progress: Any = None,
) -> SetRun:
    """Run ``labelled`` through ``engine``'s stage for the set; ``progress`` gets
    ``update(n)`` calls (a tqdm bar) when given."""
    stage = labelled.stage
    run = SetRun()
    df = labelled.items
    ids, texts = df["id"].to_list(), df["text"].to_list()
    warm = local_scorer is not None and uses_ml(engine, stage)
    t_start = time.perf_counter()
    for lo in range(0, len(texts), batch):
        chunk_ids, chunk = ids[lo : lo + batch], texts[lo : lo + batch]
        per_item_scoring = 0.0
        if warm:
            t0 = time.perf_counter()
            await asyncio.to_thread(local_scorer.analyze, chunk)
            run.scoring_s += time.perf_counter() - t0
            per_item_scoring = (time.perf_counter() - t0) * 1000.0 / len(chunk)
        results = await asyncio.gather(
            *(_one(engine, stage, t, i) for t, i in zip(chunk, chunk_ids, strict=True))
        )
        for item_id, (dec, verdicts) in zip(chunk_ids, results, strict=True):
            rows = _verdict_rows(item_id, verdicts)
            run.verdicts.extend(rows)
            run.items.append(
                {
                    "id": item_id,
                    "decision": dec,
                    "fired": sorted({r["check"] for r in rows if r["fired"]}),
                    "checks_ms": sum(r["latency_ms"] for r in rows),
                    "scoring_ms": per_item_scoring,
                }
            )
        if progress is not None:
            progress.update(len(chunk))
    run.wall_s = time.perf_counter() - t_start
    return run


__all__ = ["BATCH", "DECISIONS", "POSITIVE", "SetRun", "decision", "run_set", "uses_ml"]
