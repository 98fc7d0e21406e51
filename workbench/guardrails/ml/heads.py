"""Classifier heads on MiniLM features, their weight files and manifests.

A :class:`TextHead` scores a text window: a logistic regression on the window's sentence
embedding, optionally fused with hashed n-grams of the window's text (:class:`NgramHash`
blocks, stateless, so nothing but the weights is stored). A
:class:`TokenHead` labels WordPiece tokens from their last hidden state (with the states
of their neighbours). Weights live in ``weights/<name>.npz`` beside ``weights/<name>.json``
(the manifest: recipe, data hashes, metrics, threshold). Inference is plain numpy.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class NgramHash:
    """Hashed n-grams of a window's text (lower-cased, l2-normalised, no idf).

    Stateless (scikit-learn's HashingVectorizer), so nothing but the weights is stored.
    ``analyzer`` is ``char_wb`` (character n-grams inside word boundaries) or ``word``.
    """

    analyzer: str = "char_wb"
    ngram_min: int = 2
    ngram_max: int = 5
    n_features: int = 2**16

    def vectorizer(self) -> Any:
        """The scikit-learn HashingVectorizer."""
        from sklearn.feature_extraction.text import HashingVectorizer

        return HashingVectorizer(
            analyzer=self.analyzer,
            ngram_range=(self.ngram_min, self.ngram_max),
            n_features=self.n_features,
            alternate_sign=False,
            norm="l2",
            lowercase=True,
        )

    def to_json(self) -> dict[str, Any]:
        """The config as JSON (for the manifest)."""
        return {
            "analyzer": self.analyzer,
            "ngram_range": [self.ngram_min, self.ngram_max],
            "n_features": self.n_features,
            "alternate_sign": False,
            "norm": "l2",
            "lowercase": True,
        }

    @classmethod
    def from_json(cls, cfg: dict[str, Any]) -> NgramHash:
        """Inverse of :meth:`to_json`."""
        lo, hi = cfg["ngram_range"]
        return cls(str(cfg["analyzer"]), int(lo), int(hi), int(cfg["n_features"]))


def hash_features(ngrams: tuple[NgramHash, ...], texts: list[str]) -> Any:
    """The n-gram blocks of ``texts`` side by side (scipy CSR), or None without blocks."""
    if not ngrams:
        return None
    from scipy import sparse

    return sparse.hstack([g.vectorizer().transform(texts) for g in ngrams], format="csr")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


@dataclass
class TextHead:
    """Logistic regression on ``[embedding ; hashed n-gram blocks]`` of a text window."""

    name: str
    emb_coef: np.ndarray  # (dim,) float64
    intercept: float
    threshold: float
    ngrams: tuple[NgramHash, ...] = ()
    # Non-zero n-gram coefficients (indices into the concatenated blocks).
    hash_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    hash_value: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    #: score the normalised variant too (max); False for heads trained before it existed
    normalize: bool = False
    _dense: Any = field(default=None, repr=False, compare=False)

    def hash_features(self, texts: list[str]) -> Any:
        """The sparse n-gram matrix of ``texts`` (None without n-gram blocks)."""
        return hash_features(self.ngrams, texts)

    def hash_coef(self) -> np.ndarray:
        """The dense n-gram coefficient vector (all blocks)."""
        coef = np.zeros(sum(g.n_features for g in self.ngrams), dtype=np.float64)
        coef[self.hash_index] = self.hash_value
        return coef

    def predict(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        """Probabilities, one per window (``embeddings[i]`` is the window ``texts[i]``)."""
        z = embeddings.astype(np.float64) @ self.emb_coef + self.intercept
        h = self.hash_features(texts)
        if h is not None and len(self.hash_index):
            if self._dense is None:
                self._dense = self.hash_coef()
            z = z + h @ self._dense
        return sigmoid(np.asarray(z, dtype=np.float64))

    def arrays(self) -> dict[str, np.ndarray]:
        """What the ``.npz`` file holds."""
        return {
            "emb_coef": self.emb_coef,
            "intercept": np.array([self.intercept]),
            "hash_index": self.hash_index.astype(np.int64),
            "hash_value": self.hash_value,
        }


@dataclass
class TokenHead:
    """Multinomial logistic regression per WordPiece token (IO tags)."""

    name: str
    labels: list[str]  # labels[0] == "O"
    coef: np.ndarray  # (k, dim * (2 * context + 1))
    intercept: np.ndarray  # (k,)
    threshold: float
    context: int = 1
    shape: bool = False

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``(tokens, k)`` label probabilities."""
        z = features.astype(np.float64) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def arrays(self) -> dict[str, np.ndarray]:
        """What the ``.npz`` file holds."""
        return {"coef": self.coef, "intercept": self.intercept}


Head = TextHead | TokenHead


# ----------------------------------------------------------------------------- files
def manifest_path(name: str, weights_dir: Path | None = None) -> Path:
    """``<weights_dir>/<name>.json``."""
    return (weights_dir or WEIGHTS_DIR) / f"{name}.json"


def read_manifest(name: str, weights_dir: Path | None = None) -> dict[str, Any]:
    """The manifest of head ``name`` (FileNotFoundError when it was never trained)."""
    data: dict[str, Any] = json.loads(manifest_path(name, weights_dir).read_text())
    return data


def user_weights_dir() -> Path:
    """``$WORKBENCH_HOME/guardrails/weights``: where ``workbench guardrails train`` writes."""
    from workbench.home import home

    return home() / "guardrails" / "weights"


def head_dir(name: str, weights_dir: Path | None = None) -> Path:
    """The folder head ``name`` loads from: ``weights_dir`` when given, else the head the
    user trained (:func:`user_weights_dir`) when there is one, else the committed head."""
    if weights_dir is not None:
        return weights_dir
    user = user_weights_dir()
    return user if manifest_path(name, user).is_file() else WEIGHTS_DIR


@functools.lru_cache(maxsize=32)
def trained_threshold(name: str) -> float:
    """The threshold in the manifest of head ``name`` as :func:`head_dir` finds it (cached)."""
    return float(read_manifest(name, head_dir(name))["threshold"])


def save_head(head: Head, manifest: dict[str, Any], weights_dir: Path) -> Path:
    """Write ``<name>.npz`` and ``<name>.json``; returns the manifest path."""
    from workbench.guardrails.ml.data import sha256

    weights_dir.mkdir(parents=True, exist_ok=True)
    npz = weights_dir / f"{head.name}.npz"
    with npz.open("wb") as f:  # np.savez_compressed(path) would append ".npz" itself
        np.savez_compressed(f, **head.arrays())  # type: ignore[arg-type]
    manifest = {**manifest, "weights": {"file": npz.name, "sha256": sha256(npz)}}
    path = manifest_path(head.name, weights_dir)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def load_head(name: str, weights_dir: Path | None = None) -> Head:
    """Load head ``name`` (its manifest says which kind it is)."""
    wd = weights_dir or WEIGHTS_DIR
    man = read_manifest(name, wd)
    with np.load(wd / man["weights"]["file"]) as z:
        arrays = {k: z[k] for k in z.files}
    threshold = float(man["threshold"])
    if man["kind"] == "token_head":
        return TokenHead(
            name=name,
            labels=list(man["recipe"]["labels"]),
            coef=arrays["coef"],
            intercept=arrays["intercept"],
            threshold=threshold,
            context=int(man["recipe"]["context"]),
            shape=bool(man["recipe"].get("shape", False)),
        )
    ngrams = tuple(NgramHash.from_json(c) for c in man["recipe"]["features"].get("ngrams", []))
    return TextHead(
        name=name,
        emb_coef=arrays["emb_coef"],
        intercept=float(arrays["intercept"][0]),
        threshold=threshold,
        ngrams=ngrams,
        hash_index=arrays["hash_index"],
        hash_value=arrays["hash_value"],
        normalize=bool(man["recipe"].get("normalize", False)),
    )


__all__ = [
    "WEIGHTS_DIR",
    "head_dir",
    "user_weights_dir",
    "NgramHash",
    "Head",
    "TextHead",
    "TokenHead",
    "hash_features",
    "load_head",
    "manifest_path",
    "read_manifest",
    "save_head",
    "sigmoid",
    "trained_threshold",
]
