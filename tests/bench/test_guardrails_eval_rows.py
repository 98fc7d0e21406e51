"""bench.guardrails_eval's building blocks on tiny known inputs (no model is loaded)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench import _guardrails_rows as rows
from bench._guardrails_old import OLD_REV, WEIGHTS, OldWeightsError, extract_weights
from bench._guardrails_quality import ml_entries, policy_entries
from bench._guardrails_sets import EvalSets


def _by(entries: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["config"], e["row"]): e for e in entries}


def test_detection_share_and_policy_shares_known_answers() -> None:
    # 4 injections, 4 benign; flagged at 0.5: tp 3, fn 1, fp 1, tn 3
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.7, 0.1, 0.6, 0.2, 0.3, 0.0]
    got = _by(rows.detection("NEW fp32", y, s, 0.5))
    assert got[("NEW fp32", "pi_precision")]["value"] == pytest.approx(0.75)
    assert got[("NEW fp32", "pi_recall")]["value"] == pytest.approx(0.75)
    f1 = got[("NEW fp32", "pi_f1")]
    assert f1["value"] == pytest.approx(0.75) and f1["n"] == 8
    assert f1["low"] <= 0.75 <= f1["high"] and f1["low"] < f1["high"]
    sh = rows.share("OLD", "jb_recall", [True, True, True, False])
    assert sh["value"] == pytest.approx(0.75) and sh["n"] == 4
    assert rows.flagged([0.2, 0.5, 0.7], 0.5) == [False, True, True]
    pol = _by(rows.policy_shares("OLD", "xstest", ["allow", "deny", "redact", "flag", "allow"]))
    assert pol[("OLD", "xstest_denied")]["value"] == pytest.approx(0.2)
    assert pol[("OLD", "xstest_touched")]["value"] == pytest.approx(0.6)
    with pytest.raises(KeyError):
        rows.entry("OLD", "no_such_row", 1.0)


def test_status_targets_and_relative_throughput() -> None:
    f1 = rows.SPECS["pi_f1"]
    assert rows.status(0.95, f1) == "MET" and rows.status(0.949, f1) == "MISSED"
    clean = rows.SPECS["clean_flagged"]
    assert rows.status(0.03, clean) == "MET" and rows.status(0.031, clean) == "MISSED"
    rate = rows.SPECS["batch32_texts_per_s"]
    assert rows.status(200.0, rate, old=100.0) == "MET"
    assert rows.status(199.0, rate, old=100.0) == "MISSED"
    assert rows.status(500.0, rate, old=None) == ""
    assert rows.status(0.5, rows.SPECS["pi_recall"]) == ""  # no target
    assert rows.status(float("nan"), f1) == ""


def test_pivot_puts_configs_side_by_side_and_marks_the_new_ones() -> None:
    entries = [
        rows.entry("OLD", "batch32_texts_per_s", 100.0, 128),
        rows.entry("NEW fp32", "batch32_texts_per_s", 150.0, 128),
        rows.entry("NEW int8", "batch32_texts_per_s", 250.0, 128),
        rows.entry("OLD", "pi_f1", 0.87, 116, (0.8, 0.92)),
        rows.entry("NEW fp32", "pi_f1", 0.96, 116, (0.93, 0.99)),
        rows.entry("NEW int8", "pi_f1", 0.94, 116, (0.9, 0.97)),
    ]
    table = rows.pivot(entries)
    assert [r["row"] for r in table] == ["pi_f1", "batch32_texts_per_s"]  # SPECS order
    f1 = table[0]
    assert f1["cells"]["OLD"] == "0.870 [0.80, 0.92]" and f1["target"] == ">= 0.95"
    assert f1["status"] == {"NEW fp32": "MET", "NEW int8": "MISSED"}
    assert table[1]["status"] == {"NEW fp32": "MISSED", "NEW int8": "MET"}
    assert table[1]["target"] == ">= 2x OLD"
    md = rows.markdown(table).splitlines()
    assert md[0].startswith("| row | n | OLD | NEW fp32 | NEW int8 | target |")
    assert md[2] == (
        "| prompt injection, deepset test: F1 | 116 | 0.870 [0.80, 0.92] | 0.960 [0.93, 0.99] "
        "| 0.940 [0.90, 0.97] | >= 0.95 | MET / MISSED |"
    )
    assert "MISSED / MET" in rows.text(table)


class _Fixed:
    """A scorer whose scores are looked up in a table (texts not in it score 0)."""

    def __init__(self, table: dict[str, float], thr: float = 0.5) -> None:
        self.table, self.thr, self.cleared = table, thr, 0

    def score(self, classifier: str, texts: list[str]) -> list[float]:
        return [self.table.get(f"{classifier}:{t}", 0.0) for t in texts]

    def threshold(self, classifier: str) -> float:
        return self.thr

    def clear_cache(self) -> None:
        self.cleared += 1


def test_ml_entries_known_answers_per_configuration() -> None:
    sets = EvalSets(
        deepset=(["a", "b", "c", "d"], [1, 1, 0, 0]),
        bipia_attacks={"text": ["t1", "t2"], "code": ["c1", "c2"]},
        spikee_injected=["s1", "s2", "s3", "s4"],
        clean_contexts={"bipia_email_test": ["e1", "e2"], "bipia_code_test": ["k1"]},
        jailbreaks=["j1", "j2"],
    )
    old = _Fixed({"prompt_injection:a": 0.9, "prompt_injection:c": 0.9, "jailbreak:j1": 0.7})
    new = _Fixed(
        {
            **{f"prompt_injection:{t}": 0.9 for t in ["a", "b", "t1", "t2", "c1", "s1", "s2"]},
            "prompt_injection:s3": 0.6,
            "prompt_injection:e2": 0.8,
            "jailbreak:j1": 0.7,
            "jailbreak:j2": 0.5,  # >= threshold counts
        }
    )
    forgot: list[int] = []
    got = _by(ml_entries({"OLD": old, "NEW fp32": new}, sets, lambda: forgot.append(1)))  # type: ignore[dict-item]
    assert got[("OLD", "pi_f1")]["value"] == pytest.approx(0.5)  # tp 1, fp 1, fn 1
    assert got[("NEW fp32", "pi_f1")]["value"] == pytest.approx(1.0)
    assert got[("OLD", "indirect_bipia")]["value"] == 0.0
    assert got[("NEW fp32", "indirect_bipia_text")]["value"] == 1.0
    assert got[("NEW fp32", "indirect_bipia_code")]["value"] == 0.5
    assert got[("NEW fp32", "indirect_bipia")]["value"] == pytest.approx(0.75)
    assert got[("NEW fp32", "indirect_bipia")]["n"] == 4
    assert got[("NEW fp32", "indirect_spikee")]["value"] == pytest.approx(0.75)
    assert got[("NEW fp32", "clean_bipia_email_test")]["value"] == pytest.approx(0.5)
    assert got[("NEW fp32", "clean_flagged")]["value"] == pytest.approx(1 / 3)
    assert got[("OLD", "jb_recall")]["value"] == 0.5
    assert got[("NEW fp32", "jb_recall")]["value"] == 1.0
    assert len(forgot) == 5 and old.cleared == new.cleared == 4  # the memo dropped per set


def test_policy_entries_split_notinject_and_count_touched() -> None:
    decisions = {
        "xstest_safe": ["allow", "redact", "allow", "allow"],
        "notinject": ["deny", "allow", "flag", "allow", "allow", "deny"],
        "notinject_one": ["deny", "allow"],
        "notinject_two": ["flag", "allow"],
        "notinject_three": ["allow", "deny"],
        "wildguard_benign": ["allow", "deny"],
    }
    got = _by(policy_entries("NEW int8", decisions))
    assert got[("NEW int8", "xstest_denied")]["value"] == 0.0
    assert got[("NEW int8", "xstest_touched")]["value"] == 0.25
    assert got[("NEW int8", "notinject_one_denied")]["value"] == 0.5
    assert got[("NEW int8", "notinject_two_denied")]["value"] == 0.0  # a flag is not a denial
    assert got[("NEW int8", "notinject_touched")]["value"] == 0.5
    assert got[("NEW int8", "wildguard_denied")]["value"] == 0.5
    assert ("NEW int8", "notinject_one_touched") not in got


def test_old_weights_are_extracted_from_git(tmp_path: Path) -> None:
    paths = extract_weights(tmp_path / "old")
    names = {p.name for p in paths}
    assert {"prompt_injection.json", "prompt_injection.npz", "jailbreak.npz"} <= names
    manifest = json.loads((tmp_path / "old" / "prompt_injection.json").read_text())
    blob = (tmp_path / "old" / "prompt_injection.npz").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == manifest["weights"]["sha256"]
    committed = subprocess.run(
        ["git", "show", f"{OLD_REV}:{WEIGHTS}/prompt_injection.npz"],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert blob == committed
    with pytest.raises(OldWeightsError, match="failed"):
        extract_weights(tmp_path / "none", rev="0" * 40)


def test_jailbreak_sample_is_seeded_and_keeps_order() -> None:
    from bench._guardrails_sets import sample

    items = [f"p{i}" for i in range(50)]
    a, b = sample(items, 10), sample(items, 10)
    assert a == b and len(set(a)) == 10
    assert a == sorted(a, key=items.index)  # original order
    assert sample(items, 10, seed=1) != a
    assert sample(items, None) == items and sample(items, 80) == items


def test_int8_holds_only_inside_the_fp32_interval_and_without_losing_a_target() -> None:
    base = [
        rows.entry("NEW fp32", "pi_f1", 0.96, 116, (0.93, 0.99)),
        rows.entry("NEW fp32", "jb_recall", 0.92, 300, (0.89, 0.95)),
        rows.entry("NEW fp32", "policy_p50_ms", 9.0, 64),  # no interval: not accuracy
    ]
    inside = [
        rows.entry("NEW int8", "pi_f1", 0.955, 116, (0.9, 0.99)),
        rows.entry("NEW int8", "jb_recall", 0.90, 300, (0.86, 0.93)),
        rows.entry("NEW int8", "policy_p50_ms", 50.0, 64),
    ]
    assert rows.holds(base + inside) == (True, [])
    lost = [*inside[:1], rows.entry("NEW int8", "jb_recall", 0.895, 300, (0.86, 0.93))]
    ok, why = rows.holds(base + lost)
    assert not ok and why == ["jb_recall: NEW fp32 meets the target, NEW int8 misses it"]
    out = [rows.entry("NEW int8", "pi_f1", 0.92, 116, (0.88, 0.95)), *inside[1:]]
    ok, why = rows.holds(base + out)
    assert not ok and why[0].startswith("pi_f1: 0.92 outside [0.930, 0.990]")
