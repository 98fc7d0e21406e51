"""The cluster deploy path without Ray: path resolution, clear errors for bad paths, and
ray_cluster.yaml / serve/config.yaml / what ``workbench deploy`` writes agreeing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from workbench.config.deploy import (
    HEAD_RESOURCE,
    HEAD_RESOURCE_ENV,
    ClusterLayout,
    resolve_gateway_config,
    serve_config,
)
from workbench.config.gateway import default_config_path, load_config
from workbench.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
WORKBENCH = [sys.executable, "-m", "workbench.cli"]


def _project(tmp: Path, pricing: str = "conf/prices.yaml") -> Path:
    """A project with a gateway config naming four relative paths."""
    proj = tmp / "proj"
    (proj / "conf").mkdir(parents=True)
    (proj / "secrets").mkdir()
    (proj / "models" / "mine").mkdir(parents=True)
    shutil.copy(default_config_path().with_name("prices.yaml"), proj / "conf" / "prices.yaml")
    (proj / "secrets" / "up.key").write_text("sk-test\n")
    (proj / "conf" / "gw.yaml").write_text(
        f"pricing: {pricing}\n"
        "logging: {dir: lake}\n"
        "models:\n"
        "  - {name: echo, provider: echo}\n"
        "  - {name: up, provider: openai-compatible, base_url: 'http://127.0.0.1:9/v1',\n"
        "     model: m, api_key_file: secrets/up.key}\n"
        "  - {name: mine, provider: local, model: ./models/mine}\n"
        "  - {name: hub, provider: local, model: Qwen/Qwen2.5-0.5B-Instruct}\n"
    )
    return proj


def test_paths_resolve_against_the_project_not_the_cwd(
    tmp_path: Path, wb_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = resolve_gateway_config("conf/gw.yaml", proj)
    assert res.source == proj / "conf" / "gw.yaml"
    assert res.data["pricing"] == str(proj / "conf" / "prices.yaml")
    assert res.data["logging"]["dir"] == str(proj / "lake")
    models = {m["name"]: m for m in res.data["models"]}
    assert models["up"]["api_key_file"] == str(proj / "secrets" / "up.key")
    assert models["mine"]["model"] == str(proj / "models" / "mine")
    assert models["hub"]["model"] == "Qwen/Qwen2.5-0.5B-Instruct"  # a hub id, not a path
    assert res.config.pricing == str(proj / "conf" / "prices.yaml")


def test_a_bad_path_is_a_clear_error_naming_the_field(tmp_path: Path, wb_home: Path) -> None:
    proj = _project(tmp_path, pricing="conf/missing.yaml")
    with pytest.raises(ConfigError) as err:
        resolve_gateway_config("conf/gw.yaml", proj)
    assert err.value.field == "pricing"
    assert str(proj / "conf" / "missing.yaml") in str(err.value)
    assert str(proj / "conf" / "gw.yaml") in str(err.value)
    with pytest.raises(ConfigError, match="--config: file not found"):
        resolve_gateway_config("conf/nope.yaml", proj)


def test_cli_refuses_a_bad_path_before_starting_anything(tmp_path: Path, wb_home: Path) -> None:
    proj = _project(tmp_path, pricing="conf/missing.yaml")
    out = tmp_path / "serve.yaml"
    cmd = [*WORKBENCH, "deploy", "--project", str(proj), "--config", "conf/gw.yaml"]
    # No --dry-run and an address nothing listens on: the path check must come first.
    cmd += ["--address", "127.0.0.1:9", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "pricing: file not found" in proc.stderr
    assert str(proj / "conf" / "missing.yaml") in proc.stderr
    assert not out.exists()


def _cluster() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "ray_cluster.yaml").read_text())
    return data


def _exports(command: str) -> dict[str, str]:
    return dict(re.findall(r"\b([A-Z][A-Z0-9_]+)=(\S+?);?(?=\s|$)", command))


def _dry_run(tmp_path: Path, home: Path) -> dict[str, Any]:
    from click.testing import CliRunner

    from workbench.cli import main

    out = tmp_path / "written.yaml"
    args = ["--home", str(home), "deploy", "--dry-run", "--project", str(ROOT)]
    args += ["--config", "workbench/config/default.yaml", "--ingress-replicas", "2"]
    args += ["--log-dir", str(tmp_path / "lake"), "--host", "0.0.0.0", "--out", str(out)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written: dict[str, Any] = yaml.safe_load(out.read_text())
    return written


def test_ray_cluster_yaml_is_valid_for_the_launcher() -> None:
    import jsonschema
    import ray

    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    jsonschema.validate(_cluster(), schema)


def test_written_serve_config_agrees_with_ray_cluster_yaml(tmp_path: Path, wb_home: Path) -> None:
    from ray.serve.schema import ServeDeploySchema

    cluster = _cluster()
    written = _dry_run(tmp_path, wb_home)
    ServeDeploySchema.model_validate(written)  # a valid `serve deploy` file
    app = written["applications"][0]
    deployments = {d["name"]: d for d in app["deployments"]}
    assert deployments["Gateway"] == {"name": "Gateway", "max_replicas_per_node": 1,
                                      "num_replicas": 2}  # fmt: skip
    # resources: what the Serve config pins to, the head declares and no worker type does
    head_type = cluster["available_node_types"][cluster["head_node_type"]]
    pinned = deployments["LogSink"]["ray_actor_options"]["resources"]
    assert set(pinned) == {HEAD_RESOURCE} == {app["runtime_env"]["env_vars"][HEAD_RESOURCE_ENV]}
    for name, amount in pinned.items():
        assert head_type["resources"][name] >= amount
        for type_name, node_type in cluster["available_node_types"].items():
            if type_name != cluster["head_node_type"]:
                assert name not in node_type["resources"], type_name
    # paths: all absolute, the gateway config written next to it, the home the CLI used
    assert Path(app["args"]["config"]).is_absolute() and Path(app["args"]["config"]).is_file()
    assert app["args"]["home"] == str(wb_home) == app["runtime_env"]["env_vars"]["WORKBENCH_HOME"]
    gw = yaml.safe_load(Path(app["args"]["config"]).read_text())
    assert gw["logging"]["dir"] == str(tmp_path / "lake")
    assert app["runtime_env"]["env_vars"]["WORKBENCH_LOG_DIR"] == str(tmp_path / "lake")
    assert gw["gateway"]["ingress_replicas"] == 2
    # binding: HAProxy's side ports bind the host the deploy names
    assert app["runtime_env"]["env_vars"]["WORKBENCH_BIND_HOST"] == "0.0.0.0"
    assert written["http_options"]["host"] == "0.0.0.0"


def test_ray_cluster_yaml_auth_env_and_ports_agree_with_serve_config() -> None:
    cluster = _cluster()
    checked_in = yaml.safe_load((ROOT / "serve" / "config.yaml").read_text())
    env = checked_in["applications"][0]["runtime_env"]["env_vars"]
    head_cmd = " ".join(cluster["head_start_ray_commands"])
    worker_cmd = " ".join(cluster["worker_start_ray_commands"])
    for command in (head_cmd, worker_cmd):
        exported = _exports(command)
        assert exported["RAY_AUTH_MODE"] == "token"  # every node joins with the token
        assert exported["WORKBENCH_LOG_DIR"] == env["WORKBENCH_LOG_DIR"]
        assert exported["WORKBENCH_HOME"].replace("$HOME", "/home/ray") == env["WORKBENCH_HOME"]
    assert "~/.ray/auth_token" in cluster["file_mounts"]
    assert "--dashboard-host=127.0.0.1" in head_cmd
    # the project lands at ~/llm-workbench: serve/config.yaml's gateway config is in it
    project = "/home/ray/" + next(k for k, v in cluster["file_mounts"].items() if v == ".")[2:]
    config = checked_in["applications"][0]["args"]["config"]
    assert config.startswith(project + "/") and (ROOT / config[len(project) + 1 :]).is_file()
    # ports: the gateway's port is none of the ports Ray and HAProxy take on a node
    ray_ports = {int(p) for p in re.findall(r"--(?:port|object-manager-port)=(\d+)", head_cmd)}
    ray_ports |= {8265, 8404, 9101, 8500}  # dashboard; HAProxy stats, metrics, fallback
    assert ray_ports >= {6379, 8076}
    assert checked_in["http_options"]["port"] not in ray_ports


def test_checked_in_serve_config_is_what_deploy_writes_for_the_cluster() -> None:
    from workbench.cli.deploy import HOOK, job_env

    checked_in = yaml.safe_load((ROOT / "serve" / "config.yaml").read_text())
    app = checked_in["applications"][0]
    cfg = load_config(ROOT / "workbench" / "config" / "default.yaml")
    cfg.logging.dir = app["runtime_env"]["env_vars"]["WORKBENCH_LOG_DIR"]
    layout = ClusterLayout(home=app["args"]["home"], ingress_replicas=2, host="0.0.0.0")
    expected = serve_config(app["args"]["config"], cfg, layout)
    expected["applications"][0]["runtime_env"]["env_vars"].update(job_env(True, "0.0.0.0"))
    expected["applications"][0]["runtime_env"]["worker_process_setup_hook"] = HOOK
    assert checked_in == expected


def test_autoscaled_ingress_is_a_valid_serve_config(tmp_path: Path, wb_home: Path) -> None:
    from ray.serve.schema import ServeDeploySchema

    from workbench.config.deploy import layout_data

    res = resolve_gateway_config("workbench/config/default.yaml", ROOT)
    auto = {"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 32}
    layout = ClusterLayout(home=str(wb_home), autoscaling=auto)
    conf = serve_config(tmp_path / "gw.yaml", res.config, layout)
    ServeDeploySchema.model_validate(conf)
    ingress = conf["applications"][0]["deployments"][0]
    assert ingress["num_replicas"] == "auto" and ingress["autoscaling_config"] == auto
    assert ingress["max_replicas_per_node"] == 1
    assert layout_data(res, layout)["gateway"]["ingress_replicas"] == 4  # shared state
