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


# ---------------------------------------------------------------- eval --policy
REGEX_POLICY = """\
id: regex-only
input:
  - name: no-ignore
    validator: regex_deny
    params: {patterns: ["(?i)\\\\bignore\\\\b"]}
    on_fail: deny
"""
REGEX_POLICY_B = REGEX_POLICY.replace("regex-only", "regex-wide").replace(
    "\\\\bignore\\\\b", "ignor|vergiss|forget"
)


DEFAULT_POLICY = str(Path(__file__).resolve().parents[2] / "policies" / "default.yaml")


def _policy(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_eval_policy_writes_json_parquet_and_html(wb_home: Path, tmp_path: Path) -> None:
    import json

    import polars as pl

    pol = _policy(tmp_path, "p.yaml", REGEX_POLICY)
    html = tmp_path / "r.html"
    args = ["guardrails", "eval", "--policy", str(pol), "--dataset", "prompt_injection_test"]
    args += ["--dataset", "xstest_safe", "--limit", "20", "--html", str(html), "--no-progress"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = wb_home / "guardrails" / "policy-eval.json"
    report = json.loads(out.read_text())
    assert [d["name"] for d in report["datasets"]] == ["prompt_injection_test", "xstest_safe"]
    assert {d["role"] for d in report["datasets"]} == {"eval"}
    rows = {(m["dataset"], m["check"]): m for m in report["metrics"]}
    pi = rows[("prompt_injection_test", "(policy)")]
    assert pi["n"] == 20 and pi["tp"] + pi["fp"] + pi["fn"] + pi["tn"] == 20
    assert rows[("xstest_safe", "(policy)")]["support"] == 0
    assert ("(all)", "no-ignore") in rows
    assert "s/item" in result.output and "PRECISION" in result.output
    assert pl.read_parquet(out.with_suffix(".parquet")).height == len(report["metrics"])
    assert f"{pi['recall']:.3f}" in html.read_text()


def test_eval_policy_compare(wb_home: Path, tmp_path: Path) -> None:
    import json

    a = _policy(tmp_path, "a.yaml", REGEX_POLICY)
    b = _policy(tmp_path, "b.yaml", REGEX_POLICY_B)
    out = tmp_path / "cmp.json"
    args = ["guardrails", "eval", "--policy", str(a), "--compare", str(b), "--limit", "30"]
    args += ["--dataset", "prompt_injection_test", "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["a"]["policy"] == "regex-only" and report["b"]["policy"] == "regex-wide"
    recall = next(
        d for d in report["deltas"] if d["check"] == "(policy)" and d["metric"] == "recall"
    )
    assert recall["delta"] >= 0 and recall["low"] <= recall["delta"] <= recall["high"]
    assert "B - A" in result.output and "decided differently" in result.output


def test_eval_policy_default_policy_with_ml_checks(wb_home: Path) -> None:
    import json

    args = ["guardrails", "eval", "--policy", DEFAULT_POLICY, "--limit", "12"]
    args += ["--dataset", "prompt_injection_test", "--no-progress"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((wb_home / "guardrails" / "policy-eval.json").read_text())
    lat = {r["check"]: r for r in report["latency"]}
    assert lat["prompt-injection"]["n"] == 12 and lat["jailbreak"]["n"] == 12
    assert "prompt-injection-in-context" not in lat  # reads system/assistant roles only
    assert report["timing"]["ml_scoring_s"] > 0


def test_eval_flags_that_need_a_policy(wb_home: Path) -> None:
    for extra in (["--compare", DEFAULT_POLICY], ["--dataset", "xstest_safe"]):
        result = CliRunner().invoke(main, ["guardrails", "eval", *extra])
        assert result.exit_code == 2 and "needs --policy" in result.output
    bad = ["guardrails", "eval", "--policy", DEFAULT_POLICY, "--dataset", "nope"]
    result = CliRunner().invoke(main, bad)
    assert result.exit_code == 2 and "unknown nope" in result.output
