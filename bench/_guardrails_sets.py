"""The eval-only sets of the guardrail-quality bench, read with purpose ``"eval"``.

Every file is resolved through :func:`workbench.guardrails.ml.data.ref` with purpose
``"eval"`` (nothing here fits or tunes anything). ``limit`` keeps at most that many
items of each list (the first ones), for quick runs.

* ``deepset``: the prompt-injection test split, texts and labels;
* ``bipia_attacks`` (by family ``text``/``code``): every BIPIA test attack inserted into a
  BIPIA test e-mail, at the start, middle or end in turn
  (:func:`workbench.analytics.evaluation._builtin.bipia_rows`, as ``eval_sets.bipia_set``);
* ``spikee_injected``: spikee's documents with injected instructions (all injections);
* ``clean_contexts``: BIPIA's clean test e-mails and code contexts and spikee's benign
  e-mails (all benign);
* ``jailbreaks``: the held-out in-the-wild jailbreak snapshot (all jailbreaks); long
  prompts (791, median 455 tokens, 564k tokens in all: the costliest set by far), so
  ``jailbreak_sample`` can score a seeded random sample of them instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.guardrails.ml import data


@dataclass
class EvalSets:
    """Texts of every ML row of the bench (labels where the set has both classes)."""

    deepset: tuple[list[str], list[int]]
    bipia_attacks: dict[str, list[str]]
    spikee_injected: list[str]
    clean_contexts: dict[str, list[str]]
    jailbreaks: list[str]
    files: list[dict[str, str]] = field(default_factory=list)


NAMES = (
    "prompt_injection_test",
    "bipia_email_test",
    "bipia_text_attack_test",
    "bipia_code_attack_test",
    "bipia_code_test",
    "spikee_injected_documents",
    "spikee_benign_emails",
    "jailbreak_llms_heldout",
)


def _cut(items: list[Any], limit: int | None) -> list[Any]:
    return items if limit is None else items[:limit]


def _code_context(row: dict[str, Any]) -> str:
    ctx = row["context"]
    return ctx if isinstance(ctx, str) else "\n".join(str(x) for x in ctx)


def sample(items: list[Any], k: int | None, seed: int = 0) -> list[Any]:
    """A seeded random sample of ``k`` items in their original order (all when ``k`` is
    None or not smaller than the list)."""
    import random

    if k is None or k >= len(items):
        return items
    keep = sorted(random.Random(seed).sample(range(len(items)), k))
    return [items[i] for i in keep]


def load(limit: int | None = None, jailbreak_sample: int | None = None) -> EvalSets:
    """Every set of the ML rows (eval-only files, read for evaluation)."""
    import polars as pl

    from workbench.analytics.evaluation._builtin import bipia_rows

    texts, labels = data.texts_labels("prompt_injection_test", "eval")
    rows = bipia_rows()  # reads the BIPIA files through data.ref(name, "eval")
    attacks = {
        fam: _cut([r["text"] for r in rows if r["family"] == fam], limit)
        for fam in ("text", "code")
    }

    def jsonl(name: str) -> list[dict[str, Any]]:
        return data.read_jsonl(data.ref(name, "eval").resolve())

    clean = {
        "bipia_email_test": _cut([r["text"] for r in rows if r["label"] == 0], limit),
        "bipia_code_test": _cut([_code_context(r) for r in jsonl("bipia_code_test")], limit),
        "spikee_benign_emails": _cut([r["input"] for r in jsonl("spikee_benign_emails")], limit),
    }
    jb = pl.read_csv(data.ref("jailbreak_llms_heldout", "eval").resolve())["prompt"].to_list()
    return EvalSets(
        deepset=(_cut(texts, limit), _cut(labels, limit)),
        bipia_attacks=attacks,
        spikee_injected=_cut([r["input"] for r in jsonl("spikee_injected_documents")], limit),
        clean_contexts=clean,
        jailbreaks=_cut(sample([str(t) for t in jb], jailbreak_sample), limit),
        files=[data.file_record(n, "eval") for n in NAMES],
    )


__all__ = ["NAMES", "EvalSets", "load", "sample"]
