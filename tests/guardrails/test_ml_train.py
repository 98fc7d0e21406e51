"""Training is reproducible: retraining gives the committed weights, on the same data.

Fails (never skips) without the shared datasets. Retrains the text heads from their
recipes into a temp folder and compares with the committed ``weights/``: the data
hashes must match the manifests and the weights must be equal up to float noise (a
different CPU may round differently).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.guardrails.ml import data
from workbench.guardrails.ml.heads import WEIGHTS_DIR

from ._retrain_job import CHECKS, start


@pytest.fixture(scope="module")
def retrained() -> Path:
    """The heads retrained from their recipes into a temp folder by a fresh interpreter
    (one shared encoder pass across heads), started early in the background by
    tests/conftest.py (see ``_retrain_job``)."""
    return start().wait()


@pytest.mark.parametrize("name", CHECKS)
def test_data_hashes_match_manifest(name: str) -> None:
    manifest = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    files = [f for f in manifest["data"] if "sha256" in f]
    assert files
    for f in files:
        assert f["role"] == "train"
        assert data.file_record(f["name"], "train")["sha256"] == f["sha256"], f["name"]


@pytest.mark.parametrize("name", CHECKS)
def test_retraining_reproduces_committed_weights(retrained: Path, name: str) -> None:
    committed = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    fresh = json.loads((retrained / f"{name}.json").read_text())
    assert fresh["data"] == committed["data"]
    assert fresh["recipe"]["hyperparameters"] == committed["recipe"]["hyperparameters"]
    assert fresh["threshold"] == pytest.approx(committed["threshold"], abs=1e-4)
    with (
        np.load(WEIGHTS_DIR / f"{name}.npz") as a,
        np.load(retrained / f"{name}.npz") as b,
    ):
        assert sorted(a.files) == sorted(b.files)
        np.testing.assert_array_equal(a["hash_index"], b["hash_index"])
        for key in ("emb_coef", "intercept", "hash_value"):
            # Same machine: bit-identical. Embeddings perturbed by 1e-6 (another CPU's
            # float rounding) move the coefficients (magnitude ~0.01-5) by up to 2e-5.
            np.testing.assert_allclose(b[key], a[key], rtol=1e-3, atol=1e-4, err_msg=key)


EVAL_ONLY = {
    "prompt_injection_test",
    "xstest_prompts",
    "bipia_email_test",
    "bipia_text_attack_test",
    "bipia_code_attack_test",
    "bipia_code_test",
    "jailbreak_llms_heldout",
    "notinject_one",
    "notinject_two",
    "notinject_three",
    "wildguard_benign",
    "spikee_injected_documents",
    "spikee_benign_emails",
}


def test_eval_only_sets_are_refused_for_training() -> None:
    assert {n for n, d in data.DATASETS.items() if d.role == "eval"} == EVAL_ONLY
    for name in sorted(EVAL_ONLY):
        with pytest.raises(data.DataRoleError):
            data.ref(name, "train")
        with pytest.raises(data.DataRoleError):
            data.texts_labels(name, "train")
        assert data.ref(name, "eval").role == "eval"


@pytest.mark.parametrize(("name", "hard_max"), [("prompt_injection", 0.02), ("jailbreak", 0.03)])
def test_manifest_states_the_operating_point(name: str, hard_max: float) -> None:
    manifest = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    op = manifest["operating_point"]
    assert op["max_fpr"] == 0.01
    assert op["name"] == f"max_cv_f1_at_fpr<=0.01_hard_fpr<={hard_max:g}"
    cv = op["cv"]
    assert cv["fp"] / (cv["fp"] + cv["tn"]) <= op["max_fpr"]
    assert cv == manifest["metrics"]["cv"]
    # the second limit: out-of-fold FPR on the hand-made benign look-alikes alone
    assert op["hard_max_fpr"] == hard_max
    assert op["hard_sources"] == [
        "injection_hardneg",
        "injection_handmade",
        "jailbreak_handmade",
        "benign_instructions",
    ]
    assert op["hard_cv_fpr"] <= op["hard_max_fpr"]


def test_presidio_split_by_index() -> None:
    train, held = data.presidio("train"), data.presidio("eval")
    assert (len(train), len(held)) == (1200, 300)
    assert held[0]["full_text"] not in {r["full_text"] for r in train[:4]}


def test_dataset_manifests_match_files() -> None:
    manifests = sorted((data.project_dir() / "manifests").glob("*.json"))
    assert {m.stem for m in manifests} == set(data.DATASETS)
    for m in manifests:
        info = json.loads(m.read_text())
        ref = data.DATASETS[info["name"]]
        assert data.sha256(ref.resolve()) == info["sha256"], info["name"]
        assert info["role"].startswith(ref.role)
