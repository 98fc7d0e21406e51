"""ray_cluster.yaml is a valid Ray cluster-launcher config with a GPU worker type."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

jsonschema = pytest.importorskip("jsonschema")

CONFIG = Path(__file__).resolve().parents[1] / "ray_cluster.yaml"


def _ray_schema() -> dict[str, Any]:
    spec = importlib.util.find_spec("ray")
    if spec is None or spec.origin is None:
        pytest.skip("ray is not installed")
    path = Path(spec.origin).parent / "autoscaler" / "ray-schema.json"
    assert path.exists(), f"ray wheel has no cluster schema at {path}"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded = yaml.safe_load(CONFIG.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_validates_against_ray_schema(config: dict[str, Any]) -> None:
    jsonschema.validate(instance=config, schema=_ray_schema())


def test_ray_accepts_it(config: dict[str, Any]) -> None:
    """Ray's own checks (defaults filled in, head type exists, worker bounds) pass."""
    try:
        from ray.autoscaler._private.util import prepare_config, validate_config
    except ImportError:  # pragma: no cover - private API moved
        pytest.skip("ray's private config helpers are not available")
    validate_config(prepare_config(json.loads(json.dumps(config))))


def test_node_types(config: dict[str, Any]) -> None:
    types = config["available_node_types"]
    head = config["head_node_type"]
    assert head in types
    workers = {name: t for name, t in types.items() if name != head}
    gpu = [name for name, t in workers.items() if t["resources"].get("GPU", 0) >= 1]
    cpu = [name for name, t in workers.items() if not t["resources"].get("GPU")]
    assert gpu, "no GPU worker type"
    assert cpu, "no CPU worker type"
    for name in gpu + cpu:
        t = workers[name]
        assert 0 <= t["min_workers"] <= t["max_workers"] <= config["max_workers"], name
    assert "GPU" not in types[head]["resources"]


def test_commands_install_the_project_and_start_ray(config: dict[str, Any]) -> None:
    setup = " ".join(config["setup_commands"])
    assert "pip install" in setup and "llm-workbench" in setup
    assert "~/llm-workbench" in config["file_mounts"]
    head_start = " ".join(config["head_start_ray_commands"])
    worker_start = " ".join(config["worker_start_ray_commands"])
    assert "ray start --head" in head_start
    assert "ray start --address=$RAY_HEAD_IP:6379" in worker_start
    for start in (head_start, worker_start):
        assert "WORKBENCH_LOG_DIR=" in start


def test_documents_how_to_deploy() -> None:
    text = CONFIG.read_text()
    assert "ray up ray_cluster.yaml" in text
    assert "workbench deploy" in text  # the one documented way (README "Scale-out")
    assert "WORKBENCH_LOG_DIR" in text and "shared storage" in text
