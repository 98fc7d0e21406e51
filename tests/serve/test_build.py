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


def test_model_replicas_autoscale_between_the_targets_bounds():
    """``models[].autoscaling`` becomes the model deployment's Serve autoscaling config
    (num_replicas "auto"); without it, the fixed ``num_replicas``."""
    import pytest

    from serve.app import replica_count
    from serve.replica import ModelReplica

    cfg = parse_config({"models": [
        {"name": "fixed", "provider": "local", "model": "tiny", "num_replicas": 2},
        {"name": "scaled", "provider": "local", "model": "tiny",
         "autoscaling": {"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 3,
                         "upscale_delay_s": 2, "downscale_delay_s": 10}},
    ]})  # fmt: skip
    fixed, scaled = cfg.models
    assert replica_count(fixed) == {"num_replicas": 2}
    dep = ModelReplica.options(name="model-scaled", **replica_count(scaled))
    auto = dep._deployment_config.autoscaling_config
    assert (auto.min_replicas, auto.max_replicas) == (1, 4)
    assert auto.target_ongoing_requests == 3
    assert (auto.upscale_delay_s, auto.downscale_delay_s) == (2, 10)
    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match="exceeds max_replicas"):
        parse_config({"models": [{"name": "x", "provider": "local", "model": "tiny",
                                  "autoscaling": {"min_replicas": 5, "max_replicas": 2}}]})
