"""Train the PII token tagger (``pii_ner``) on the Presidio train split.

Only records with ``index % 5 != 0`` are read (:func:`data.presidio("train")`); the rest
is the evaluation's. Folds group tokens by record, so no text is split across folds.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from workbench.guardrails.ml import data, ner
from workbench.guardrails.ml.encoder import Encoding, Featurizer
from workbench.guardrails.ml.heads import TokenHead
from workbench.guardrails.ml.metrics import spans as span_metrics
from workbench.guardrails.ml.recipes import TokenRecipe
from workbench.guardrails.ml.train import (
    MAX_ITER,
    TOL,
    encoder_info,
    library_versions,
    single_threaded_blas,
)

log = logging.getLogger(__name__)


def gold_spans(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A Presidio record's PERSON / ADDRESS spans in our ``{start, end, label}`` form."""
    return [
        {
            "start": int(s["start_position"]),
            "end": int(s["end_position"]),
            "label": ner.PRESIDIO_MAP[s["entity_type"]],
        }
        for s in record["spans"]
        if s["entity_type"] in ner.PRESIDIO_MAP
    ]


def token_matrix(
    records: list[dict[str, Any]], encs: list[Encoding], context: int, shape: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(features, labels, record index)`` of every token of every window."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    gs: list[np.ndarray] = []
    for i, (rec, enc) in enumerate(zip(records, encs, strict=True)):
        chars = ner.char_labels(rec["full_text"], rec["spans"])
        for w in enc.windows:
            if not len(w.offsets):
                continue
            xs.append(ner.token_features(w, context, rec["full_text"], shape))
            ys.append(ner.token_labels(w, chars))
            gs.append(np.full(len(w.offsets), i))
    return (
        np.vstack(xs).astype(np.float64),
        np.concatenate(ys),
        np.concatenate(gs),
    )


def _fit(x: np.ndarray, y: np.ndarray, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    with single_threaded_blas():
        return LogisticRegression(C=c, max_iter=MAX_ITER, tol=TOL, solver="lbfgs").fit(x, y)


def _head(model: Any, recipe: TokenRecipe, threshold: float) -> TokenHead:
    return TokenHead(
        name=recipe.name,
        labels=list(recipe.labels),
        coef=np.asarray(model.coef_, dtype=np.float64),
        intercept=np.asarray(model.intercept_, dtype=np.float64),
        threshold=threshold,
        context=recipe.context,
        shape=recipe.shape,
    )


def _decode_all(
    head: TokenHead, records: list[dict[str, Any]], encs: list[Encoding], t: float
) -> list[list[dict[str, Any]]]:
    probs = [ner.token_probs(head, r["full_text"], e) for r, e in zip(records, encs, strict=True)]
    return [
        ner.decode(r["full_text"], p, t, head.labels) for r, p in zip(records, probs, strict=True)
    ]


def _summary(m: dict[str, dict[str, float]]) -> dict[str, float]:
    flat: dict[str, float] = {}
    for lab, v in m.items():
        for k in ("precision", "recall", "f1", "exact_recall", "char_coverage"):
            flat[f"{lab.lower()}_{k}"] = v[k]
    flat["mean_f1"] = float(np.mean([v["f1"] for v in m.values()]))
    return flat


def train_token_head(
    recipe: TokenRecipe, featurizer: Featurizer
) -> tuple[TokenHead, dict[str, Any]]:
    """Fit the tagger: C and threshold by grouped CV (mean overlap-span F1), then refit."""
    from sklearn.model_selection import GroupKFold

    records = data.presidio("train")
    encs = featurizer.encode([r["full_text"] for r in records])
    x, y, groups = token_matrix(records, encs, recipe.context, recipe.shape)
    gold = [gold_spans(r) for r in records]
    entity_labels = list(recipe.labels[1:])
    grid: list[dict[str, Any]] = []
    best: tuple[float, float, float] | None = None  # (mean f1, C, t)
    folds = list(GroupKFold(n_splits=recipe.folds).split(x, y, groups))
    for c in recipe.c_grid:
        pred_by_t: dict[float, list[list[dict[str, Any]]]] = {
            t: [[] for _ in records] for t in recipe.thresholds
        }
        for tr, te in folds:
            head = _head(_fit(x[tr], y[tr], c), recipe, 0.5)
            test_records = sorted(set(groups[te].tolist()))
            probs = {
                i: ner.token_probs(head, records[i]["full_text"], encs[i]) for i in test_records
            }
            for t in recipe.thresholds:
                for i in test_records:
                    text = records[i]["full_text"]
                    pred_by_t[t][i] = ner.decode(text, probs[i], t, head.labels)
        for t in recipe.thresholds:
            m = _summary(span_metrics(gold, pred_by_t[t], entity_labels))
            grid.append({"C": c, "threshold": t, **m})
            log.info("pii_ner C=%g t=%.2f mean f1=%.4f", c, t, m["mean_f1"])
            if best is None or m["mean_f1"] > best[0] + 1e-12:
                best = (m["mean_f1"], c, t)
    assert best is not None
    _, c_best, t_best = best
    cv = next(g for g in grid if g["C"] == c_best and g["threshold"] == t_best)
    head = _head(_fit(x, y, c_best), recipe, t_best)
    train_m = _summary(span_metrics(gold, _decode_all(head, records, encs, t_best), entity_labels))
    manifest: dict[str, Any] = {
        "name": recipe.name,
        "kind": "token_head",
        "created_by": "workbench guardrails train",
        "recipe": {
            "labels": list(recipe.labels),
            "tagging": "IO per WordPiece token; label of the token's first character",
            "presidio_map": ner.PRESIDIO_MAP,
            "context": recipe.context,
            "shape": recipe.shape,
            "shape_features": list(ner.SHAPES) if recipe.shape else [],
            "features": {
                "token": f"MiniLM last hidden state of the token and of {recipe.context} "
                "neighbour(s) on each side (zeros past a window edge)"
            },
            "model": "sklearn LogisticRegression(solver=lbfgs, multinomial, penalty=l2)",
            "hyperparameters": {"C": c_best, "max_iter": MAX_ITER, "tol": TOL},
            "selection": {
                "C_and_threshold": f"max mean overlap-span F1 (PERSON, ADDRESS) over "
                f"C in {list(recipe.c_grid)} x threshold in {list(recipe.thresholds)}",
                "folds": f"GroupKFold(n_splits={recipe.folds}) by record",
            },
            "decoding": "see workbench.guardrails.ml.ner (word groups, max over pieces)",
            "split": f"records with index % {data.PRESIDIO_FOLDS} != 0",
            "seed": recipe.seed,
            "encoder": encoder_info(featurizer),
            "libraries": library_versions(),
            "tried": list(recipe.notes),
        },
        "data": [
            data.file_record("pii_presidio_synth", "train"),
            {
                "records": len(records),
                "tokens": int(len(y)),
                "token_label_counts": {
                    lab: int((y == i).sum()) for i, lab in enumerate(recipe.labels)
                },
            },
        ],
        "metrics": {
            "cv": {k: v for k, v in cv.items() if k not in ("C", "threshold")},
            "cv_grid": grid,
            "train": train_m,
        },
        "threshold": float(t_best),
    }
    return head, manifest


__all__ = ["gold_spans", "token_matrix", "train_token_head"]
