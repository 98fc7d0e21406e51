"""``workbench guardrails train`` writes under $WORKBENCH_HOME by default, never into the
installed package's committed weights.

The fit itself (MiniLM features, minutes) is replaced by a fixed head: what is under test
is where the real ``save_head`` puts the files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.guardrails.ml import train as train_mod
from workbench.guardrails.ml.heads import WEIGHTS_DIR, TextHead, load_head
from workbench.guardrails.ml.recipes import TextRecipe


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture
def quick_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    def fit(recipe: TextRecipe, featurizer: Any) -> tuple[TextHead, dict[str, Any]]:
        head = TextHead(name=recipe.name, emb_coef=np.full(4, 0.5), intercept=-1.0, threshold=0.7)
        return head, {
            "name": recipe.name,
            "kind": "text_head",
            "threshold": 0.7,
            "recipe": {"features": {}},
            "metrics": {"cv": {"auc": 0.9}},
        }

    monkeypatch.setattr(train_mod, "train_text_head", fit)
    monkeypatch.setattr(train_mod.Featurizer, "load", staticmethod(lambda **kw: object()))


def test_default_out_dir_is_under_workbench_home(wb_home: Path) -> None:
    assert train_mod.default_out_dir() == wb_home.resolve() / "guardrails" / "weights"


def test_train_writes_to_workbench_home_not_the_package(wb_home: Path, quick_fit: None) -> None:
    committed = _digest(WEIGHTS_DIR)
    result = CliRunner().invoke(
        main, ["guardrails", "train", "--check", "toxicity"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    out = wb_home.resolve() / "guardrails" / "weights"
    assert f"toxicity\t{out / 'toxicity.json'}" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["toxicity.json", "toxicity.npz"]
    head = load_head("toxicity", out)
    assert isinstance(head, TextHead) and head.threshold == 0.7
    assert _digest(WEIGHTS_DIR) == committed


def test_train_out_option_still_wins(wb_home: Path, quick_fit: None, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    result = CliRunner().invoke(
        main, ["guardrails", "train", "--check", "jailbreak", "--out", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert (target / "jailbreak.json").is_file()
    assert not (wb_home / "guardrails").exists()
