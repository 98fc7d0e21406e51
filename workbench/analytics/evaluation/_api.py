"""``evaluate``: a policy, or single checks, on labelled sets through the real engine."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._sync import run_blocking
from workbench.analytics.evaluation._builtin import DEFAULT_SETS, load_set
from workbench.analytics.evaluation._result import EvalResult
from workbench.analytics.evaluation._run import BATCH, POSITIVE, SetRun, run_set
from workbench.analytics.evaluation._sets import LabelledSet, from_frame
from workbench.analytics.evaluation._tables import with_check_columns

if TYPE_CHECKING:
    import polars as pl

PolicyLike = Any  # a Policy, a policy file path, or None (with ``checks``)
SetsLike = Any  # a name, a LabelledSet, a frame, or a list of those


def resolve_policy(
    policy: PolicyLike,
    checks: Sequence[str | dict[str, Any]] | None,
    stages: Sequence[str] = ("input",),
) -> Any:
    """A :class:`~workbench.policy.Policy` from a Policy, a file, or a list of checks.

    Checks go into each of ``stages`` they support (deny on fail); a check in both
    stages is named ``<name>-output`` in the output stage (names are unique in a policy).
    """
    from workbench.policy import Policy, load_policy, parse_policy

    if policy is not None and checks:
        raise ValueError("give a policy or checks, not both")
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str | Path):
        return load_policy(policy)
    if not checks:
        raise ValueError("nothing to evaluate: give a policy or checks")
    from workbench.guardrails import registry

    by_stage: dict[str, list[dict[str, Any]]] = {"input": [], "output": []}
    for c in checks:
        cfg = {"validator": c} if isinstance(c, str) else dict(c)
        cfg.setdefault("name", re.sub(r"[^a-z0-9_-]+", "-", str(cfg["validator"]).lower()))
        cfg.setdefault("on_fail", "deny")
        for stage in registry.get(cfg["validator"]).stages & set(stages):
            rename = stage == "output" and "input" in stages
            by_stage[stage].append({**cfg, "name": f"{cfg['name']}-output"} if rename else cfg)
    return parse_policy({"id": "checks", **by_stage}, path="<checks>")


def resolve_sets(datasets: SetsLike, limit: int | None = None, seed: int = 0) -> list[LabelledSet]:
    """Labelled sets from names, sets or frames (None: the default eval-only sets)."""
    import polars as pl

    if datasets is None:
        datasets = list(DEFAULT_SETS)
    if isinstance(datasets, str | LabelledSet | pl.DataFrame):
        datasets = [datasets]
    out = []
    for d in datasets:
        if isinstance(d, str):
            out.append(load_set(d, limit, seed))
        elif isinstance(d, LabelledSet):
            out.append(d.limit(limit, seed))
        else:
            out.append(from_frame(d, f"custom{len(out)}").limit(limit, seed))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be unique, got {names}")
    return out


def _positive(positive: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(positive, str):
        if positive not in POSITIVE:
            raise ValueError(f"positive must be one of {sorted(POSITIVE)} or a list of actions")
        return POSITIVE[positive]
    return tuple(positive)


def _engine(policy: Any, scorer: Any) -> tuple[Any, Any]:
    """The engine and the local scorer it pre-warms (None when no check is ML)."""
    from workbench.analytics.evaluation._run import _Prewarmed
    from workbench.guardrails.engine import GuardrailEngine

    probe = GuardrailEngine(policy)
    if not any(c.spec.classifiers for s in ("input", "output") for c in probe.stages[s]):
        return probe, None
    if scorer is None:
        from workbench.guardrails.ml.scorer import get_scorer

        scorer = get_scorer()
    return GuardrailEngine(policy, scorer=_Prewarmed(scorer), policy_hash=probe.policy_hash), scorer


def _frames(
    sets: list[LabelledSet], runs: list[SetRun], positive: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    import polars as pl

    items, verdicts = [], []
    for s, r in zip(sets, runs, strict=True):
        got = pl.DataFrame(r.items, schema_overrides={"fired": pl.List(pl.String)})
        items.append(s.items.join(got, on="id", how="left").with_columns(dataset=pl.lit(s.name)))
        vs = pl.DataFrame(
            r.verdicts,
            schema={
                "id": pl.String,
                "check": pl.String,
                "validator": pl.String,
                "stage": pl.String,
                "mode": pl.String,
                "fired": pl.Boolean,
                "action": pl.String,
                "latency_ms": pl.Float64,
                "score": pl.Float64,
            },
        )
        verdicts.append(vs.with_columns(dataset=pl.lit(s.name)))
    df = pl.concat(items, how="diagonal_relaxed")
    df = df.with_columns(predicted=pl.col("decision").is_in(list(positive)))
    first = ["dataset", "id", "label", "decision", "predicted", "fired"]
    df = df.select(*first, *[c for c in df.columns if c not in first])
    return df, pl.concat(verdicts)


async def evaluate_async(
    policy: PolicyLike = None,
    datasets: SetsLike = None,
    *,
    checks: Sequence[str | dict[str, Any]] | None = None,
    limit: int | None = None,
    positive: str | Sequence[str] = "flagged",
    scorer: Any = None,
    batch: int = BATCH,
    resamples: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> EvalResult:
    """The async twin of :func:`evaluate` (for code already in an event loop)."""
    from tqdm.auto import tqdm

    sets = resolve_sets(datasets, limit, seed)
    pol = resolve_policy(policy, checks, sorted({s.stage for s in sets}))
    engine, local = _engine(pol, scorer)
    pos = _positive(positive)
    runs: list[SetRun] = []
    t0 = time.perf_counter()
    with tqdm(
        total=sum(len(s) for s in sets), desc=f"eval {pol.id}", unit="item", disable=not progress
    ) as bar:
        for s in sets:
            bar.set_postfix_str(s.name)
            runs.append(await run_set(engine, s, local_scorer=local, batch=batch, progress=bar))
    wall = time.perf_counter() - t0
    items, verdicts = _frames(sets, runs, pos)
    stages = {s.stage for s in sets}
    names = [c.name for st in ("input", "output") if st in stages for c in engine.stages[st]]
    checks_run = list(dict.fromkeys(names))
    items = with_check_columns(items, verdicts, checks_run)
    n = items.height
    timing = {
        "cpus": os.cpu_count(),
        "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "items": n,
        "wall_s": wall,
        "s_per_item": wall / n if n else None,
        "items_per_s": n / wall if wall > 0 else None,
        "ml_scoring_s": sum(r.scoring_s for r in runs),
        "per_dataset": {
            s.name: {"items": len(s), "wall_s": r.wall_s} for s, r in zip(sets, runs, strict=True)
        },
    }
    return EvalResult(
        policy_id=str(pol.id),
        policy_hash=engine.policy_hash,
        positive=pos,
        sets=[s.info() for s in sets],
        items=items,
        verdicts=verdicts,
        checks=checks_run,
        resamples=resamples,
        seed=seed,
        timing=timing,
    )


def evaluate(
    policy: PolicyLike = None,
    datasets: SetsLike = None,
    **kw: Any,
) -> EvalResult:
    """Evaluate a policy (a :class:`~workbench.policy.Policy` or a YAML file), or single
    ``checks=[...]``, on labelled sets (built-in names, :class:`LabelledSet`, or frames
    with ``text`` and ``label``; default: the eval-only injection/over-blocking sets).

    Each item runs through the policy's input stage (output stage for output sets) in the
    real :class:`~workbench.guardrails.engine.GuardrailEngine`, ML checks batched on the
    in-process scorer. The policy "catches" an item when its decision is one of
    ``positive`` (``"flagged"``: deny, fallback, retry or flag; ``"blocked"``; ``"any"``
    also counts redact/fix; or a list of actions). Keyword arguments as
    :func:`evaluate_async`. Safe inside a running event loop (Jupyter).
    """
    return run_blocking(lambda: evaluate_async(policy, datasets, **kw))


__all__ = ["evaluate", "evaluate_async", "resolve_policy", "resolve_sets"]
