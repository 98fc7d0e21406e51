"""Heads load from what `workbench guardrails train` wrote under WORKBENCH_HOME, else
from the committed weights."""

from __future__ import annotations

import shutil
from pathlib import Path

from workbench.guardrails.ml.heads import WEIGHTS_DIR, head_dir, user_weights_dir


def test_committed_heads_unless_the_user_trained_one(wb_home: Path) -> None:
    assert user_weights_dir() == wb_home / "guardrails" / "weights"
    assert head_dir("toxicity") == WEIGHTS_DIR
    user = user_weights_dir()
    user.mkdir(parents=True)
    for f in WEIGHTS_DIR.glob("toxicity*"):
        shutil.copy(f, user / f.name)
    assert head_dir("toxicity") == user
    assert head_dir("jailbreak") == WEIGHTS_DIR
    assert head_dir("toxicity", WEIGHTS_DIR) == WEIGHTS_DIR
