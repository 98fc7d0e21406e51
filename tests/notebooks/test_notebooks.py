"""The notebooks in notebooks/ run top to bottom with papermill (the venv's python3
kernel) on a fresh home: each fills the empty lake with demo traffic, and writes a JSON
summary of what it found to ``output_path``, which these tests check. A failing cell
fails the test (papermill raises PapermillExecutionError with the cell's traceback)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm

from workbench.policy import PolicyStore

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def run(name: str, home: Path, tmp: Path, **params: Any) -> tuple[dict[str, Any], Any]:
    """Execute ``notebooks/<name>.ipynb``; return its summary and the executed notebook."""
    out, summary = tmp / f"{name}.out.ipynb", tmp / f"{name}.json"
    pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"), str(out), kernel_name="python3", cwd=str(tmp),
        parameters={"home": str(home), "output_path": str(summary), **params},
        progress_bar=False,
    )  # fmt: skip
    return json.loads(summary.read_text()), nbformat.read(str(out), as_version=4)


def _pngs(nb: Any) -> list[bytes]:
    return [base64.b64decode(o["data"]["image/png"]) for c in nb.cells
            for o in c.get("outputs", []) if "image/png" in o.get("data", {})]  # fmt: skip


def test_getting_started(wb_home: Path, tmp_path: Path) -> None:
    summary, nb = run("getting_started", wb_home, tmp_path)
    assert summary["created_demo"] is True
    assert summary["requests"] > 1000  # 3 days at ~60 requests/h
    assert summary["replayed"] > 0
    assert summary["eval_items"] == 40
    assert set(summary["spend_workspaces"]) == {
        "acme-support", "acme-search", "data-science", "legal", "marketing",
    }  # fmt: skip
    assert summary["spend_usd"] > 0
    assert any(p.startswith(b"\x89PNG") for p in _pngs(nb))  # the static traffic chart


def test_anomaly_investigation(wb_home: Path, tmp_path: Path) -> None:
    summary, nb = run("anomaly_investigation", wb_home, tmp_path)
    assert summary["created_demo"] is True
    # the injected spike (data-science, x8, from 6 h ago for 3 h) is found where it was
    # injected; the most severe anomaly is investigated (with demo traffic ending now, that
    # can be another series, e.g. a small model's p95 pooled over the spike's hours)
    spike = "requests of workspace=data-science"
    assert spike in summary["found"]
    start = datetime.fromisoformat(summary["starts"][spike])
    now = datetime.now(UTC)
    assert now - timedelta(hours=8) <= start <= now - timedelta(hours=2), summary["starts"]
    top = summary["top"]
    assert (
        top["severity"] == "critical" and f"{top['metric']} of {top['series']}" in summary["found"]
    ), top
    assert summary["band_points"] > 24
    assert summary["drill_rows"] == 20
    assert _pngs(nb)  # the series with its band


def test_policy_authoring_publishes_only_when_asked(wb_home: Path, tmp_path: Path) -> None:
    params = nbformat.read(str(NOTEBOOKS / "policy_authoring.ipynb"), as_version=4)
    cell = next(c for c in params.cells if "parameters" in c.metadata.get("tags", []))
    assert re.search(r"^publish = False\b", cell.source, re.M)  # the default: no publish

    summary, _ = run("policy_authoring", wb_home, tmp_path, publish=True)
    assert summary["created_demo"] is True
    assert len(summary["typo_errors"]) == 1
    assert re.match(r".*candidate-typo\.yaml:\d+: input\.1\.on_fial: unknown key",
                    summary["typo_errors"][0])  # fmt: skip
    assert summary["valid"] is True
    assert summary["replayed"] > 0
    assert summary["compared_items"] == 40
    assert summary["published"] == "default@v1"
    live = PolicyStore(wb_home / "policies").live_version("default")
    assert live is not None and live.version_id == "default@v1"
    assert (tmp_path / "candidate.yaml").read_text().startswith("id: default")
