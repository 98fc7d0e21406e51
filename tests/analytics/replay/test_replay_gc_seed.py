"""Replay speed-ups that must not change results: the collector kept off the start-up heap
for the length of a replay (then put back as it was), the memo seeded only with logged
verdicts of configurations the candidate looks up, each logged JSON column parsed once."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from tests.analytics.replay._log import POLICY_A, POLICY_B, config, record_log
from workbench.analytics.replay import load_candidate
from workbench.analytics.replay._gc import GC_THRESHOLDS, quiet_gc
from workbench.analytics.replay._runner import tape_of
from workbench.analytics.replay._session import Session
from workbench.analytics.replay._stream_seed import used_checks


def test_quiet_gc_freezes_for_the_block_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with quiet_gc():
        frozen = gc.get_freeze_count()
        assert frozen > 1000 and gc.get_threshold() == GC_THRESHOLDS
        with quiet_gc():  # nested (or a worker, already frozen): left alone
            assert gc.get_freeze_count() == frozen and gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    try:
        with quiet_gc():
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


def test_the_memo_is_seeded_only_with_configurations_the_candidate_uses(wb_home: Path) -> None:
    cfg = config()
    records = asyncio.run(record_log(cfg))  # logged under policy A
    session = Session(cfg, load_candidate(POLICY_B, ["echo", "down"]))
    rows = [dict(r) for r in records.values()]
    done, _, _ = asyncio.run(session.replay_rows(rows))
    assert len(done) == len(rows)
    assert session.memo is not None
    used = used_checks(session.engine)
    old = used_checks(Session(cfg, load_candidate(POLICY_A, ["echo", "down"])).engine)
    assert old - used  # policy A has configurations policy B does not look up
    assert session.memo.seeded > 0
    assert {cfg_hash for cfg_hash, _ in session.memo._entries} <= used


def test_a_tape_from_parsed_columns_is_the_tape_from_the_row(wb_home: Path) -> None:
    import orjson

    records = asyncio.run(record_log(config()))
    for row in records.values():
        outputs = orjson.loads(row["upstream_outputs"]) if row["upstream_outputs"] else []
        attempts = orjson.loads(row["routing_attempts"]) if row["routing_attempts"] else []
        assert tape_of(row, outputs, attempts) == tape_of(row)
