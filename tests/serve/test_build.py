"""Graph assembly decisions made in the driver, before Ray starts."""

from __future__ import annotations

import subprocess
import sys

from workbench.config.gateway import parse_config


def test_offline_hub_model_falls_back_to_tiny_and_says_so(wb_home, monkeypatch):
    from serve.app import resolve_local_models

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = parse_config({"models": [{"name": "local", "provider": "local",
                                    "model": "some-org/not-cached-model", "fallback": "tiny"}]})
    notes = resolve_local_models(cfg)
    assert len(notes) == 1 and "WARNING" in notes[0] and "some-org/not-cached-model" in notes[0]
    assert "tiny" in cfg.models[0].model
    assert cfg.models[0].fallback is None


def test_up_with_a_bad_config_fails_fast_with_file_and_line(wb_home, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - name: a\n    provider: echo\n    colour: red\n")
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "up", "--config", str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert f"{bad}:4:" in r.stderr and "unknown key" in r.stderr
    assert "Traceback" not in r.stderr
