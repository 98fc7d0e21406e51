"""bench.guardrails_eval's policy rows use each side's own thresholds (no model loaded).

Before the fix, the policy's classifier checks read ``trained_threshold`` (the committed
manifests) whatever scorer the engine was given: the OLD heads' scores were compared with
the NEW thresholds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench._guardrails_compare import POLICY
from bench._guardrails_quality import policy_with_thresholds
from workbench.guardrails.engine import GuardrailEngine


class Side:
    """One side of the bench: its heads' thresholds, and every score fixed at 0.5."""

    def __init__(self, threshold: float) -> None:
        self.t = threshold

    def threshold(self, classifier: str) -> float:
        return self.t

    async def score(self, classifier: str, texts: list[str]) -> list[float]:
        return [0.5] * len(texts)

    async def tag(self, texts: list[str]) -> list[list[dict[str, object]]]:
        return [[] for _ in texts]


@pytest.mark.parametrize(("threshold", "denied"), [(0.4, True), (0.6, False)])
async def test_the_policy_compares_scores_with_the_sides_own_threshold(
    threshold: float, denied: bool
) -> None:
    side = Side(threshold)
    policy = policy_with_thresholds(POLICY, side)
    checks = {c.name: c for c in policy.input}
    for name in ("prompt-injection", "jailbreak", "prompt-injection-in-context"):
        assert checks[name].params["threshold"] == threshold
    assert "threshold" not in checks["input-length"].params
    out = await GuardrailEngine(policy, scorer=side).run_stage("input", ["Say hi."], roles=["user"])
    assert (out.deny is not None) is denied


def test_a_threshold_written_in_the_policy_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "id: p\ninput:\n  - name: pi\n    validator: prompt_injection\n"
        "    params: {threshold: 0.9}\n    on_fail: deny\n"
        "  - name: jb\n    validator: jailbreak\n    on_fail: deny\n"
    )
    checks = {c.name: c for c in policy_with_thresholds(path, Side(0.2)).input}
    assert checks["pi"].params["threshold"] == 0.9
    assert checks["jb"].params["threshold"] == 0.2
