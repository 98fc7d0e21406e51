"""A replay worker keeps its start-up heap out of the collector's passes."""

from __future__ import annotations

import gc
from concurrent.futures import ProcessPoolExecutor

from tests.analytics.replay._log import POLICY_B, config
from workbench.analytics.replay import load_candidate
from workbench.analytics.replay._workers import GC_THRESHOLDS, _context, _init


def _gc_state() -> tuple[int, tuple[int, int, int]]:
    return gc.get_freeze_count(), gc.get_threshold()


def test_a_worker_freezes_its_start_up_heap() -> None:
    cfg = config()
    policy = load_candidate(POLICY_B, [m.name for m in cfg.models])
    pool = ProcessPoolExecutor(
        1, mp_context=_context(), initializer=_init, initargs=(cfg, policy, True, 8, True, 1)
    )
    with pool:
        frozen, thresholds = pool.submit(_gc_state).result(timeout=300)
    assert thresholds == GC_THRESHOLDS
    assert frozen > 10_000  # the imported gateway, guardrails and session
    assert gc.get_threshold() != GC_THRESHOLDS  # this process is left as it was
