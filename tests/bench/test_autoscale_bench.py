"""bench.autoscale's two modes: what it deploys (no cluster started here)."""

from __future__ import annotations

from bench import autoscale
from workbench.config.gateway import parse_config


def test_ingress_mode_autoscales_the_ingress_only() -> None:
    a = autoscale._parse(["--max", "3"])
    options, args = autoscale._deploy_options(a)
    assert args[:4] == ["--autoscale", "1:3", "--max-ingress-per-node", "3"]
    assert "--autoscale-option" in args
    assert autoscale._local_model(a, options) == []


def test_model_mode_gives_the_local_model_the_autoscaling_config() -> None:
    a = autoscale._parse(["--scale", "model", "--max", "3", "--option", "upscale_delay_s=1"])
    options, args = autoscale._deploy_options(a)
    assert args == []  # the ingress keeps one replica
    (model,) = autoscale._local_model(a, options)
    cfg = parse_config({"models": [model]})  # a valid gateway config entry
    scale = cfg.models[0].autoscaling
    assert scale is not None and (scale.min_replicas, scale.max_replicas) == (1, 3)
    assert scale.upscale_delay_s == 1.0
    assert scale.target_ongoing_requests == float(autoscale.OPTIONS["target_ongoing_requests"])
