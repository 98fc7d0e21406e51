"""Issue 10's acceptance test, in process: 8 pipeline replicas x 200 concurrent requests
against 100 requests/min and a $1 budget, one counter authority."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.limits.rig import COST, replicas
from workbench.limits import LimitsStore, Rule


def mid_minute() -> Callable[[], float]:
    """A wall clock stopped in the middle of a UTC minute: requests/min count per fixed
    minute, and a burst that crossed one would rightly get 100 in each."""
    frozen = time.time() // 60 * 60 + 30.0
    return lambda: frozen


async def test_8x200_requests_limit_exact(wb_home: Path) -> None:
    store = LimitsStore()
    store.put(Rule("rpm", "requests", "workspace", "default", 100))
    store.put(Rule("usd", "budget", "workspace", "default", 1000.0, period="day"))
    rig = replicas(8, store, clock=mid_minute())
    replies = await rig.burst(200)
    await rig.close()
    ok = rig.ok()
    denied = [r for r in rig.records if r["http_status"] == 429]
    print(
        f"\nrequests/min limit 100: {len(ok)} answered, {len(denied)} refused (429), "
        f"overshoot {len(ok) - 100}, authority round trips {rig.authority.calls}"
    )
    assert len(replies) == 1600 == len(rig.records)
    assert len(ok) + len(denied) == 1600
    assert len(ok) <= 100  # overshoot 0
    assert len(ok) >= 95  # and leases do not strand much of the limit
    assert {r["error_code"] for r in denied} == {"rate_limit_exceeded"}


async def test_8x200_budget_exact(wb_home: Path) -> None:
    store = LimitsStore()
    store.put(Rule("rpm", "requests", "workspace", "default", 100))
    store.put(Rule("usd", "budget", "workspace", "default", 1.0, period="day"))
    rig = replicas(8, store, clock=mid_minute())
    await rig.burst(200)
    await rig.close()
    ok = rig.ok()
    spent = sum(r["cost_usd"] for r in ok)
    denied = [r for r in rig.records if r["http_status"] == 429]
    print(
        f"\nbudget $1 (answer ${COST}): {len(ok)} answered, spent ${spent:.4f}, "
        f"overshoot ${max(0.0, spent - 1.0):.4f}, {len(denied)} refused"
    )
    assert all(abs(r["cost_usd"] - COST) < 1e-12 for r in ok)
    assert spent <= 1.0 + 1e-9  # reservations >= actual cost: no overshoot at all
    assert spent > 1.0 - 0.1  # and the budget is used (not stranded in leases)
    assert len(ok) <= 100
    assert "budget_exceeded" in {r["error_code"] for r in denied}
    usage = {u["rule"]: u for u in rig.core.usage()}
    assert abs(usage["usd"]["used"] - spent) < 1e-6
    assert usage["usd"]["leased"] == 0
