"""``workbench guardrails eval`` on a small subset writes a report the workbench can read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.guardrails.ml.evaluate import bipia_set


def test_eval_command_writes_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl

    from workbench.cli.guardrails import guardrails

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "eval.json"
    res = CliRunner().invoke(guardrails, ["eval", "--limit", "20", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "prompt_injection_test" in res.output and "batch of 32" in res.output
    assert "F1 95% CI" in res.output

    report = json.loads(out.read_text())
    assert report["limit"] == 20
    rows = {(r["check"], r["dataset"]): r for r in report["rows"]}
    pi = rows[("prompt_injection", "prompt_injection_test")]
    assert pi["n"] == 20 and 0.0 <= pi["f1"] <= 1.0 and pi["latency_p50_ms"] > 0
    assert pi["f1_low"] <= pi["f1"] <= pi["f1_high"]  # bootstrap CI from the library
    assert pi["fpr_low"] <= pi["fpr"] <= pi["fpr_high"]
    xs = rows[("prompt_injection", "xstest_safe")]
    assert xs["fpr_low"] <= xs["flagged_share"] <= xs["fpr_high"]
    assert ("union(pi+jb+tox)", "xstest_safe") in rows
    assert rows[("prompt_injection", "bipia_email")]["n"] == 40
    assert ("pii_ner", "presidio_heldout:PERSON") in rows
    assert ("pii_ner", "presidio_heldout:STREET_ADDRESS") in rows
    hashes = {d["name"]: d for d in report["datasets"]}
    assert hashes["prompt_injection_test"]["role"] == "eval"
    assert len(hashes["xstest_prompts"]["sha256"]) == 64
    assert set(report["weights"]) == {"prompt_injection", "jailbreak", "toxicity", "pii_ner"}
    lat = report["latency"]
    assert lat["alone_p50_ms"] > 0 and lat["batch32_per_text_p50_ms"] > 0

    table = pl.read_parquet(out.with_suffix(".parquet"))
    assert table.height == len(report["rows"])
    assert {"check", "dataset", "precision", "recall", "f1", "fpr"} <= set(table.columns)


def test_bipia_set_limits_attacks_and_clean_emails() -> None:
    texts, labels, family = bipia_set(limit=6)
    assert labels.count(1) == 6 and labels.count(0) == 6 and len(texts) == 12
    assert set(family) <= {"text", "code", "clean"}
