"""Sharded replay: the rows split into slices, replayed by worker processes.

Where the caller is a lone main thread (a script, the CLI: :func:`can_fork`), the
workers are forked from it: they inherit its imports, its :class:`Session` and the rows
(as Python objects), so a worker starts at once; the ML model, when the workers will
need it, is loaded once before the fork. Elsewhere (Jupyter, a caller with threads)
each worker is forked from a ``forkserver`` that imported the heavy modules once (or
started with ``spawn``; nothing of the caller's event loop or threads is inherited),
builds its own session once, and gets its slices as Arrow IPC bytes. Either way a
worker keeps one event loop and returns the per-request rows of the result, the skipped
rows and the counters of each slice. The slices are handed out as workers free up; the
parent merges them in row order, so the result is the one an in-process replay gives.
A failing slice fails the whole replay (no partial result).
"""

from __future__ import annotations

import asyncio
import gc
import io
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from workbench.analytics.replay._session import Session

from workbench.analytics.replay._gc import GC_THRESHOLDS

_STATE: dict[str, Any] = {}  # in a worker process: its session and event loop
_FORKED: dict[str, Any] = {}  # set just before forking workers: the rows they inherit

_COUNTERS = {
    "reuse": ("hits", "misses", "seeded"),
    "ml_batching": ("calls", "batches", "texts", "prescored"),
}


class ReplayWorkerError(RuntimeError):
    """A worker process failed on a slice of rows (the replay has no partial result)."""


@dataclass
class Shards:
    """What the workers returned, merged in row order."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    start: str = ""  # how the workers started: fork, forkserver or spawn


def _init(
    cfg: Any, policy: Any, reuse: bool, concurrency: int, prescore: bool, threads: int
) -> None:
    """Worker start (``forkserver``/``spawn``): one session and one event loop for the
    life of the process."""
    _threads(threads)
    from workbench.analytics.replay._session import Session

    _start(Session(cfg, policy, reuse=reuse, concurrency=concurrency, prescore=prescore))


def _init_forked(session: Session, threads: int) -> None:
    """Worker start (``fork``): the parent's session, inherited (nothing to import)."""
    _threads(threads)
    _start(session)


def _threads(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)  # before the ML scorer imports torch
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _start(session: Session) -> None:
    _STATE["session"] = session
    _STATE["loop"] = asyncio.new_event_loop()
    # what the worker imported and built lives as long as it does: keep it out of the
    # collector's full passes (each one scanned ~800k objects), and collect young
    # objects less often (a replayed request leaves little cyclic garbage)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _snapshot(session: Session) -> dict[str, dict[str, Any]]:
    stats = session._stats()
    return {k: dict(stats.get(k) or {}) for k in _COUNTERS}


def _slice(ipc: bytes) -> tuple[list[dict[str, Any]], list[tuple[str, str]], dict[str, Any]]:
    """In a worker: replay one slice of rows sent as Arrow IPC bytes."""
    import polars as pl

    return _replay(pl.read_ipc(io.BytesIO(ipc)).to_dicts())


def _slice_at(a: int, b: int) -> tuple[list[dict[str, Any]], list[tuple[str, str]], dict[str, Any]]:
    """In a forked worker: replay rows ``a:b`` of the rows it inherited (no polars here:
    its thread pool did not survive the fork)."""
    return _replay(_FORKED["rows"][a:b])


def _replay(
    rows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[tuple[str, str]], dict[str, Any]]:
    """In a worker: replay one slice of rows; (rows, skipped, counters of this slice)."""
    from workbench.analytics.replay._result import rows_of

    session: Session = _STATE["session"]
    loop: asyncio.AbstractEventLoop = _STATE["loop"]
    before = _snapshot(session)
    done, skipped, _ = loop.run_until_complete(session.replay_rows(rows))
    after = _snapshot(session)
    counters: dict[str, Any] = {
        group: {k: after[group].get(k, 0) - before[group].get(k, 0) for k in keys}
        for group, keys in _COUNTERS.items()
        if after[group]
    }
    counters["entries"] = (os.getpid(), after.get("reuse", {}).get("entries", 0))
    return rows_of(done), [(s.request_id, s.reason) for s in skipped], counters


def _ipc(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_ipc(buf, compression="lz4")
    return buf.getvalue()


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The counters of every slice added up, as the session's stats read."""
    out: dict[str, Any] = {}
    entries: dict[int, int] = {}
    for p in parts:
        pid, n = p["entries"]
        entries[pid] = max(entries.get(pid, 0), n)
        for group, keys in _COUNTERS.items():
            if group in p:
                g = out.setdefault(group, dict.fromkeys(keys, 0))
                for k in keys:
                    g[k] += p[group][k]
    if "reuse" in out:
        out["reuse"]["entries"] = sum(entries.values())
    if "ml_batching" in out:
        b = out["ml_batching"]
        b["mean_batch"] = round(b["texts"] / b["batches"], 1) if b["batches"] else 0.0
    return out


#: imported once by the fork server, so that each worker starts without importing them
PRELOAD = ["workbench.analytics.replay._session", "workbench.guardrails.ml.scorer", "torch"]
#: ``fork``, ``forkserver`` or ``spawn``: how workers start (default: see :func:`_context`)
START_ENV = "WORKBENCH_REPLAY_START"


def can_fork() -> bool:
    """Whether workers may be forked from this process: only from the main thread of a
    process that runs no other Python thread (tqdm's idle monitor aside), outside a
    Jupyter kernel (whose threads and output streams a child would inherit): a script,
    the CLI. The workers use neither polars nor DuckDB (their thread pools do not
    survive a fork): a forked worker gets its rows as Python objects."""
    if "fork" not in multiprocessing.get_all_start_methods() or "ipykernel" in sys.modules:
        return False
    me = threading.current_thread()
    if me is not threading.main_thread():
        return False
    others = [t for t in threading.enumerate() if t is not me]
    return all(type(t).__name__ == "TMonitor" for t in others)


def _context(fork: bool = False) -> Any:
    """``fork`` when asked and :func:`can_fork` (the workers inherit this process's
    imports, session and loaded model: nothing to import or load again), else
    ``forkserver`` (workers forked from a clean server process that imported the heavy
    modules once; no thread or event loop of this process is inherited), else
    ``spawn``. ``$WORKBENCH_REPLAY_START`` names one of them instead (``fork`` still
    only where :func:`can_fork`)."""
    choice = os.environ.get(START_ENV, "").strip().lower()
    if choice not in ("", "fork", "forkserver", "spawn"):
        raise ValueError(f"{START_ENV} must be fork, forkserver or spawn, got {choice!r}")
    if (choice == "fork" or (fork and not choice)) and can_fork():
        return multiprocessing.get_context("fork")
    if choice != "spawn" and "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def slice_rows(total: int, workers: int) -> int:
    """Rows per slice: about eight slices per worker, 250 to 2,500 rows each."""
    return max(250, min(2500, -(-total // (workers * 8))))


def _pool(session: Session, workers: int) -> tuple[ProcessPoolExecutor, bool]:
    """The worker pool, and whether its workers are forked from this process (where
    :func:`can_fork`: no import, no set-up, they inherit this session), else from the
    fork server or spawned."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = _context(fork=True)
    if ctx.get_start_method() == "fork":
        pool = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_forked, initargs=(session, threads)
        )
        return pool, True
    args = (session.cfg, session.policy, session.memo is not None, session.concurrency)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=ctx,
        initializer=_init,
        initargs=(*args, session.prescore, threads),
    )
    return pool, False


def _model_likely(session: Session, frame: pl.DataFrame) -> bool:
    """Whether the workers will need the ML model: every ML check is recomputed, or an
    output ML check will meet streamed answers (whose windows follow the logged stream's
    timing, so they often miss the memo)."""
    if session.batching is None:
        return False
    if session.memo is None:
        return True
    output_ml = any(c.spec.classifiers for c in session.engine.stages.get("output", []))
    return output_ml and bool(frame["stream"].fill_null(False).any())


async def run_sharded(
    session: Session, frame: pl.DataFrame, workers: int, progress: Any = None
) -> Shards:
    """Replay ``frame`` in ``workers`` processes built like ``session``. ``progress``:
    called once the workers started, returns the progress update (or None)."""
    t0 = time.perf_counter()
    size = slice_rows(frame.height, workers)
    bounds = [(k, min(k + size, frame.height)) for k in range(0, frame.height, size)]
    pool, forked = _pool(session, workers)
    futures: list[asyncio.Future[Any]] = []
    try:
        if forked:
            if _model_likely(session, frame):  # loaded once, here, not in every worker
                _ = session.batching.scorer.classifiers  # type: ignore[union-attr]
            _FORKED["rows"] = frame.to_dicts()
            try:  # the first submit forks every worker, here, on this (the only) thread
                submitted = [pool.submit(_slice_at, a, b) for a, b in bounds]
            finally:
                _FORKED.clear()
        else:

            def submit() -> list[Future[Any]]:  # the first start waits for the fork server
                return [pool.submit(_slice, _ipc(frame.slice(a, b - a))) for a, b in bounds]

            # submitted from a thread: the caller's event loop never blocks
            submitted = await asyncio.to_thread(submit)
        futures = [asyncio.wrap_future(f) for f in submitted]
        results = await _gather(futures, bounds, progress() if progress else None)
    except BaseException:
        for f in futures:
            f.cancel()
        await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)
        raise
    await asyncio.to_thread(pool.shutdown, True)
    start = "fork" if forked else str(_context().get_start_method())
    out = Shards(seconds=time.perf_counter() - t0, start=start)
    for rows, skipped, _ in results:
        out.rows.extend(rows)
        out.skipped.extend(skipped)
    out.stats = _merge([c for _, _, c in results])
    return out


async def _gather(futures: list[Any], bounds: list[tuple[int, int]], progress: Any) -> list[Any]:
    """Every slice's result in slice order; the first failure raised as a
    :class:`ReplayWorkerError` naming its rows."""
    index = {id(f): k for k, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    pending = set(futures)
    while pending:
        finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for f in finished:
            k = index[id(f)]
            a, b = bounds[k]
            exc = f.exception()
            if exc is not None:
                raise ReplayWorkerError(
                    f"replay worker failed on rows {a}-{b - 1}: {type(exc).__name__}: {exc}"
                ) from exc
            results[k] = f.result()
            if progress is not None:
                progress(b - a)
    return results
