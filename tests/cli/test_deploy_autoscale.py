"""``workbench deploy --autoscale MIN:MAX --autoscale-option KEY=VALUE`` (dry run, no Ray):
the options reach the ingress's ``autoscaling_config`` in the written Serve config, and a
bad key or value is a usage error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]


def _deploy(tmp_path: Path, home: Path, *extra: str) -> tuple[int, str, Path]:
    from workbench.cli import main

    out = tmp_path / "serve.yaml"
    args = ["--home", str(home), "deploy", "--dry-run", "--project", str(ROOT)]
    args += ["--config", "workbench/config/default.yaml", "--log-dir", str(tmp_path / "lake")]
    args += ["--out", str(out), *extra]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.output, out


def test_autoscale_options_reach_the_ingress_autoscaling_config(
    tmp_path: Path, wb_home: Path
) -> None:
    from ray.serve.schema import ServeDeploySchema

    opts = ["--autoscale", "1:4", "--max-ingress-per-node", "4"]
    for kv in ("target_ongoing_requests=4", "upscale_delay_s=2", "downscale_delay_s=8",
               "look_back_period_s=4", "metrics_interval_s=0.5"):  # fmt: skip
        opts += ["--autoscale-option", kv]
    code, output, out = _deploy(tmp_path, wb_home, *opts)
    assert code == 0, output
    written: dict[str, Any] = yaml.safe_load(out.read_text())
    ServeDeploySchema.model_validate(written)  # Serve accepts it
    ingress = written["applications"][0]["deployments"][0]
    assert ingress["num_replicas"] == "auto"
    assert ingress["max_replicas_per_node"] == 4
    assert ingress["autoscaling_config"] == {
        "min_replicas": 1,
        "max_replicas": 4,
        "target_ongoing_requests": 4.0,
        "upscale_delay_s": 2.0,
        "downscale_delay_s": 8.0,
        "look_back_period_s": 4.0,
        "metrics_interval_s": 0.5,
    }


def test_autoscale_defaults_unchanged_without_options(tmp_path: Path, wb_home: Path) -> None:
    code, output, out = _deploy(tmp_path, wb_home, "--autoscale", "2:3")
    assert code == 0, output
    ingress = yaml.safe_load(out.read_text())["applications"][0]["deployments"][0]
    assert ingress["autoscaling_config"] == {
        "min_replicas": 2,
        "max_replicas": 3,
        "target_ongoing_requests": 32,
    }


def test_bad_autoscale_options_are_usage_errors(tmp_path: Path, wb_home: Path) -> None:
    cases = [
        (["--autoscale", "1:4", "--autoscale-option", "upscale_delay=2"], "upscale_delay"),
        (["--autoscale", "1:4", "--autoscale-option", "upscale_delay_s=soon"], "not a number"),
        (["--autoscale", "1:4", "--autoscale-option", "downscale_delay_s=0"], "must be > 0"),
        (["--autoscale-option", "upscale_delay_s=2"], "needs --autoscale"),
    ]
    for extra, message in cases:
        code, output, out = _deploy(tmp_path, wb_home, *extra)
        assert code == 2, output
        assert message in output
        assert not out.exists()
