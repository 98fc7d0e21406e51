"""The per-set runners of ``workbench guardrails eval`` and the latency measurement.

Each runner scores one eval-only set with the committed weights and thresholds and
returns report rows (plus, for some, a details dict). The sets:

* ``prompt_injection_test`` (deepset test split): the ``prompt_injection`` check;
* XSTest safe prompts (250 prompts that sound unsafe but are not): the share flagged by
  each input check and by the union of prompt_injection + jailbreak + toxicity
  (over-blocking); the 200 unsafe prompts are reported for information;
* BIPIA indirect injection: every attack of ``text_attack_test.json`` and
  ``code_attack_test.json`` inserted (at the start, middle or end, in turn) into a clean
  email of ``email_test.jsonl``, against the clean emails: ``prompt_injection``;
* Presidio held-out records (``index % 5 == 0``): ``pii_ner`` per entity type
  (PERSON; Presidio STREET_ADDRESS as ADDRESS), and the ``pii`` check's patterns.

Latency: per-check rows time one text alone with the cache cleared (so each includes an
encoder pass); :func:`latency` times every ML check of one text (one encoder pass)
alone, and per text in batches of 32.

The sets are read, and metrics and 95% bootstrap intervals (``<metric>_low/_high``)
computed, by :mod:`workbench.analytics.evaluation`: one implementation for the whole
project.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from workbench.analytics.evaluation import auc, binary, bootstrap_ci, percentile
from workbench.analytics.evaluation import spans as span_metrics
from workbench.analytics.evaluation._builtin import bipia_rows, xstest
from workbench.guardrails.ml import data
from workbench.guardrails.ml.scorer import PII_NER, TEXT_CLASSIFIERS, LocalScorer

INPUT_CHECKS = ("prompt_injection", "jailbreak", "toxicity")
BATCH = 32


def _cold(
    scorer: LocalScorer, fn: Callable[[list[str]], list[Any]], texts: list[str]
) -> tuple[list[Any], list[float]]:
    """Run ``fn`` on one text at a time with an empty cache; results and ms per text."""
    out: list[Any] = []
    ms: list[float] = []
    for t in texts:
        scorer.clear_cache()
        t0 = time.perf_counter()
        out.append(fn([t])[0])
        ms.append((time.perf_counter() - t0) * 1000)
    return out, ms


def _row(
    check: str,
    dataset: str,
    y: list[int] | None,
    scores: list[float],
    threshold: float,
    ms: list[float],
    note: str = "",
) -> dict[str, Any]:
    flagged = [s >= threshold for s in scores]
    row: dict[str, Any] = {
        "check": check,
        "dataset": dataset,
        "n": len(scores),
        "threshold": threshold,
        "flagged_share": float(np.mean(flagged)) if flagged else float("nan"),
        "latency_p50_ms": percentile(ms, 50),
        "latency_p99_ms": percentile(ms, 99),
        "note": note,
    }
    if y is not None:
        m = binary(y, scores, threshold)
        row.update({k: m[k] for k in ("positives", "precision", "recall", "f1", "fpr")})
        row["auc"] = auc(y, scores)
        ci = bootstrap_ci(y, flagged)
    else:
        row.update({"positives": None, "precision": None, "recall": None, "f1": None})
        row.update({"fpr": row["flagged_share"], "auc": None})
        ci = {"fpr": bootstrap_ci([0] * len(flagged), flagged)["fpr"]} if flagged else {}
    for k, (lo, hi) in ci.items():  # 95% bootstrap interval (seeded, 1000 resamples)
        row[f"{k}_low"], row[f"{k}_high"] = lo, hi
    return row


def _limit(items: list[Any], limit: int | None) -> list[Any]:
    return items if limit is None else items[:limit]


# ------------------------------------------------------------------ the sets
def eval_prompt_injection(scorer: LocalScorer, limit: int | None) -> list[dict[str, Any]]:
    """The deepset test split."""
    texts, y = data.texts_labels("prompt_injection_test", "eval")
    texts, y = _limit(texts, limit), _limit(y, limit)
    s, ms = _cold(scorer, lambda b: scorer.score("prompt_injection", b), texts)
    t = scorer.threshold("prompt_injection")
    return [_row("prompt_injection", "prompt_injection_test", y, s, t, ms)]


def eval_xstest(
    scorer: LocalScorer, limit: int | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Over-blocking on XSTest safe prompts, per check and for the union."""
    safe, types, unsafe = xstest(limit)
    rows: list[dict[str, Any]] = []
    flags: dict[str, np.ndarray] = {}
    unsafe_flags: dict[str, np.ndarray] = {}
    for check in INPUT_CHECKS:
        t = scorer.threshold(check)
        s, ms = _cold(scorer, functools.partial(scorer.score, check), safe)
        rows.append(_row(check, "xstest_safe", None, s, t, ms, "share of safe prompts flagged"))
        flags[check] = np.asarray(s) >= t
        unsafe_flags[check] = np.asarray(scorer.score(check, unsafe)) >= t
    union = np.logical_or.reduce([flags[c] for c in INPUT_CHECKS])
    rows.append(
        {
            **_row("union(pi+jb+tox)", "xstest_safe", None, union.astype(float).tolist(), 0.5, []),
            "note": "share of safe prompts flagged by any of the three",
        }
    )
    spans, ms = _cold(scorer, scorer.tag, safe)
    has = [1.0 if s else 0.0 for s in spans]
    rows.append(_row("pii_ner", "xstest_safe", None, has, 0.5, ms, "redacts (does not block)"))
    by_type: dict[str, dict[str, float]] = {}
    for ty in sorted(set(types)):
        idx = np.asarray([x == ty for x in types])
        by_type[ty] = {
            "n": int(idx.sum()),
            **{c: float(flags[c][idx].mean()) for c in INPUT_CHECKS},
            "union": float(union[idx].mean()),
        }
    un_union = np.logical_or.reduce([unsafe_flags[c] for c in INPUT_CHECKS])
    info = {
        "safe_by_type": by_type,
        "unsafe_flagged_share": {
            **{c: float(unsafe_flags[c].mean()) for c in INPUT_CHECKS},
            "union": float(un_union.mean()),
            "n": len(unsafe),
            "note": "for information: these checks are not harmful-request classifiers",
        },
    }
    return rows, info


def bipia_set(limit: int | None) -> tuple[list[str], list[int], list[str]]:
    """``(emails, labels, attack family)``: attack-bearing (1) and clean (0) emails
    (:func:`workbench.analytics.evaluation._builtin.bipia_rows`), at most ``limit`` of each."""
    rows = bipia_rows()
    attacks = _limit([r for r in rows if r["label"] == 1], limit)
    clean = _limit([r for r in rows if r["label"] == 0], limit)
    both = attacks + clean
    return [r["text"] for r in both], [r["label"] for r in both], [r["family"] for r in both]


def eval_bipia(
    scorer: LocalScorer, limit: int | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Indirect injection: attack-bearing vs clean emails, ``prompt_injection``."""
    texts, y, fam = bipia_set(limit)
    s, ms = _cold(scorer, lambda b: scorer.score("prompt_injection", b), texts)
    t = scorer.threshold("prompt_injection")
    row = _row("prompt_injection", "bipia_email", y, s, t, ms, "attacks inserted into emails")
    arr = np.asarray(s)
    famarr = np.asarray(fam)
    info = {
        f"recall_{f}": float((arr[famarr == f] >= t).mean())
        for f in ("text", "code")
        if (famarr == f).any()
    }
    info["clean_flagged_share"] = float((arr[famarr == "clean"] >= t).mean())
    return [row], info


def eval_pii(scorer: LocalScorer, limit: int | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The Presidio held-out split, per entity type."""
    from workbench.guardrails.ml.train_ner import gold_spans

    records = _limit(data.presidio("eval"), limit)
    texts = [r["full_text"] for r in records]
    pred, ms = _cold(scorer, scorer.tag, texts)
    gold = [gold_spans(r) for r in records]
    strict = span_metrics(gold, pred, ["PERSON", "ADDRESS"])
    loc_types = {"STREET_ADDRESS", "GPE", "ZIP_CODE"}
    lenient_gold = [
        [
            {"start": s["start_position"], "end": s["end_position"], "label": "ADDRESS"}
            for s in r["spans"]
            if s["entity_type"] in loc_types
        ]
        for r in records
    ]
    lenient = span_metrics(lenient_gold, pred, ["ADDRESS"])["ADDRESS"]
    rows = []
    for lab, presidio_type in (("PERSON", "PERSON"), ("ADDRESS", "STREET_ADDRESS")):
        m = strict[lab]
        rows.append(
            {
                "check": "pii_ner",
                "dataset": f"presidio_heldout:{presidio_type}",
                "n": m["gold"],
                "threshold": scorer.threshold(PII_NER),
                "flagged_share": None,
                "latency_p50_ms": percentile(ms, 50),
                "latency_p99_ms": percentile(ms, 99),
                "note": f"overlap match; exact recall {m['exact_recall']:.3f}, "
                f"char coverage {m['char_coverage']:.3f}",
                "positives": m["gold"],
                "precision": m["precision"],
                "recall": m["recall"],
                "f1": m["f1"],
                "fpr": None,
                "auc": None,
            }
        )
    info = {
        "records": len(records),
        "strict": strict,
        "address_lenient_precision": lenient["precision"],
        "address_lenient_note": "a predicted ADDRESS overlapping a Presidio STREET_ADDRESS, "
        "GPE or ZIP_CODE span counts as correct",
    }
    return rows, info


PATTERN_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
)


def eval_pattern_pii(limit: int | None) -> list[dict[str, Any]]:
    """The ``pii`` check's patterns on the Presidio held-out split, per entity type."""
    import time

    from workbench.guardrails.validators import find_pii

    records = _limit(data.presidio("eval"), limit)
    gold, pred, ms = [], [], []
    for r in records:
        gold.append(
            [
                {"start": s["start_position"], "end": s["end_position"], "label": s["entity_type"]}
                for s in r["spans"]
                if s["entity_type"] in PATTERN_ENTITIES
            ]
        )
        t0 = time.perf_counter()
        found = find_pii(r["full_text"], list(PATTERN_ENTITIES))
        ms.append((time.perf_counter() - t0) * 1000)
        pred.append([{"start": f.start, "end": f.end, "label": f.entity} for f in found])
    m = span_metrics(gold, pred, list(PATTERN_ENTITIES))
    return [
        {
            "check": "pii",
            "dataset": f"presidio_heldout:{ent}",
            "n": m[ent]["gold"],
            "threshold": None,
            "flagged_share": None,
            "latency_p50_ms": percentile(ms, 50),
            "latency_p99_ms": percentile(ms, 99),
            "note": f"overlap match; exact recall {m[ent]['exact_recall']:.3f}",
            "positives": m[ent]["gold"],
            "precision": m[ent]["precision"],
            "recall": m[ent]["recall"],
            "f1": m[ent]["f1"],
            "fpr": None,
            "auc": None,
        }
        for ent in PATTERN_ENTITIES
    ]


def latency(scorer: LocalScorer, texts: list[str]) -> dict[str, Any]:
    """Every ML check of a text (one encoder pass): alone, and per text in a batch of 32."""
    names = [*TEXT_CLASSIFIERS, PII_NER]
    _, alone = _cold(scorer, lambda b: scorer.scores(names, b), texts)
    per_text: list[float] = []
    for i in range(0, len(texts) - BATCH + 1, BATCH):
        chunk = texts[i : i + BATCH]
        scorer.clear_cache()
        t0 = time.perf_counter()
        scorer.scores(names, chunk)
        per_text.append((time.perf_counter() - t0) * 1000 / len(chunk))
    scorer.clear_cache()
    scorer.scores(names, texts)
    t0 = time.perf_counter()
    scorer.scores(names, texts)
    cached = (time.perf_counter() - t0) * 1000 / max(len(texts), 1)
    tokens = [len(scorer.featurizer.tokenizer(t)["input_ids"]) for t in texts]
    return {
        "checks": names,
        "texts": len(texts),
        "median_tokens": float(np.median(tokens)) if tokens else None,
        "alone_p50_ms": percentile(alone, 50),
        "alone_p99_ms": percentile(alone, 99),
        "batch32_per_text_p50_ms": percentile(per_text, 50),
        "batch32_per_text_p99_ms": percentile(per_text, 99),
        "batches": len(per_text),
        "cached_per_text_ms": cached,
    }


__all__ = [
    "BATCH",
    "INPUT_CHECKS",
    "PATTERN_ENTITIES",
    "bipia_set",
    "eval_bipia",
    "eval_pattern_pii",
    "eval_pii",
    "eval_prompt_injection",
    "eval_xstest",
    "latency",
    "xstest",
]
