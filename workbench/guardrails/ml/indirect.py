"""Indirect-injection training rows: BIPIA train attacks inside BIPIA train contexts.

An indirect injection is an instruction hidden in data the model reads (an e-mail, a
code answer, a table). :func:`build_rows` inserts every train attack (text and code
families) into a train context (e-mail, Stack Overflow answer or table, drawn with a
fixed seed) at the start, the middle (nearest line break) or the end, in turn: those are
positives, with the attack's character span. The clean contexts are negatives. Only
train-role files are read (:func:`workbench.guardrails.ml.data.ref`).

The span lets training label windows and sub-windows: those that hold the attack are
positives, those that hold none of it are clean text
(:func:`workbench.guardrails.ml.train_data.window_matrix`).
"""

from __future__ import annotations

import ast
import json
import random
from dataclasses import dataclass

from workbench.guardrails.ml import data

PLACES = ("start", "middle", "end")
ATTACK_SETS = (("bipia_text_attack_train", "text"), ("bipia_code_attack_train", "code"))
CONTEXT_SETS = ("bipia_email_train", "bipia_code_train", "bipia_table_train")


@dataclass(frozen=True)
class IndirectRow:
    """A context with (label 1) or without (label 0) an inserted attack."""

    text: str
    label: int
    span: tuple[int, int] | None  # the attack's [start, end) in ``text``
    context: str  # which context set
    family: str  # text / code / clean
    position: str  # start / middle / end / none


def insert(context: str, attack: str, where: str) -> tuple[str, tuple[int, int]]:
    """``attack`` put at the ``start``, ``middle`` (line break nearest the middle, else the
    space nearest it) or ``end`` of ``context``, on its own line; returns the text and the
    attack's span."""
    if where == "start":
        return f"{attack}\n{context}", (0, len(attack))
    if where == "end":
        return f"{context}\n{attack}", (len(context) + 1, len(context) + 1 + len(attack))
    mid = len(context) // 2
    cuts = [i for i, ch in enumerate(context) if ch == "\n"] or [
        i for i, ch in enumerate(context) if ch == " "
    ]
    cut = min(cuts, key=lambda i: abs(i - mid)) if cuts else mid
    start = cut + 1
    return f"{context[:cut]}\n{attack}\n{context[cut:]}", (start, start + len(attack))


def _context_text(name: str, row: dict[str, object]) -> str:
    raw = row["context"]
    if name == "bipia_code_train" and isinstance(raw, str) and raw.startswith("["):
        lines = ast.literal_eval(raw)  # the code set stores its lines as a Python list
        return "\n".join(str(x) for x in lines).strip()
    return str(raw).strip()


def contexts(max_tables: int, seed: int) -> list[tuple[str, str]]:
    """``(set name, context)``: every e-mail and code context, ``max_tables`` tables drawn
    with ``seed`` (there are 900), in file order."""
    out: list[tuple[str, str]] = []
    for name in CONTEXT_SETS:
        rows = data.read_jsonl(data.ref(name, "train").resolve())
        texts = [_context_text(name, r) for r in rows]
        if name == "bipia_table_train" and len(texts) > max_tables:
            keep = sorted(random.Random(seed).sample(range(len(texts)), max_tables))
            texts = [texts[i] for i in keep]
        out.extend((name, t) for t in texts if t)
    return out


def attacks() -> list[tuple[str, str]]:
    """``(family, attack)`` of every train attack, categories in file order."""
    out: list[tuple[str, str]] = []
    for name, family in ATTACK_SETS:
        raw = json.loads(data.ref(name, "train").resolve().read_text(encoding="utf-8"))
        for items in raw.values():
            out.extend((family, str(a).strip()) for a in items)
    return out


def build_rows(
    seed: int, max_tables: int = 40, per_attack: int = 2, max_chars: int = 1000
) -> list[IndirectRow]:
    """Every attack inserted ``per_attack`` times (positions in turn; context sets in
    turn, a context of the set drawn with ``seed``), then every clean context. Contexts
    are cut at a line break to at most ``max_chars`` characters first (bounded encoder
    cost; the scorer's windows cover longer documents the same way)."""
    ctx = [(n, _cut(t, max_chars)) for n, t in contexts(max_tables, seed)]
    by_set = {name: [c for c in ctx if c[0] == name] for name in CONTEXT_SETS}
    rng = random.Random(seed + 1)
    rows: list[IndirectRow] = []
    k = 0
    for family, attack in attacks():
        for _ in range(per_attack):
            pool = by_set[CONTEXT_SETS[(k // len(PLACES) + k) % len(CONTEXT_SETS)]]
            name, context = pool[rng.randrange(len(pool))]
            where = PLACES[k % len(PLACES)]
            text, span = insert(context, attack, where)
            rows.append(IndirectRow(text, 1, span, name, family, where))
            k += 1
    rows += [IndirectRow(t, 0, None, n, "clean", "none") for n, t in ctx]
    return rows


def _cut(text: str, max_chars: int) -> str:
    """``text`` up to the last line break (else space) before ``max_chars``."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    cut = max(head.rfind("\n"), 0) or max(head.rfind(" "), 0) or max_chars
    return head[:cut].rstrip()


__all__ = [
    "ATTACK_SETS",
    "CONTEXT_SETS",
    "PLACES",
    "IndirectRow",
    "attacks",
    "build_rows",
    "contexts",
    "insert",
]
