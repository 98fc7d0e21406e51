"""The replay speed-ups keep the results: a logged stream's whole-text check inferred
from the log (exactly when it may be), how workers start, the production precision."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.analytics.replay._log import POLICY_A, config, record_log
from workbench.analytics.replay import _scorer, _workers, load_candidate
from workbench.analytics.replay._session import Session
from workbench.analytics.replay._stream_seed import eligible_checks, whole_text_seeds
from workbench.guardrails._memo import StageKeys
from workbench.guardrails.engine import GuardrailEngine
from workbench.guardrails.ml.scorer import get_scorer

POLICY_LEAK: dict[str, Any] = {  # one check that reads the request, one that does not
    "id": "leak",
    "output": [
        {"name": "leak", "validator": "system_prompt_leak", "on_fail": "deny"},
        {"name": "no-secrets-out", "validator": "secrets", "on_fail": "deny"},
        {"name": "flagged", "validator": "secrets", "on_fail": "flag", "mode": "log_only"},
    ],
}


def _stream_row(text: str = "It is fast. Very fast.") -> tuple[dict[str, Any], list[Any]]:
    verdicts = [
        {"stage": "input", "window": None, "passed": True, "config_hash": "in"},
        {"stage": "output", "window": 0, "passed": True, "config_hash": "out"},
        {"stage": "output", "window": 1, "passed": True, "config_hash": "out"},
        {"stage": "output", "window": 0, "passed": True, "config_hash": "leak"},
    ]
    row = {"stream": True, "status": "ok", "finish_reason": "stop", "response_body": text}
    return row, verdicts


def test_whole_text_seed_only_for_a_stream_that_ran_untouched() -> None:
    row, verdicts = _stream_row()
    outputs = [{"target": "echo", "text": "It is fast. Very fast."}]
    key = StageKeys(["It is fast. Very fast."], None).key([0], False)  # the engine's key
    assert whole_text_seeds(row, verdicts, outputs, {"out", "in"}) == [("out", key)]
    failed = [*verdicts, {"stage": "output", "window": -1, "passed": False, "config_hash": "x"}]
    cases = [
        whole_text_seeds(row, failed, outputs, {"out"}),  # the whole text failed a check
        whole_text_seeds({**row, "response_body": "It is"}, verdicts, outputs, {"out"}),
        whole_text_seeds({**row, "finish_reason": None}, verdicts, outputs, {"out"}),
        whole_text_seeds({**row, "status": "error"}, verdicts, outputs, {"out"}),
        whole_text_seeds({**row, "output_masked": True}, verdicts, outputs, {"out"}),
        whole_text_seeds({**row, "stream": False}, verdicts, outputs, {"out"}),
        whole_text_seeds(row, verdicts, outputs + outputs, {"out"}),  # two answers
        whole_text_seeds(row, verdicts, outputs, {"leak"} - {"leak"}),  # none eligible
    ]
    assert cases == [[]] * len(cases)


def test_eligible_checks_leave_out_request_readers_and_log_only() -> None:
    engine = GuardrailEngine(load_candidate(POLICY_LEAK))
    by_name = {c.name: c.config_hash for c in engine.stages["output"]}
    assert eligible_checks(engine) == {by_name["no-secrets-out"]}


def test_a_replayed_stream_reuses_its_whole_text_result(wb_home: Path) -> None:
    cfg = config()
    records = asyncio.run(record_log(cfg))
    rows = [records["plain-3"], records["plain-0"]]  # streamed, every check passed
    session = Session(cfg, load_candidate(POLICY_A, ["echo", "down"]))
    done, _, _ = asyncio.run(session.replay_rows([dict(r) for r in rows]))
    assert [(r.old.kind, r.new.kind) for r in done] == [("allow", "allow")] * 2
    (check,) = session.engine.stages["output"]
    assert session.memo is not None
    for r in rows:
        text = json.loads(r["upstream_outputs"])[0]["text"]
        key = StageKeys([text], None).key([0], False)
        # seeded from the log and never computed again (a computed result replaces it)
        assert session.memo._entries[(check.config_hash, key)] == ([], True)


def test_workers_fork_only_from_a_lone_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    t = threading.Thread(target=lambda: seen.append(_workers.can_fork()))
    t.start()
    t.join()
    assert seen == [False]  # not the main thread
    monkeypatch.setattr(_workers, "can_fork", lambda: True)
    assert _workers._context(fork=True).get_start_method() == "fork"
    assert _workers._context().get_start_method() == "forkserver"
    monkeypatch.setenv(_workers.START_ENV, "forkserver")
    assert _workers._context(fork=True).get_start_method() == "forkserver"
    monkeypatch.setenv(_workers.START_ENV, "spawn")
    assert _workers._context(fork=True).get_start_method() == "spawn"
    monkeypatch.setenv(_workers.START_ENV, "threads")
    with pytest.raises(ValueError, match="WORKBENCH_REPLAY_START"):
        _workers._context()
    monkeypatch.setattr(_workers, "can_fork", lambda: False)
    monkeypatch.setenv(_workers.START_ENV, "fork")
    assert _workers._context().get_start_method() == "forkserver"


def test_replay_scores_with_the_production_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_scorer.PRECISION_ENV, raising=False)
    assert _scorer.production_precision() == "int8"  # the scorer deployment's default
    int8 = _scorer.replay_scorer()
    assert isinstance(int8, _scorer.Int8Scorer) and _scorer.replay_scorer() is int8
    monkeypatch.setenv(_scorer.PRECISION_ENV, "fp32")
    assert _scorer.replay_scorer() is get_scorer()
    engine_policy = load_candidate(Path("policies/default.yaml"))
    assert Session(config(), engine_policy).batching.scorer is get_scorer()  # type: ignore[union-attr]
    monkeypatch.setenv(_scorer.PRECISION_ENV, "int4")
    with pytest.raises(ValueError, match="fp32 or int8"):
        _scorer.production_precision()


def test_the_int8_scorer_loads_the_int8_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.guardrails.ml import encoder

    calls: list[dict[str, Any]] = []
    graph = object()

    def load(cls: Any, **kw: Any) -> object:
        calls.append(kw)
        return graph

    monkeypatch.setattr(encoder.Featurizer, "load", classmethod(load))
    scorer = _scorer.Int8Scorer()
    assert calls == []  # nothing loads before the first use
    assert "toxicity" in scorer.classifiers
    assert calls == [{"device": "cpu", "backend": encoder.INT8_BACKEND}]
    assert scorer._featurizer is graph
