"""Pick the policy that governs a request: the most specific live policy that matches.

A policy matches a request when one of its ``applies_to.workspaces`` globs matches the
workspace and one of its ``applies_to.models`` globs matches the model name the client
sent (``fnmatch``, case-sensitive). Among the matches, the most specific wins, compared in
this order:

1. the workspace: an exact name beats a glob, and a glob other than ``*`` (``team-*``)
   beats ``*``;
2. then the model, the same way;
3. then the policy id, alphabetically (so the answer never depends on listing order).

A policy's score on each axis is that of its best-matching pattern.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, TypeVar

from workbench.policy.model import AppliesTo, Policy

if TYPE_CHECKING:
    from workbench.policy.records import Version

__all__ = ["match_rank", "pattern_score", "resolve"]

EXACT, GLOB, ANY = 2, 1, 0

T = TypeVar("T", "Version", Policy)


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def pattern_score(patterns: Sequence[str], value: str) -> int | None:
    """How specifically ``patterns`` match ``value``: 2 exact, 1 glob, 0 ``*``; None: no match."""
    best: int | None = None
    for pattern in patterns:
        if not fnmatchcase(value, pattern):
            continue
        score = ANY if pattern == "*" else GLOB if _is_glob(pattern) else EXACT
        best = score if best is None else max(best, score)
    return best


def match_rank(applies_to: AppliesTo, workspace: str, model: str) -> tuple[int, int] | None:
    """``(workspace score, model score)`` for a request, or None when the policy does not apply."""
    ws = pattern_score(applies_to.workspaces, workspace)
    if ws is None:
        return None
    md = pattern_score(applies_to.models, model)
    if md is None:
        return None
    return ws, md


def resolve(live: Iterable[T], workspace: str, model: str) -> T | None:
    """The most specific of ``live`` (versions or policies) for a request; None if none match."""
    best: T | None = None
    best_key: tuple[int, int, str] | None = None
    for item in live:
        policy = item if isinstance(item, Policy) else item.policy
        rank = match_rank(policy.applies_to, workspace, model)
        if rank is None:
            continue
        key = (-rank[0], -rank[1], policy.id)
        if best_key is None or key < best_key:
            best, best_key = item, key
    return best
