"""The ingress-side Limiter: reservation and settlement, denials, headers, soft alerts,
rule changes, and leasing versus one round trip per request."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.governance import audit
from workbench.limits import LimitDenied, Limiter, LimitsStore, LocalAuthority, Rule

SUBJECTS = {"key": "k1", "user": None, "workspace": "a", "model": "m"}


def limiter(*rules: Rule, **kw: object) -> Limiter:
    store = LimitsStore()
    for r in rules:
        store.put(r)
    return Limiter(LocalAuthority(store=store), store=store, **kw)  # type: ignore[arg-type]


async def test_denial_names_the_rule_with_retry_after(wb_home: Path) -> None:
    lim = limiter(Rule("rpm", "requests", "key", "*", 2))
    for _ in range(2):
        adm = await lim.admit(SUBJECTS, "a", {"requests": 1})
        assert adm.headers["x-ratelimit-limit-requests"] == "2"
    with pytest.raises(LimitDenied) as exc:
        await lim.admit(SUBJECTS, "a", {"requests": 1})
    err = exc.value
    assert (err.status, err.code, err.param) == (429, "rate_limit_exceeded", "rpm")
    assert "rpm" in err.message and "k1" in err.message
    assert 1 <= int(err.headers["retry-after"]) <= 60
    await lim.close()


async def test_budget_reservation_is_reconciled(wb_home: Path) -> None:
    lim = limiter(Rule("usd", "budget", "workspace", "a", 1.0, period="day"), leasing=False)
    adm = await lim.admit(SUBJECTS, "a", {"budget": 600_000_000})  # reserve $0.60
    with pytest.raises(LimitDenied) as exc:  # $0.60 more does not fit while it is reserved
        await lim.admit(SUBJECTS, "a", {"budget": 600_000_000})
    assert exc.value.code == "budget_exceeded" and "usd" in exc.value.message
    lim.settle(adm, {"budget": 100_000_000})  # it cost $0.10
    lim._denied.clear()  # (the refusal is remembered for deny_cache_s)
    adm2 = await lim.admit(SUBJECTS, "a", {"budget": 600_000_000})
    lim.settle(adm2, {"budget": 600_000_000})
    await lim.close()
    usage = lim.authority.core.usage()  # type: ignore[attr-defined]
    assert abs(usage[0]["used"] - 0.7) < 1e-9 and usage[0]["leased"] == 0


async def test_concurrency_slot_comes_back_at_settlement(wb_home: Path) -> None:
    lim = limiter(Rule("conc", "concurrent", "key", "*", 1), deny_cache_s=0.0)
    adm = await lim.admit(SUBJECTS, "a", {"concurrent": 1})
    with pytest.raises(LimitDenied) as exc:
        await lim.admit(SUBJECTS, "a", {"concurrent": 1})
    assert exc.value.headers["retry-after"] == "1"
    lim.settle(adm, {})
    lim.settle(adm, {})  # idempotent
    lim.settle(await lim.admit(SUBJECTS, "a", {"concurrent": 1}), {})
    await lim.close()


async def test_all_or_nothing_across_counters(wb_home: Path) -> None:
    lim = limiter(
        Rule("rpm", "requests", "key", "*", 100),
        Rule("tpm", "tokens", "key", "*", 50),
        deny_cache_s=0.0,
    )
    with pytest.raises(LimitDenied) as exc:
        await lim.admit(SUBJECTS, "a", {"requests": 1, "tokens": 80})
    assert exc.value.param == "tpm"
    await lim.close()
    used = {u["rule"]: u["used"] for u in lim.authority.core.usage()}  # type: ignore[attr-defined]
    assert used.get("rpm", 0) == 0  # the request taken from rpm was given back


async def test_soft_threshold_alerts_once_with_header_and_audit(wb_home: Path) -> None:
    lim = limiter(Rule("usd", "budget", "workspace", "a", 1.0, period="day", soft=0.5),
                  leasing=False)  # fmt: skip
    first = await lim.admit(SUBJECTS, "a", {"budget": 300_000_000})
    assert "x-workbench-budget-alert" not in first.headers
    second = await lim.admit(SUBJECTS, "a", {"budget": 300_000_000})
    third = await lim.admit(SUBJECTS, "a", {"budget": 100_000_000})
    assert second.headers["x-workbench-budget-alert"] == "usd"
    assert third.headers["x-workbench-budget-alert"] == "usd"
    await lim.close()
    assert len(lim.alerts.raised) == 1 and lim.alerts.raised[0]["rule"] == "usd"
    import asyncio

    for _ in range(100):  # the audit entry is written off the event loop
        if audit.entries(action="budget.soft_threshold"):
            break
        await asyncio.sleep(0.05)
    (entry,) = audit.entries(action="budget.soft_threshold")
    assert entry.target == "budget:usd" and entry.workspace == "a"


async def test_a_soft_only_budget_never_denies(wb_home: Path) -> None:
    lim = limiter(Rule("usd", "budget", "workspace", "a", 0.1, period="day", soft=0.8,
                       hard=False))  # fmt: skip
    adm = await lim.admit(SUBJECTS, "a", {"budget": 500_000_000})
    assert adm.headers["x-workbench-budget-alert"] == "usd"
    await lim.close()


async def test_rule_changes_reach_a_running_limiter(wb_home: Path) -> None:
    lim = limiter(Rule("rpm", "requests", "key", "*", 1), deny_cache_s=0.0)
    await lim.admit(SUBJECTS, "a", {"requests": 1})
    with pytest.raises(LimitDenied):
        await lim.admit(SUBJECTS, "a", {"requests": 1})
    LimitsStore().put(Rule("rpm", "requests", "key", "*", 5))  # the CLI, another process
    lim.authority.core._checked = 0.0  # type: ignore[attr-defined]  # (its 1 s poll)
    await lim.sync_now()  # what the background task does every second
    for _ in range(4):
        await lim.admit(SUBJECTS, "a", {"requests": 1})
    await lim.close()


async def test_leasing_saves_round_trips(wb_home: Path) -> None:
    leased = limiter(Rule("rpm", "requests", "key", "*", 1000))
    direct = limiter(Rule("rpm2", "requests", "key", "*", 1000), leasing=False)
    for _ in range(50):
        await leased.admit(SUBJECTS, "a", {"requests": 1})
        await direct.admit(SUBJECTS, "a", {"requests": 1})
    assert direct.round_trips == 50
    assert leased.round_trips <= 3
    await leased.close()
    await direct.close()
