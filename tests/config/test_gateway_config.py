"""The gateway config file: defaults load, and every mistake names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench.config.gateway import default_config_path, load_config
from workbench.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "gw.yaml"
    p.write_text(text)
    return p


def test_default_config_loads():
    cfg = load_config(default_config_path())
    assert {m.provider for m in cfg.models} >= {"local", "embeddings", "echo",
                                                "openai-compatible"}
    assert cfg.gateway.require_auth is True


def test_serve_config_names_the_builder_and_a_loadable_gateway_config():
    root = Path(__file__).resolve().parents[2]
    serve_cfg = yaml.safe_load((root / "serve/config.yaml").read_text())
    app = serve_cfg["applications"][0]
    assert app["import_path"] == "serve.app:build_app"
    # `workbench deploy` writes absolute paths: the project is at /home/ray/llm-workbench
    # on the cluster (ray_cluster.yaml); the same file of this checkout must load
    cluster_path = Path(app["args"]["config"])
    assert cluster_path.is_absolute()
    load_config(root / cluster_path.relative_to("/home/ray/llm-workbench"))


@pytest.mark.parametrize(
    "text, line, needle",
    [
        ("models:\n  - name: a\n    provider: echo\n    colour: red\n", 4, "unknown key"),
        ("models:\n  - name: a\n    provider: nosuch\n", 3, "unknown provider"),
        ("gateway:\n  port: huge\nmodels:\n  - {name: a, provider: echo}\n", 2, "port"),
        ("models:\n  - name: a\n    provider: openai-compatible\n", 2, "base_url"),
        ("models:\n  - {name: a, provider: echo}\n  - {name: a, provider: echo}\n", 1,
         "duplicate"),
        ("models: [\n", None, ""),
    ],
)
def test_errors_name_file_line_and_field(tmp_path, text, line, needle):
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert str(p) in msg
    if line is not None:
        assert f"{p}:{line}:" in msg, msg
    assert needle in msg


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
