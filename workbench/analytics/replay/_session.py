"""One replay run: the candidate's engine, the scorer, the memo, the pipeline, the rows."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from workbench._time import parse_time
from workbench.analytics.replay._batching import BatchingScorer
from workbench.analytics.replay._gc import quiet_gc
from workbench.analytics.replay._prescore import prescore
from workbench.analytics.replay._result import ReplayResult
from workbench.analytics.replay._runner import Replayed, Replayer, Skipped, build, run_all
from workbench.analytics.replay._source import Filters, load_rows
from workbench.analytics.replay._stream_seed import eligible_checks, used_checks
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
        prescore: bool = True,
    ) -> None:
        self.cfg = cfg
        self.policy = policy
        self.live = live
        self.concurrency = concurrency
        self.prescore = prescore
        self.memo = VerdictMemo() if reuse else None
        self.engine = GuardrailEngine(
            policy, policy_hash=policy_hash(policy), version_id="candidate", memo=self.memo
        )
        self.batching: BatchingScorer | None = None
        if _needs_scorer(self.engine):
            if scorer is None:
                from workbench.analytics.replay._scorer import replay_scorer

                scorer = replay_scorer()
            self.batching = BatchingScorer(scorer)
            self.engine.scorer = self.batching
        self.live_cache: Any = None
        self._real: list[Any] = []
        self._replayer: Replayer | None = None

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

    async def replay_rows(
        self, rows: list[dict[str, Any]], progress: Any = None
    ) -> tuple[list[Replayed], list[Skipped], float]:
        """Replay ``rows`` in this process (the pipeline is built on the first call)."""
        if self._replayer is None:
            replayer = Replayer(self.memo, eligible_checks(self.engine), used_checks(self.engine))
            replayer.pipeline = build(
                self.cfg, self.engine, self._prices(), self._hosted(), replayer.submit
            )
            self._replayer = replayer
        if self.batching is None or self.memo is not None or not self.prescore:
            return await run_all(self._replayer, rows, self.concurrency, progress)
        # full recompute: each slice's texts are encoded in big batches first
        done: list[Replayed] = []
        skipped: list[Skipped] = []
        t0 = time.perf_counter()
        for k in range(0, len(rows), PRESCORE_ROWS):
            part = rows[k : k + PRESCORE_ROWS]
            await prescore(self.batching, part)
            d, s, _ = await run_all(self._replayer, part, self.concurrency, progress)
            done += d
            skipped += s
        return done, skipped, time.perf_counter() - t0

    def shardable(self) -> bool:
        """Whether worker processes can run this replay (not live, the default scorer)."""
        if self.live is not None:
            return False
        if self.batching is None:
            return True
        from workbench.analytics.replay._scorer import replay_scorer

        return self.batching.scorer is replay_scorer()  # what each worker builds

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
        workers: int | None = None,
    ) -> ReplayResult:
        """Replay the selected rows (in ``workers`` processes, or in this one); the result
        with its figures. The start-up heap is kept out of the collector's passes
        meanwhile, as in a worker (:func:`~workbench.analytics.replay._gc.quiet_gc`): the
        rows replayed here or the per-request rows merged from the workers, and the
        result built from them, would otherwise cost many full passes over it."""
        filters = Filters(parse_time(since), parse_time(until), workspace, model, limit)
        frame = load_rows(source, filters, root)
        heavy = self.batching is not None and self.memo is None
        n = pick_workers(workers, frame.height, heavy) if self.shardable() else 1
        with quiet_gc():
            if n > 1:
                return await self._sharded(frame, n, progress)
            return await self._here(frame, progress)

    async def _here(self, frame: Any, progress: bool) -> ReplayResult:
        """The rows replayed in this process."""
        bar = _bar(frame.height, progress)
        update = bar.update if bar is not None else None
        try:
            done, skipped, seconds = await self.replay_rows(frame.to_dicts(), update)
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
            stats={**self._stats(), "workers": 1},
        )

    async def _sharded(self, frame: Any, n: int, progress: bool) -> ReplayResult:
        """The rows replayed by ``n`` worker processes (the bar starts once they did: a
        bar's monitor thread would keep them from being forked)."""
        from workbench.analytics.replay._workers import run_sharded

        bars: list[Any] = []

        def start_bar() -> Any:
            bars.append(_bar(frame.height, progress))
            return bars[0].update if bars[0] is not None else None

        try:
            shards = await run_sharded(self, frame, n, start_bar)
        finally:
            if bars and bars[0] is not None:
                bars[0].close()
        return ReplayResult.from_rows(
            shards.rows,
            shards.skipped,
            seconds=shards.seconds,
            policy=self.policy,
            policy_hash=self.engine.policy_hash,
            stats={**self._stats(), **shards.stats, "workers": n, "start": shards.start},
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


#: rows per slice pre-scored then replayed (their texts fit the scorer's cache)
PRESCORE_ROWS = 1024
#: from this many rows on a replay is sharded across worker processes: starting them
#: (imports, the ML model) costs 15-40 s of CPU, which pays off only on many rows
SHARD_MIN_ROWS = 20_000
#: the same for a replay that runs ML checks without reuse (a few ms of CPU per row)
SHARD_MIN_ROWS_ML = 2_000


def pick_workers(workers: int | None, rows: int, ml_heavy: bool = False) -> int:
    """Worker processes for ``rows`` rows: ``workers`` when given, else one per CPU core
    from :data:`SHARD_MIN_ROWS` rows on (:data:`SHARD_MIN_ROWS_ML` when every ML check
    is recomputed), and one below."""
    if workers is not None:
        return max(1, min(int(workers), max(1, rows)))
    if rows < (SHARD_MIN_ROWS_ML if ml_heavy else SHARD_MIN_ROWS):
        return 1
    return max(1, min(os.cpu_count() or 1, rows // 1000))


def _bar(total: int, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="replay", unit="req", disable=total < 200)
