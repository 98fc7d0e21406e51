"""The over-blocking work of issue 11: the hand-written hard negatives and the weighting
of negative rows (``Source.neg_weight``) in training. Cheap: no encoder, no retraining."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from workbench.guardrails.ml import data
from workbench.guardrails.ml.encoder import Encoding, Window
from workbench.guardrails.ml.recipes import INDIRECT, JAILBREAK, PROMPT_INJECTION, TextRecipe
from workbench.guardrails.ml.train import _fit
from workbench.guardrails.ml.train_data import TextData, window_matrix

CATEGORIES = {
    "trigger_everyday",
    "trigger_tech",
    "about_injection",
    "assistant_task",
    "roleplay_ok",
    "tech_document",
    "code_answer",
}


def test_hardneg_rows_are_benign_unique_and_match_their_manifest() -> None:
    rows = data.read_jsonl(data.ref("injection_hardneg", "train").resolve())
    manifest = json.loads((data.project_dir() / "manifests" / "injection_hardneg.json").read_text())
    assert len(rows) == manifest["rows"]
    assert {r["label"] for r in rows} == {0}
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({" ".join(r["text"].lower().split()) for r in rows}) == len(rows)
    assert {r["category"] for r in rows} == CATEGORIES
    texts, labels = data.texts_labels("injection_hardneg", "train")
    assert texts == [r["text"] for r in rows] and set(labels) == {0}


def test_the_injection_and_jailbreak_recipes_read_the_hard_negatives() -> None:
    for recipe in (PROMPT_INJECTION, JAILBREAK):
        src = [s for s in recipe.sources if s.dataset == "injection_hardneg"]
        assert len(src) == 1 and src[0].role == "extra", recipe.name
        assert src[0].neg_weight > 1.0, recipe.name
    assert [s for s in PROMPT_INJECTION.sources if s.dataset == INDIRECT][0].neg_weight > 1.0


class _FakeFeaturizer:
    """One window per text, embedding = a fixed vector; enough for ``window_matrix``."""

    def encode(self, texts: list[str]) -> list[Encoding]:
        out = []
        for t in texts:
            n = max(len(t.split()), 1)
            offsets = np.array([[i, i + 1] for i in range(n)], dtype=np.int32)
            vec = np.ones(4, dtype=np.float32) / 2.0
            states = np.tile(vec, (n, 1))
            out.append(Encoding([Window(vec, states, offsets, 0, len(t))]))
        return out


def test_neg_weight_goes_to_label_0_rows_only() -> None:
    recipe = TextRecipe(name="t", sources=())
    td = TextData(
        texts=["benign doc", "an attack", "clean one"],
        y=np.array([0, 1, 0]),
        primary=np.array([True, True, False]),
        files=[],
        neg_weight=np.array([3.0, 3.0, 1.0]),
    )
    feat: Any = _FakeFeaturizer()
    wm = window_matrix(recipe, td, feat)
    assert wm.owner.tolist() == [0, 1, 2]
    assert wm.sw is not None and wm.sw.tolist() == [3.0, 1.0, 1.0]
    bare = window_matrix(recipe, ["a", "b"], feat)  # bare texts: unweighted
    assert bare.sw is not None and bare.sw.tolist() == [1.0, 1.0]


def test_unit_weights_are_the_unweighted_fit_and_weights_move_it() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(np.int64)
    plain = _fit(x, y, 1.0)
    ones = _fit(x, y, 1.0, np.ones(200))
    np.testing.assert_array_equal(plain.coef_, ones.coef_)
    assert plain.intercept_[0] == ones.intercept_[0]
    heavy = _fit(x, y, 1.0, np.where(y == 0, 5.0, 1.0))
    # negatives weighted up: every point's probability of the positive class falls
    assert np.all(heavy.predict_proba(x)[:, 1] < plain.predict_proba(x)[:, 1] + 1e-12)
    assert heavy.intercept_[0] < plain.intercept_[0]


@pytest.mark.parametrize("name", ["prompt_injection", "jailbreak"])
def test_committed_heads_were_trained_on_the_hard_negatives(name: str) -> None:
    from workbench.guardrails.ml.heads import WEIGHTS_DIR

    manifest = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    files = {f["name"]: f for f in manifest["data"] if "sha256" in f}
    assert files["injection_hardneg"] == data.file_record("injection_hardneg", "train")
    by_source = manifest["metrics"]["cv"]["by_source"]
    assert by_source["injection_hardneg"]["recall"] is None  # negatives only


def test_hard_limit_raises_the_threshold_until_hard_negatives_pass() -> None:
    from workbench.guardrails.ml.operating import operating_threshold

    # 4 positives, 6 easy negatives far below, 2 hard negatives scored like positives
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.85, 0.65, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    hard = np.array([False] * 4 + [True, True] + [False] * 6)
    t_all, _ = operating_threshold(y, scores, 0.5)  # 2 of 8 negatives above: allowed
    assert t_all < 0.6
    t_hard, f1 = operating_threshold(y, scores, 0.5, hard, 0.0)  # no hard negative may pass
    assert 0.85 < t_hard <= 0.9
    assert f1 == pytest.approx(2 * 1 / (1 + 4))
    t_half, _ = operating_threshold(y, scores, 0.5, hard, 0.5)  # one of the two may pass
    assert 0.65 < t_half < 0.7
