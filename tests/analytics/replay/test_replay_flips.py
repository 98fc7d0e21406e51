"""Replay of a hand-made log (policy A) under policy B: every known flip and driver."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.analytics.replay._log import (
    EXPECTED,
    POLICY_B,
    POLICY_B_YAML,
    REQUESTS,
    config,
    record_log,
    write_log,
)
from workbench.analytics.replay import ReplayResult, areplay, replay
from workbench.errors import ConfigError
from workbench.logstore import query
from workbench.policy import Policy


@pytest.fixture
def logged(wb_home: Path) -> dict[str, Any]:
    cfg = config()
    records = asyncio.run(record_log(cfg))
    write_log(wb_home / "logs", list(records.values()))
    return {"cfg": cfg, "records": records, "root": wb_home / "logs"}


def _by_label(res: ReplayResult) -> dict[str, dict[str, Any]]:
    rows = {r["request_id"]: r for r in res.frame.to_dicts()}
    return {label: rows[f"req-{label}"] for label in REQUESTS}


def test_each_known_flip_and_its_drivers(logged: dict[str, Any]) -> None:
    res = replay(None, POLICY_B_YAML, config=logged["cfg"], progress=False)
    assert res.replayed == len(REQUESTS) and res.not_replayable == 0
    rows = _by_label(res)
    for label, (old, new, drivers) in EXPECTED.items():
        row = rows[label]
        assert (row["old"], row["new"], row["drivers"]) == (old, new, drivers), label
    for label in REQUESTS:
        if label.startswith("plain-"):
            assert rows[label]["old"] == rows[label]["new"] == "allow"
            assert rows[label]["cell"] is None and rows[label]["drivers"] == []
    assert rows["email"]["checks_new"] == ["redact-pii:deny"]
    assert rows["email"]["approximate"] and "masked input" in rows["email"]["notes"]
    assert "no logged answer" in rows["forbidden"]["notes"]
    cells = {name: (f.count, sorted(f.examples)) for name, f in res.flips.items()}
    assert cells == {
        "allow->deny": (3, ["req-pineapple", "req-zebra-out", "req-zebra-stream"]),
        "deny->allow": (1, ["req-forbidden"]),
        "redact->deny": (1, ["req-email"]),
        "allow->fallback": (1, ["req-kiwi"]),
        "fallback->allow": (1, ["req-smart"]),
        "allow->flag": (1, ["req-hello"]),
    }
    matrix = res.matrix()
    assert matrix["allow"]["allow"] == 11 and matrix["deny"]["deny"] == 1
    checks = {c["check"]: c for c in res.by("check")}
    assert checks["no-zebra"]["drove_flips"] == 2 and checks["no-zebra"]["fired_old"] == 0
    workspaces = {g["workspace"]: g for g in res.by("workspace")}
    assert workspaces["ws-a"]["requests"] + workspaces["ws-b"]["requests"] == 20


def test_reuse_gives_the_results_of_a_full_recompute(logged: dict[str, Any]) -> None:
    fast = replay(None, POLICY_B, config=logged["cfg"], progress=False, reuse=True)
    slow = replay(None, POLICY_B, config=logged["cfg"], progress=False, reuse=False)
    assert fast.stats["reuse"]["hits"] > 0 and fast.stats["reuse"]["seeded"] > 0
    assert "reuse" not in slow.stats
    cols = ["request_id", "old", "new", "cell", "checks_old", "checks_new", "drivers"]
    a, b = fast.frame.sort("request_id"), slow.frame.sort("request_id")
    # masked requests: the logged result (on the real text) beats a recompute on the mask
    unmasked = ~pl.col("notes").list.contains("masked input")
    assert a.filter(unmasked).select(cols).equals(b.filter(unmasked).select(cols))
    assert a.filter(unmasked).height == 18


def test_the_replay_runs_the_logged_raw_output_not_a_model(logged: dict[str, Any]) -> None:
    rec = logged["records"]["zebra-out"]
    # only the logged output says zebra
    assert "zebra" not in (rec["request_original"] or rec["request_body"])
    res = replay(
        f"SELECT * FROM requests WHERE request_id = '{rec['request_id']}'",
        POLICY_B,
        config=logged["cfg"],
        progress=False,
    )
    assert res.frame.row(0, named=True)["new"] == "deny"


def test_v1_rows_and_rows_that_cannot_be_replayed(logged: dict[str, Any]) -> None:
    df = query("SELECT * FROM requests", root=logged["root"])
    v1 = df.filter(pl.col("request_id").is_in(["req-pineapple", "req-plain-1"])).with_columns(
        pl.lit(None, pl.String).alias("request_original"),
        pl.lit(None, pl.Boolean).alias("request_masked"),  # v1 rows have no v2 fields
        pl.lit(None, pl.String).alias("upstream_outputs"),
        pl.lit(None, pl.Boolean).alias("output_masked"),
    )
    nobody = df.filter(pl.col("request_id") == "req-kiwi").with_columns(
        pl.lit(None, pl.String).alias("request_original"),
        pl.lit(None, pl.String).alias("request_body"),
    )
    models = nobody.with_columns(
        pl.lit("/v1/models").alias("endpoint"), pl.lit("req-models").alias("request_id")
    )
    res = replay(pl.concat([v1, nobody, models]), POLICY_B, config=logged["cfg"], progress=False)
    assert res.replayed == 2 and res.not_replayable == 2
    assert res.skipped == {
        "no request body logged": 1,
        "not a chat, completions or embeddings request": 1,
    }
    rows = {r["request_id"]: r for r in res.frame.to_dicts()}
    assert rows["req-pineapple"]["new"] == "deny" and rows["req-plain-1"]["new"] == "allow"
    for r in rows.values():
        assert r["approximate"] and "v1 body (after input rewrites)" in r["notes"]
        assert "v1 answer (after output guardrails)" in r["notes"]


def test_inside_a_running_event_loop(logged: dict[str, Any]) -> None:
    async def notebook_cell() -> tuple[ReplayResult, ReplayResult]:
        sync = replay(None, POLICY_B, config=logged["cfg"], progress=False)  # loop running
        asynchronous = await areplay(None, POLICY_B, config=logged["cfg"], progress=False)
        return sync, asynchronous

    sync, asynchronous = asyncio.run(notebook_cell())
    assert sync.changed == asynchronous.changed == 8


def test_candidate_forms_and_a_bad_policy(logged: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(POLICY_B_YAML)
    for candidate in (path, str(path), Policy.model_validate(POLICY_B)):
        res = replay(None, candidate, config=logged["cfg"], progress=False, limit=5)
        assert res.policy_id == "policy-b" and res.replayed == 5
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ninput:\n  - name: a\n    validator: no_such_check\n    on_fail: deny\n")
    with pytest.raises(ConfigError) as err:
        replay(None, bad, config=logged["cfg"], progress=False)
    assert f"{bad}:4" in str(err.value)
    with pytest.raises(ConfigError) as err:
        replay(None, bad.read_text(), config=logged["cfg"], progress=False)
    assert "<candidate>:4" in str(err.value)


def test_json_and_html(logged: dict[str, Any], tmp_path: Path) -> None:
    res = replay(None, POLICY_B, config=logged["cfg"], progress=False, workspace="ws-a")
    assert {r["workspace"] for r in res.rows} == {"ws-a"}
    data = json.loads(res.to_json(tmp_path / "r.json"))
    assert data["summary"]["replayed"] == res.replayed
    assert {f["cell"] for f in data["flips"]} == set(res.flips)
    html = res.to_html(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text() == html
    assert "<svg" in html and "http://" not in html and "https://" not in html
    assert "<script src" not in html and "Flip matrix" in html
    assert "Flip matrix" in res._repr_html_()
