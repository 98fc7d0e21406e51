"""A text recipe's training rows and their window-level design matrix.

:func:`gather` reads the recipe's sources (train-role only), including the built
indirect-injection rows (:mod:`~workbench.guardrails.ml.indirect`). :func:`window_matrix`
turns every text into the rows the scorer scores: its windows, optionally its 32-token
sub-windows (:func:`~workbench.guardrails.ml.scorer.sub_window_spans`) and the windows of
its normalised variant. A text's score is the max over its rows, in training as in
scoring. Each row also gets a training label and a flag saying whether it is fitted:

* rows of a negative text: label 0, fitted;
* windows of a positive text without a span (a whole-text label): label 1, fitted; its
  sub-windows are not fitted (which of them holds the attack is unknown);
* rows of a text with an inserted attack: label 1 where the row covers at least half of
  the attack (or the attack covers at least half of the row), label 0 where it shares no
  character with the attack, not fitted otherwise.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.guardrails.ml import data
from workbench.guardrails.ml.encoder import Encoding, Featurizer
from workbench.guardrails.ml.heads import hash_features
from workbench.guardrails.ml.normalize import variant
from workbench.guardrails.ml.recipes import INDIRECT, Source, TextRecipe
from workbench.guardrails.ml.scorer import sub_window_spans, window_texts

Span = tuple[int, int]


@dataclass
class TextData:
    """A recipe's rows: texts, labels, which rows are cross-validated, attack spans."""

    texts: list[str]
    y: np.ndarray
    primary: np.ndarray  # bool
    files: list[dict[str, str]]
    spans: list[Span | None] | None = None  # per text: an inserted attack's span
    source: list[str] | None = None  # per text: the dataset it came from
    neg_weight: np.ndarray | None = None  # per text: weight of its fitted label-0 rows


@dataclass
class WindowMatrix:
    """Window-level design matrix; ``owner[i]`` is the text of window row ``i``,
    ``wy[i]`` its training label, ``fit[i]`` whether it is fitted and ``sw[i]`` its
    sample weight."""

    x: Any  # ndarray or scipy CSR
    owner: np.ndarray
    wy: np.ndarray | None = None
    fit: np.ndarray | None = None
    sw: np.ndarray | None = None


def cut(text: str, max_chars: int | None) -> str:
    """``text`` up to the last line break (else space) before ``max_chars``."""
    if max_chars is None or len(text) <= max_chars:
        return text
    head = text[:max_chars]
    at = max(head.rfind("\n"), 0) or max(head.rfind(" "), 0) or max_chars
    return head[:at].rstrip()


def _source_rows(
    src: Source, seed: int
) -> tuple[list[str], list[int], list[Span | None], list[dict[str, str]]]:
    """``(texts, labels, spans, file records)`` of one source, before ``use`` filtering."""
    if src.dataset == INDIRECT:
        from workbench.guardrails.ml.indirect import ATTACK_SETS, CONTEXT_SETS, build_rows

        rows = build_rows(seed)
        names = [n for n, _ in ATTACK_SETS] + list(CONTEXT_SETS)
        return (
            [r.text for r in rows],
            [r.label for r in rows],
            [r.span for r in rows],
            [data.file_record(n, "train") for n in names],
        )
    t, y = data.texts_labels(src.dataset, "train")
    idx = list(range(len(t)))
    if src.limit is not None and len(idx) > src.limit:
        idx = sorted(random.Random(seed).sample(idx, src.limit))
    texts = [cut(t[i], src.max_chars) for i in idx]
    return texts, [y[i] for i in idx], [None] * len(idx), [data.file_record(src.dataset, "train")]


def gather(recipe: TextRecipe) -> TextData:
    """Read the recipe's sources (train-role only) in recipe order."""
    texts: list[str] = []
    ys: list[int] = []
    prim: list[bool] = []
    spans: list[Span | None] = []
    source: list[str] = []
    weight: list[float] = []
    files: dict[str, dict[str, str]] = {}
    for src in recipe.sources:
        t, y, sp, recs = _source_rows(src, recipe.seed)
        for r in recs:
            files.setdefault(r["name"], r)
        for text, label, span in zip(t, y, sp, strict=True):
            if src.use == "positives" and label != 1 or src.use == "negatives" and label != 0:
                continue
            texts.append(text)
            ys.append(0 if src.use == "as_negatives" else label)
            prim.append(src.role == "primary")
            spans.append(span)
            source.append(src.dataset)
            weight.append(src.neg_weight)
    has_spans = any(s is not None for s in spans)
    return TextData(
        texts,
        np.asarray(ys, dtype=np.int64),
        np.asarray(prim),
        list(files.values()),
        spans if has_spans else None,
        source,
        np.asarray(weight, dtype=np.float64),
    )


def _row_labels(
    label: int, span: Span | None, row_spans: list[Span], n_windows: int, variant: bool
) -> tuple[list[int], list[bool]]:
    """Training labels and fit flags of one text's rows (see the module docstring)."""
    if label == 0:
        return [0] * len(row_spans), [True] * len(row_spans)
    if span is None:
        return [1] * len(row_spans), [i < n_windows for i in range(len(row_spans))]
    if variant:  # the attack's span does not carry over to the normalised text
        return [0] * len(row_spans), [False] * len(row_spans)
    ys: list[int] = []
    fit: list[bool] = []
    for a, b in row_spans:
        inter = max(0, min(b, span[1]) - max(a, span[0]))
        if inter == 0:
            ys.append(0)
            fit.append(True)
        elif inter >= 0.5 * min(span[1] - span[0], b - a):
            ys.append(1)
            fit.append(True)
        else:
            ys.append(0)
            fit.append(False)
    return ys, fit


def _rows_of(
    recipe: TextRecipe, text: str, enc: Encoding
) -> tuple[np.ndarray, list[str], list[Span], int]:
    """Vectors, texts and character spans of a text's windows (then sub-windows)."""
    vecs = [enc.embeddings]
    wt = window_texts(text, enc)
    spans = [(w.char_start, w.char_end) for w in enc.windows]
    if len(enc.windows) == 1:
        spans = [(0, len(text))]
    if recipe.sub_windows:
        sv, ss = sub_window_spans(enc)
        vecs.append(sv)
        wt += [text[a:b] for a, b in ss]
        spans += ss
    return np.vstack(vecs), wt, spans, len(enc.windows)


def window_matrix(
    recipe: TextRecipe, d: TextData | list[str], featurizer: Featurizer
) -> WindowMatrix:
    """Encode the texts (and their normalised variants) and build every row's features."""
    if isinstance(d, TextData):
        td = d
    else:  # bare texts: every row a negative (features only)
        td = TextData(d, np.zeros(len(d), np.int64), np.zeros(len(d), bool), [])
    texts = td.texts
    variants = [(variant(t) if recipe.normalize else None) or t for t in texts]
    extra = [v for t, v in zip(texts, variants, strict=True) if v != t]
    encs = featurizer.encode(texts + extra)
    emb: list[np.ndarray] = []
    wtexts: list[str] = []
    owner: list[int] = []
    wy: list[int] = []
    fit: list[bool] = []
    k = len(texts)
    for i, text in enumerate(texts):
        todo = [(text, encs[i], False)]
        if variants[i] != text:
            todo.append((variants[i], encs[k], True))
            k += 1
        for t, enc, is_variant in todo:
            vecs, wt, spans, n_win = _rows_of(recipe, t, enc)
            span = td.spans[i] if td.spans is not None else None
            ys, fs = _row_labels(int(td.y[i]), span, spans, n_win, is_variant)
            emb.append(vecs)
            wtexts.extend(wt)
            owner.extend([i] * len(wt))
            wy.extend(ys)
            fit.extend(fs)
    dense = np.vstack(emb).astype(np.float64)
    hashed = hash_features(recipe.ngrams, wtexts)
    own, wy_a = np.asarray(owner), np.asarray(wy, dtype=np.int64)
    sw = np.ones(len(own)) if td.neg_weight is None else td.neg_weight[own]
    sw = np.where(wy_a == 0, sw, 1.0)
    arrays = (own, wy_a, np.asarray(fit), sw)
    if hashed is None:
        return WindowMatrix(dense, *arrays)
    from scipy import sparse

    x = sparse.hstack([sparse.csr_matrix(dense), hashed], format="csr", dtype=np.float64)
    return WindowMatrix(x, *arrays)


__all__ = ["Span", "TextData", "WindowMatrix", "cut", "gather", "window_matrix"]
