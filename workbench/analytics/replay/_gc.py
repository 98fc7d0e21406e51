"""The garbage collector during a replay: what exists at the start stays out of its passes.

A replay process holds ~800,000 long-lived objects (the imported gateway, guardrails-ai,
the engine, the rows); with the default thresholds the collector's full passes scan all
of them again and again while each replayed request allocates a few hundred short-lived
objects. A replay worker freezes its start-up heap for its whole life
(:func:`workbench.analytics.replay._workers._start`); :func:`quiet_gc` does the same for
the duration of an in-process replay and puts the collector back as it was afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: the collector's thresholds during a replay (the default is 700, 10, 10): young objects
#: are collected every 10,000 allocations (a replayed request leaves little cyclic garbage)
GC_THRESHOLDS = (10_000, 10, 10)


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Within the block: the objects that exist at its start frozen (out of the
    collector's passes), young objects collected every 10,000 allocations. Afterwards
    they are unfrozen (into the oldest generation) and the thresholds restored. Does
    nothing when the collector is off or something else froze objects already (a replay
    worker, a nested or concurrent replay, the caller's own freeze)."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
