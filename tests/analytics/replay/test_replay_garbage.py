"""A replay leaves no request in cyclic garbage when it is refused (the collector's
passes were a third of a replay worker's CPU when every denial was a reference cycle).
Streamed answers refused mid-stream are not covered (their generators still are)."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from tests.analytics.replay._log import POLICY_B, config, record_log, write_log
from workbench.analytics.replay import replay
from workbench.pipeline.context import RequestContext


def test_refused_requests_leave_no_reference_cycles(wb_home: Path) -> None:
    cfg = config()
    records = asyncio.run(record_log(cfg))
    write_log(wb_home / "logs", list(records.values()))
    replay(None, POLICY_B, config=cfg, progress=False, workers=1)  # imports, caches
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept, to be inspected
    try:
        res = replay(None, POLICY_B, config=cfg, progress=False, workers=1)
        gc.collect()
        cyclic = [o for o in gc.garbage if isinstance(o, RequestContext) and not o.stream]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    # refused by input checks (no-pineapple, redact-pii) and output checks (no-zebra)
    assert sum(1 for r in res.rows if r["new"] == "deny") >= 4
    assert cyclic == []
