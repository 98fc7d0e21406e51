"""One replay run: the candidate's engine, the scorer, the memo, the pipeline, the rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.analytics.replay._batching import BatchingScorer
from workbench.analytics.replay._result import ReplayResult
from workbench.analytics.replay._runner import Replayer, build, run_all
from workbench.analytics.replay._source import Filters, load_rows, parse_time
from workbench.config.gateway import GatewayConfig
from workbench.guardrails._memo import VerdictMemo
from workbench.guardrails.engine import GuardrailEngine
from workbench.pipeline.targets import Backend
from workbench.policy import Policy, policy_hash


def _needs_scorer(engine: GuardrailEngine) -> bool:
    return any(c.spec.classifiers for s in engine.stages.values() for c in s)


class Session:
    """Everything one replay needs, built once."""

    def __init__(
        self,
        cfg: GatewayConfig,
        policy: Policy,
        *,
        live: str | None = None,
        concurrency: int = 8,
        reuse: bool = True,
        scorer: Any = None,
    ) -> None:
        self.cfg = cfg
        self.policy = policy
        self.live = live
        self.concurrency = concurrency
        self.memo = VerdictMemo() if reuse else None
        self.engine = GuardrailEngine(
            policy, policy_hash=policy_hash(policy), version_id="candidate", memo=self.memo
        )
        self.batching: BatchingScorer | None = None
        if _needs_scorer(self.engine):
            if scorer is None:
                from workbench.guardrails.ml.scorer import get_scorer

                scorer = get_scorer()
            self.batching = BatchingScorer(scorer)
            self.engine.scorer = self.batching
        self.live_cache: Any = None
        self._real: list[Any] = []

    def _prices(self) -> Any:
        from workbench.pricing import load_prices

        return load_prices(Path(self.cfg.pricing) if self.cfg.pricing else None)

    def _hosted(self) -> dict[str, Backend] | None:
        if self.live is None:
            return None
        from workbench.analytics.replay._live import LiveCache, live_backends
        from workbench.home import home
        from workbench.pipeline import make_targets

        real = make_targets(self.cfg, {})
        self._real = list(real.values())
        self.live_cache = LiveCache(home() / "replay" / "live-cache.sqlite")
        return live_backends(real, self.live, self.live_cache, self.concurrency)

    async def _close_live(self) -> None:
        for t in self._real:
            close = getattr(t.backend, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception:  # closing is best effort
                    pass
        if self.live_cache is not None:
            self.live_cache.close()

    async def run(
        self,
        source: Any,
        *,
        since: Any = None,
        until: Any = None,
        workspace: str | None = None,
        model: str | None = None,
        limit: int | None = None,
        root: Path | None = None,
        progress: bool = True,
    ) -> ReplayResult:
        """Replay the selected rows; the result with its figures."""
        filters = Filters(parse_time(since), parse_time(until), workspace, model, limit)
        rows = load_rows(source, filters, root).to_dicts()
        replayer = Replayer(self.memo)
        replayer.pipeline = build(
            self.cfg, self.engine, self._prices(), self._hosted(), replayer.submit
        )
        bar = _bar(len(rows), progress)
        try:
            done, skipped, seconds = await run_all(replayer, rows, self.concurrency, bar)
        finally:
            if bar is not None:
                bar.close()
            await self._close_live()
        return ReplayResult.build(
            done,
            skipped,
            seconds=seconds,
            policy=self.policy,
            policy_hash=self.engine.policy_hash,
            stats=self._stats(),
        )

    def _stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = {"concurrency": self.concurrency, "live": self.live}
        if self.memo is not None:
            stats["reuse"] = self.memo.stats()
        if self.batching is not None:
            stats["ml_batching"] = self.batching.stats.as_dict()
        if self.live_cache is not None:
            stats["live_cache"] = {"hits": self.live_cache.hits, "calls": self.live_cache.calls}
        return stats


def _bar(total: int, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="replay", unit="req", disable=total < 200)
