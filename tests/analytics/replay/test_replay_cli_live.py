"""The ``workbench replay`` CLI, and live re-execution against a fake OpenAI-compatible
server on 127.0.0.1 (cached on disk: a second run calls nothing)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.fake_providers import FakeProviderThread
from tests.analytics.replay._log import POLICY_B_YAML, closed_port, config, record_log, write_log
from workbench.analytics.replay import replay
from workbench.cli import main


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviderThread]:
    with FakeProviderThread("openai") as f:
        yield f


def test_cli_writes_html_and_json(wb_home: Path, tmp_path: Path) -> None:
    cfg_file = tmp_path / "gateway.yaml"
    cfg_file.write_text(
        "models:\n  - {name: echo, provider: echo}\n"
        f"  - {{name: down, provider: openai-compatible, base_url: "
        f'"http://127.0.0.1:{closed_port()}/v1", model: x}}\n'
    )
    records = asyncio.run(record_log(config()))
    write_log(wb_home / "logs", list(records.values()))
    policy = tmp_path / "b.yaml"
    policy.write_text(POLICY_B_YAML)
    out, js = tmp_path / "report.html", tmp_path / "out.json"
    args = ["replay", "--policy", str(policy), "--since", "24h", "--config", str(cfg_file)]
    res = CliRunner().invoke(main, [*args, "--out", str(out), "--json", str(js), "-q"])
    assert res.exit_code == 0, res.output
    assert "replayed 20 requests" in res.output
    assert "allow->deny" in res.output and "redact->deny" in res.output
    assert out.read_text().startswith("<!doctype html>")
    assert json.loads(js.read_text())["summary"]["changed"] == 8
    res = CliRunner().invoke(
        main, [*args, "--workspace", "ws-a", "--limit", "3", "--workers", "1", "-q"]
    )
    assert res.exit_code == 0 and "replayed 3 requests" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nbogus: 1\n")
    res = CliRunner().invoke(main, ["replay", "--policy", str(bad), "--config", str(cfg_file)])
    assert res.exit_code == 2 and f"{bad}:2" in res.output


def test_live_target_is_called_once_then_cached(wb_home: Path, fake: FakeProviderThread) -> None:
    remote = {
        "name": "remote",
        "provider": "openai-compatible",
        "base_url": fake.base_url,
        "model": "fake-model",
    }
    cfg = config([remote])
    records = asyncio.run(record_log(cfg))
    write_log(wb_home / "logs", list(records.values()))
    sql = "SELECT * FROM requests WHERE request_id IN ('req-zebra-out', 'req-kiwi', 'req-plain-1')"
    before = fake.stats()["requests"]
    first = replay(sql, POLICY_B_YAML, config=cfg, live="remote", progress=False)
    calls = fake.stats()["requests"] - before
    assert calls == 3 and first.stats["live_cache"] == {"hits": 0, "calls": 3}
    rows = {r["request_id"]: r for r in first.rows}
    # the fake echoes the request: "describe a striped horse" has no zebra, live says so
    assert rows["req-zebra-out"]["new"] == "allow"
    assert rows["req-kiwi"]["new"] == "fallback"
    second = replay(sql, POLICY_B_YAML, config=cfg, live="remote", progress=False)
    assert fake.stats()["requests"] - before == 3  # nothing called again
    assert second.stats["live_cache"] == {"hits": 3, "calls": 0}
    assert [r["new"] for r in second.rows] == [r["new"] for r in first.rows]
    with pytest.raises(ValueError, match="not a configured model"):
        replay(sql, POLICY_B_YAML, config=cfg, live="nope", progress=False)
