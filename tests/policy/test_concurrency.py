"""Concurrent publishes from two processes: no lost version, no duplicate number."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from tests.policy._checks import make_registry, publish_many
from workbench.policy import PolicyStore

COUNT = 15


def test_two_processes_publishing_at_once(tmp_path: Path) -> None:
    root = tmp_path / "policies"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=publish_many, args=(str(root), w, COUNT, start)) for w in (0, 1)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    store = PolicyStore(root, registry=make_registry())
    shared = store.versions("shared")
    assert [v.number for v in shared] == list(range(1, 2 * COUNT + 1))
    descriptions = {v.policy.description for v in shared}
    assert descriptions == {f"w{w} #{k}" for w in (0, 1) for k in range(COUNT)}
    assert len({v.hash for v in shared}) == 2 * COUNT
    # live.json lost no update: every policy id is live, each at its last version
    live = store.live_map()
    assert live == {
        "own-0": f"own-0@v{COUNT}",
        "own-1": f"own-1@v{COUNT}",
        "shared": live["shared"],
    }
    last_publish = [e for e in store.audit("shared") if e.event == "publish"][-1]
    assert live["shared"] == last_publish.to_version
    # the audit trail is complete and its from -> to chain is unbroken
    events = store.audit("shared")
    assert len(events) == 2 * COUNT
    assert events[0].from_version is None
    for before, after in zip(events, events[1:], strict=False):
        assert after.from_version == before.to_version
    assert not list(root.rglob("*.tmp"))
