"""Built-in labelled sets: roles from the manifests, hashes, subgroups, stratified limits;
training code still refuses eval-only files."""

from __future__ import annotations

import pytest

from workbench.analytics.evaluation import DEFAULT_SETS, available, from_frame, load_set
from workbench.analytics.evaluation._builtin import bipia_rows, insert
from workbench.guardrails.ml import data


def test_roles_and_hashes_are_reported() -> None:
    pi = load_set("prompt_injection_test")
    assert pi.role == "eval" and len(pi) == 116 and int(pi.items["label"].sum()) == 60
    assert pi.files[0]["sha256"] == (
        "39ac797cabc157eeed58435a08593b2952bb6cb16fc394a2d383f447cc7b246e"
    )
    assert set(pi.items["language"]) <= {"en", "de", "other"} and "de" in set(pi.items["language"])
    jb = load_set("jailbreak_handmade")
    assert jb.role == "train" and len(jb) == 287 and jb.subgroups == ("category",)
    sp = load_set("spikee")
    assert sp.role == "eval" and all(f["sha256_ok"] for f in sp.files)
    assert (len(sp), int(sp.items["label"].sum())) == (268, 238)
    assert load_set("toxicity_surge").stage == "output"
    assert set(DEFAULT_SETS) <= set(available())


def test_training_still_refuses_eval_only_files() -> None:
    with pytest.raises(data.DataRoleError):
        data.ref("prompt_injection_test", "train")
    with pytest.raises(data.DataRoleError):
        data.texts_labels("xstest_prompts", "train")


def test_limit_is_stratified_and_seeded() -> None:
    full = load_set("bipia_email")
    assert (len(full), int(full.items["label"].sum())) == (175, 125)
    cut = load_set("bipia_email", limit=20, seed=1)
    assert len(cut) == 20 and int(cut.items["label"].sum()) == 14  # 125/175 of 20
    assert (
        cut.items["id"].to_list() == load_set("bipia_email", limit=20, seed=1).items["id"].to_list()
    )
    assert {"family", "position", "category"} <= set(cut.items.columns)


def test_bipia_insertion() -> None:
    ctx = "line one\nline two\nline three"
    assert insert(ctx, "ATTACK", "start").startswith("ATTACK\n")
    assert insert(ctx, "ATTACK", "end").endswith("\nATTACK")
    middle = insert(ctx, "ATTACK", "middle")
    assert "ATTACK" in middle and not middle.startswith("ATTACK")
    assert ctx.replace("\n", "") == middle.replace("\nATTACK", "").replace("\n", "")
    rows = bipia_rows()
    assert {r["family"] for r in rows} == {"text", "code", "clean"}
    assert [r["position"] for r in rows[:3]] == ["start", "middle", "end"]


def test_from_frame_needs_text_and_label() -> None:
    with pytest.raises(ValueError, match="missing"):
        from_frame([{"text": "x"}])
    s = from_frame([{"text": "x", "label": 1, "team": "a"}], "mine")
    assert s.subgroups == ("team",) and s.items["id"].to_list() == ["0"]
    with pytest.raises(ValueError, match="unique ids"):
        from_frame([{"id": "x", "text": "a", "label": 0}, {"id": "x", "text": "b", "label": 1}])
    with pytest.raises(ValueError, match="0 or 1"):
        from_frame([{"text": "a", "label": 2}])
    with pytest.raises(KeyError, match="unknown dataset"):
        load_set("nope")
