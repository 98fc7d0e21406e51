"""The counter authority: exact grants, shrinking leases, expiry, restart, epochs."""

from __future__ import annotations

import random
from pathlib import Path

from workbench.limits import Ask, AuthorityCore, LimitsStore, Report, Rule


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def core_with(*rules: Rule, clock: Clock | None = None) -> AuthorityCore:
    store = LimitsStore()
    for r in rules:
        store.put(r)
    return AuthorityCore(store, clock=clock or Clock())


def test_grants_never_exceed_what_remains(wb_home: Path) -> None:
    core = core_with(Rule("usd", "budget", "workspace", "w", 1.0, period="day"))
    rng = random.Random(7)
    granted = 0
    for _ in range(2000):
        client = f"c{rng.randrange(8)}"
        need = rng.randrange(1, 50_000_000)
        (g,) = core.exchange(client, [], [Ask("usd|w", need, extra=rng.random() < 0.8)])
        assert g.granted == 0 or g.granted >= need
        granted += g.granted
        assert g.free is not None and g.free >= 0
    assert granted <= 1_000_000_000
    assert granted > 1_000_000_000 - 50_000_000  # refused only when a need no longer fits


def test_leases_shrink_and_the_last_units_go_one_by_one(wb_home: Path) -> None:
    core = core_with(Rule("rpm", "requests", "key", "*", 100))
    sizes: list[int] = []
    while True:
        (g,) = core.exchange(f"c{len(sizes) % 4}", [], [Ask("rpm|k", 1)])
        if g.granted == 0:
            break
        sizes.append(g.granted)
    assert sum(sizes) == 100
    assert sizes[0] == 1 + 6  # the need plus at most a sixteenth of the limit
    assert sizes[-5:] == [1, 1, 1, 1, 1]
    assert sizes == sorted(sizes, reverse=True)


def test_unreported_lease_counts_as_spent_when_it_expires(wb_home: Path) -> None:
    clock = Clock()
    core = core_with(Rule("tpm", "tokens", "key", "*", 1000), clock=clock)
    (g,) = core.exchange("gone", [], [Ask("tpm|k", 10, extra=False)])
    assert g.granted == 10
    clock.t += 6  # past the 5 s TTL (the clock starts on a minute: same window)
    core.exchange("other", [], [])
    (u,) = core.usage()
    assert (u["used"], u["leased"]) == (10, 0)
    # its late report does not count the spending twice
    core.exchange("gone", [Report("tpm|k", g.lease_id, g.epoch, g.slot, 10)], [])
    assert core.usage()[0]["used"] == 10


def test_reports_move_lease_to_used_and_refunds_come_back(wb_home: Path) -> None:
    core = core_with(Rule("usd", "budget", "key", "*", 1.0, period="day"))
    (g,) = core.exchange("c", [], [Ask("usd|k", 300_000_000, extra=False)])
    core.exchange("c", [Report("usd|k", g.lease_id, g.epoch, g.slot, 300_000_000)], [])
    assert core.usage()[0]["used"] == 0.3 and core.usage()[0]["leased"] == 0
    core.exchange("c", [Report("usd|k", g.lease_id, g.epoch, g.slot, -100_000_000)], [])
    assert abs(core.usage()[0]["used"] - 0.2) < 1e-12


def test_restart_reloads_consumption_and_counts_open_leases_as_spent(wb_home: Path) -> None:
    rule = Rule("rpm", "requests", "key", "*", 100)
    clock = Clock()
    first = core_with(rule, clock=clock)
    (g1,) = first.exchange("a", [], [Ask("rpm|k", 30, extra=False)])
    first.exchange("a", [Report("rpm|k", g1.lease_id, g1.epoch, g1.slot, 20)], [])
    (g2,) = first.exchange("b", [], [Ask("rpm|k", 40, extra=False)])
    assert (g1.granted, g2.granted) == (30, 40)
    second = AuthorityCore(LimitsStore(), clock=clock)  # the gateway restarted
    assert second.epoch != first.epoch
    (u,) = second.usage()
    assert u["used"] == 70  # 20 reported + the 10 and 40 still leased at the crash
    # reports against the old incarnation's leases are ignored
    second.exchange("a", [Report("rpm|k", g1.lease_id, g1.epoch, g1.slot, 10, returned=0)], [])
    (g3,) = second.exchange("c", [], [Ask("rpm|k", 31, extra=False)])
    assert g3.granted == 0 and g3.free == 30


def test_concurrency_slots_of_a_silent_client_are_freed(wb_home: Path) -> None:
    clock = Clock()
    core = core_with(Rule("conc", "concurrent", "key", "*", 2), clock=clock)
    (g,) = core.exchange("dead", [], [Ask("conc|k", 2, extra=False)])
    core.exchange("dead", [Report("conc|k", g.lease_id, g.epoch, g.slot, 2)], [])
    (refused,) = core.exchange("live", [], [Ask("conc|k", 1)])
    assert refused.granted == 0
    clock.t += 31  # not heard from for dead_after_s
    (ok,) = core.exchange("live", [], [Ask("conc|k", 1, extra=False)])
    assert ok.granted == 1
