"""The paraphrase set (``datasets/paraphrases.jsonl``): load it, one half at a time.

Rows: ``id``, ``domain``, ``kind`` (``paraphrase`` | ``near_miss``), ``differs`` (what a
near miss changes: entity, number, unit, negation, date, language), ``split``
(``tune`` | ``eval`` | ``eval2``), ``a`` (the cached text) and ``b`` (the incoming text).
The threshold is chosen on ``tune`` only; ``eval`` and ``eval2`` are only measured.
``eval`` has been *seen* (its figures were read before the dates rule was rebuilt);
``eval2`` is a fresh held-out set written after the rules were fixed (see
``docs/cache-semantic.md``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH = ROOT / "datasets" / "paraphrases.jsonl"
MANIFEST = ROOT / "datasets" / "manifests" / "paraphrases.json"
KINDS = ("paraphrase", "near_miss")
DIFFERS = ("entity", "number", "unit", "negation", "date", "language")
SPLITS = ("tune", "eval", "eval2")
EVAL_SPLITS = ("eval", "eval2")
"""Measured only, never used to choose anything."""


@dataclass(frozen=True)
class Pair:
    """One row of the set."""

    id: str
    domain: str
    kind: str
    differs: str | None
    split: str
    a: str
    b: str

    @property
    def should_hit(self) -> bool:
        """A paraphrase: a semantic cache should serve ``b`` from ``a``."""
        return self.kind == "paraphrase"


def load(split: str | None = None, path: Path = PATH) -> list[Pair]:
    """Every row (or one half) in file order."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                pair = Pair(**json.loads(line))
                if split is None or pair.split == split:
                    rows.append(pair)
    return rows


__all__ = ["DIFFERS", "EVAL_SPLITS", "KINDS", "MANIFEST", "PATH", "SPLITS", "Pair", "load"]
