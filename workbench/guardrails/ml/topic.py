"""Topic control by embedding similarity (no training).

A check holds ``allow`` and/or ``deny`` lists of topic descriptions or example
sentences. A text's similarity to a list is the max cosine similarity between its MiniLM
embedding and the list's embeddings. The text fails when it is at least
``deny_threshold`` similar to a denied topic, or when ``allow`` is given and it is less
than ``allow_threshold`` similar to every allowed topic. With MiniLM, a text on a
topic typically scores 0.3-0.5 against a short description of it and unrelated texts
0-0.15; several example sentences per topic work better than one description.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TopicDecision:
    """The outcome of a topic check for one text."""

    ok: bool
    reason: str
    score: float  # the similarity that decided (deny match, or best allow match)
    topic: str | None  # the matching denied topic, or the closest allowed one


def best_match(vec: np.ndarray, refs: np.ndarray, names: list[str]) -> tuple[float, str | None]:
    """``(max cosine, name)`` of ``vec`` against the unit rows of ``refs``."""
    if not len(names):
        return float("-inf"), None
    sims = refs @ (vec / max(float(np.linalg.norm(vec)), 1e-12))
    i = int(np.argmax(sims))
    return float(sims[i]), names[i]


def decide(
    vec: np.ndarray,
    allow: list[str],
    allow_vecs: np.ndarray,
    deny: list[str],
    deny_vecs: np.ndarray,
    allow_threshold: float,
    deny_threshold: float,
) -> TopicDecision:
    """Deny first (a denied topic wins), then the allow list."""
    d_sim, d_name = best_match(vec, deny_vecs, deny)
    if deny and d_sim >= deny_threshold:
        return TopicDecision(
            False, f"denied topic {d_name!r} (similarity {d_sim:.2f})", d_sim, d_name
        )
    if allow:
        a_sim, a_name = best_match(vec, allow_vecs, allow)
        if a_sim < allow_threshold:
            return TopicDecision(
                False,
                f"off-topic: closest allowed topic {a_name!r} (similarity {a_sim:.2f})",
                a_sim,
                a_name,
            )
        return TopicDecision(True, "on an allowed topic", a_sim, a_name)
    return TopicDecision(True, "no denied topic", d_sim if deny else 0.0, d_name)


__all__ = ["TopicDecision", "best_match", "decide"]
