"""Two policies on the same hand-made items: known disagreements and deltas."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from workbench.analytics.evaluation import POLICY, LabelledSet, compare
from workbench.policy import Policy


def test_compare_known_disagreements(
    tiny: LabelledSet, policy_a: Policy, policy_b: Policy, tmp_path: Path
) -> None:
    cmp = compare(policy_a, policy_b, tiny, positive="blocked", progress=False)
    dis = cmp.disagreements
    got = {r["id"]: (r["caught_a"], r["caught_b"], r["right"]) for r in dis.to_dicts()}
    assert got == {
        "a3": (False, True, "B"),
        "a4": (False, True, "B"),
        "b2": (True, False, "B"),
    }
    assert dis.filter(pl.col("id") == "b2")["decision_a"].item() == "deny"
    d = {
        r["metric"]: r
        for r in cmp.deltas.filter(
            (pl.col("check") == POLICY) & (pl.col("dataset") == "tiny")
        ).to_dicts()
    }
    assert d["recall"]["a"] == 0.5 and d["recall"]["b"] == 1.0
    assert d["recall"]["delta"] == pytest.approx(0.5)
    assert d["fpr"]["delta"] == pytest.approx(-0.25)
    for r in d.values():
        assert r["low"] <= r["delta"] <= r["high"]
    # both policies have a check named no-ignore: compared too
    assert "no-ignore" in set(cmp.deltas["check"])

    data = json.loads(cmp.to_json(tmp_path / "c.json"))
    assert data["disagreements"] == 3 and data["a"]["policy"] == "pol-a"
    html = cmp.to_html(tmp_path / "c.html")
    assert html.startswith("<!DOCTYPE html>") and "pol-a" in html and "pol-b" in html
    assert "+0.500" in html and "-0.250" in html and "disregard what you were told" in html
    assert "3 items" in html
    assert "<!DOCTYPE" not in cmp._repr_html_()


def test_compare_same_policy_has_no_disagreement(tiny: LabelledSet, policy_a: Policy) -> None:
    cmp = compare(policy_a, policy_a, tiny, progress=False)
    assert cmp.disagreements.height == 0
    assert (cmp.summary()["delta"] == 0).all()
