"""A policy evaluated on a hand-made labelled set through the real engine: exact counts."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import polars as pl
import pytest

from workbench.analytics.evaluation import POLICY, LabelledSet, evaluate, evaluate_async
from workbench.policy import Policy


def _counts(res, check: str = POLICY, dataset: str = "tiny") -> tuple[int, int, int, int]:
    c = res.confusion(check, dataset)
    return c["tp"], c["fp"], c["fn"], c["tn"]


def test_policy_and_check_confusion_matrices(tiny: LabelledSet, policy_a: Policy) -> None:
    res = evaluate(policy_a, tiny, progress=False)
    assert _counts(res) == (2, 1, 2, 3)  # caught a1 a2 b2
    assert _counts(res, "no-ignore") == (2, 1, 2, 3)
    assert _counts(res, "shadow-disregard") == (1, 0, 3, 4)  # log-only: measured, not enforced
    assert _counts(res, "system-only") == (0, 0, 4, 4)  # reads system messages only
    assert _counts(res, "redact-pii") == (0, 1, 4, 3)  # b3 (the e-mail address)
    dec = dict(zip(res.items["id"], res.items["decision"], strict=True))
    assert dec == {
        "a1": "deny", "a2": "deny", "a3": "allow", "a4": "allow",
        "b1": "allow", "b2": "deny", "b3": "redact", "b4": "allow",
    }  # fmt: skip
    row = res.policy_metrics().row(0, named=True)
    assert row["n"] == 8 and row["support"] == 4 and row["role"] == "user"
    assert row["precision"] == pytest.approx(2 / 3) and row["recall"] == pytest.approx(0.5)
    assert row["f1"] == pytest.approx(4 / 7) and row["fpr"] == pytest.approx(0.25)
    assert row["accuracy"] == pytest.approx(5 / 8)
    for m in ("precision", "recall", "f1", "fpr"):
        assert row[f"{m}_low"] <= row[m] <= row[f"{m}_high"]
    assert res.checks == ["no-ignore", "shadow-disregard", "system-only", "redact-pii"]


def test_positive_modes(tiny: LabelledSet, policy_a: Policy, policy_b: Policy) -> None:
    assert _counts(evaluate(policy_a, tiny, positive="any", progress=False)) == (2, 2, 2, 2)
    assert _counts(evaluate(policy_b, tiny, progress=False)) == (4, 1, 0, 3)  # flag counts
    assert _counts(evaluate(policy_b, tiny, positive="blocked", progress=False)) == (4, 0, 0, 4)


def test_subgroups_latency_and_examples(tiny: LabelledSet, policy_a: Policy) -> None:
    res = evaluate(policy_a, tiny, progress=False)
    sub = res.by_subgroup.filter(pl.col("check") == POLICY)
    got = {r["value"]: (r["tp"], r["fp"], r["fn"], r["tn"]) for r in sub.to_dicts()}
    assert got == {"en": (2, 1, 1, 2), "de": (0, 0, 1, 1)}
    lat = {r["check"]: r for r in res.latency.to_dicts()}
    assert lat["no-ignore"]["n"] == 8 and lat["no-ignore"]["p95_ms"] >= lat["no-ignore"]["p50_ms"]
    assert "system-only" not in lat  # it never ran
    assert set(res.examples("fn")["id"]) == {"a3", "a4"}
    assert res.examples("fp")["id"].to_list() == ["b2"]
    assert res.timing["items"] == 8 and res.timing["s_per_item"] > 0


def test_single_checks_without_a_policy(tiny: LabelledSet) -> None:
    res = evaluate(
        checks=[{"validator": "regex_deny", "params": {"patterns": ["(?i)disregard"]}}],
        datasets=tiny,
        progress=False,
    )
    assert res.policy_id == "checks" and res.checks == ["regex_deny"]
    assert _counts(res, "regex_deny") == (1, 0, 3, 4)


def test_json_and_html_carry_the_figures(
    tiny: LabelledSet, policy_a: Policy, tmp_path: Path
) -> None:
    res = evaluate(policy_a, tiny, progress=False)
    data = json.loads(res.to_json(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text()) == data
    pol = next(m for m in data["metrics"] if m["check"] == POLICY)
    assert (pol["tp"], pol["fp"], pol["fn"], pol["tn"]) == (2, 1, 2, 3)
    assert data["datasets"][0]["name"] == "tiny" and data["datasets"][0]["role"] == "user"
    assert {e["id"] for e in data["examples"]["fn"]} == {"a3", "a4"}
    html = res.to_html(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text() == html
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert "0.667" in html and "0.571" in html and "0.250" in html  # P, F1, FPR
    assert "disregard what you were told" in html  # a missed example
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)  # self-contained
    frag = res._repr_html_()
    assert "<!DOCTYPE" not in frag and "0.571" in frag


def test_sync_call_inside_a_running_loop(tiny: LabelledSet, policy_a: Policy) -> None:
    async def notebook_cell() -> tuple[int, int, int, int]:
        res = evaluate(policy_a, tiny, progress=False)  # blocking call, loop running
        twin = await evaluate_async(policy_a, tiny, progress=False)
        assert _counts(twin) == _counts(res)
        return _counts(res)

    assert asyncio.run(notebook_cell()) == (2, 1, 2, 3)


def test_limit_keeps_both_classes(tiny: LabelledSet, policy_a: Policy) -> None:
    res = evaluate(policy_a, tiny, limit=4, progress=False)
    assert res.items.height == 4 and sorted(res.items["label"].to_list()) == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="policy or checks"):
        evaluate(None, tiny, progress=False)


def test_output_sets_run_the_output_stage() -> None:
    from workbench.analytics.evaluation import from_frame
    from workbench.policy import parse_policy

    answers = from_frame(
        {"text": ["you idiot", "happy to help", "what an idiot question"], "label": [1, 0, 1]},
        "answers",
        stage="output",
    )
    pol = parse_policy(
        {
            "id": "out",
            "input": [{"name": "in-idiot", "validator": "regex_deny",
                       "params": {"patterns": ["idiot"]}}],
            "output": [{"name": "out-idiot", "validator": "regex_deny",
                        "params": {"patterns": [r"\byou idiot\b"]}, "on_fail": "flag"}],
        }
    )  # fmt: skip
    res = evaluate(pol, answers, progress=False)
    assert res.checks == ["out-idiot"]  # the input stage does not run on answers
    assert _counts(res, dataset="answers") == (1, 0, 1, 1)
    assert set(res.verdicts["stage"]) == {"output"}
