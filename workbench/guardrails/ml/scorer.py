"""The ML scorer: one MiniLM pass per text, every classifier head on top of it.

:class:`Scorer` is the protocol the guardrail engine talks to (the gateway wraps a
:class:`LocalScorer` in a Ray Serve deployment with ``@serve.batch``; this module does not
import Ray). :class:`LocalScorer` is the in-process implementation:

* texts are hashed (blake2b) and looked up in an LRU cache of :class:`Analysis` objects;
* the texts not in the cache are encoded together, in chunks of 64 windows, by one
  :class:`~workbench.guardrails.ml.encoder.Featurizer` pass that yields the sentence
  embedding of each window *and* its token states; the PII tagger runs on the token
  states right away, so ``tag`` after ``score`` (or the other way round) costs nothing;
* classifier probabilities are computed from the cached embeddings and memoised per
  text: the max over the text's windows (256 tokens) and over mean-pooled runs of 32
  tokens inside them (:func:`sub_windows`), so that a short injection or insult inside a
  long text is not diluted;
* heads trained with normalisation (``TextHead.normalize``) also score the text's
  de-obfuscated variant (:func:`~workbench.guardrails.ml.normalize.normalize`: base64,
  leetspeak, spacing, homoglyphs, zero-width characters) when it differs, and take the
  max; the variant is analysed (and cached by its hash) like any text.

It is thread-safe: the encoder runs under one lock, and a text being encoded by one
thread is picked up from the cache by the others.

Classifier names: ``prompt_injection``, ``jailbreak``, ``toxicity`` (probabilities),
``pii_ner`` (use :meth:`LocalScorer.tag`), and ``embedding`` (the text's unit vector as a
list of floats, for the ``topic`` check; ``score("embedding", ...)`` returns those vectors).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from workbench.guardrails.ml.encoder import Encoding, Featurizer
from workbench.guardrails.ml.heads import TextHead, TokenHead, head_dir, load_head
from workbench.guardrails.ml.ner import tag as ner_tag
from workbench.guardrails.ml.normalize import variant

TEXT_CLASSIFIERS = ("prompt_injection", "jailbreak", "toxicity")
PII_NER = "pii_ner"
EMBEDDING = "embedding"


@runtime_checkable
class Scorer(Protocol):
    """What the engine needs from an ML scorer (local or behind a Serve handle)."""

    def score(self, classifier: str, texts: list[str]) -> list[float]:
        """One probability per text (``embedding``: one unit vector per text)."""
        ...

    def tag(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        """PII spans ``{start, end, label, score}`` per text."""
        ...


@dataclass
class Analysis:
    """Everything the ML checks need about one text, from one encoder pass.

    ``embeddings``/``window_texts``: the windows, then the sub-windows; a classifier's
    score is the max over all of them.
    """

    window_texts: list[str]
    embeddings: np.ndarray  # (windows + sub-windows, dim)
    embedding: np.ndarray  # (dim,)
    spans: list[dict[str, Any]] | None
    scores: dict[str, float] = field(default_factory=dict)
    #: the normalised text ("" until computed; None when it equals the text)
    variant: str | None = ""


def _variant(text: str, a: Analysis) -> str | None:
    """The normalised variant of ``text`` when it differs (memoised on its analysis)."""
    if a.variant == "":
        a.variant = variant(text)
    return a.variant


def text_key(text: str) -> bytes:
    """Cache key of a text: a 16-byte blake2b digest of its UTF-8 bytes."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def window_texts(text: str, enc: Encoding) -> list[str]:
    """The text of each window (the whole text when it fits in one window)."""
    if len(enc.windows) == 1:
        return [text]
    return [text[w.char_start : w.char_end] for w in enc.windows]


#: Sub-window pooling at scoring time: tokens per sub-window and step between them.
SUB_WINDOW = 32
SUB_STRIDE = 16


def sub_windows(
    text: str, enc: Encoding, size: int = SUB_WINDOW, stride: int = SUB_STRIDE
) -> tuple[np.ndarray, list[str]]:
    """Mean-pooled, unit-length vectors of overlapping token runs inside each window.

    A short injection inside a long benign text is diluted in the window's mean; pooling
    the (already contextualised) token states of short runs finds it again, at no extra
    encoder cost. Windows of at most ``size`` tokens give nothing.
    """
    vecs, spans = sub_window_spans(enc, size, stride)
    return vecs, [text[a:b] for a, b in spans]


def sub_window_spans(
    enc: Encoding, size: int = SUB_WINDOW, stride: int = SUB_STRIDE
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The vectors of :func:`sub_windows` and the character span of each."""
    vecs: list[np.ndarray] = []
    spans: list[tuple[int, int]] = []
    for w in enc.windows:
        n = len(w.offsets)
        if size <= 0 or n <= size:
            continue
        starts = list(range(0, n - size + 1, stride))
        if starts[-1] != n - size:
            starts.append(n - size)
        csum = np.concatenate([np.zeros((1, w.states.shape[1])), np.cumsum(w.states, axis=0)])
        for a in starts:
            v = (csum[a + size] - csum[a]) / size
            vecs.append(v / max(float(np.linalg.norm(v)), 1e-12))
            spans.append((int(w.offsets[a, 0]), int(w.offsets[a + size - 1, 1])))
    dim = enc.windows[0].states.shape[1] if enc.windows else 0
    arr = np.asarray(vecs, dtype=np.float32) if vecs else np.zeros((0, dim), dtype=np.float32)
    return arr, spans


class LocalScorer:
    """In-process, thread-safe, batched, caching implementation of :class:`Scorer`."""

    def __init__(
        self,
        weights_dir: Path | str | None = None,
        *,
        featurizer: Featurizer | None = None,
        cache_size: int = 8192,
        device: str | None = "cpu",
        sub_window: int = SUB_WINDOW,
        sub_stride: int = SUB_STRIDE,
    ) -> None:
        """Nothing heavy happens here: the model and heads load on first use.

        ``sub_window`` tokens (0: off) is the length of the token runs pooled, in
        addition to whole windows, when scoring longer texts (see :func:`sub_windows`).
        """
        # None: per head, the one `workbench guardrails train` wrote, else the committed one
        self.weights_dir = Path(weights_dir) if weights_dir else None
        self.sub_window = sub_window
        self.sub_stride = sub_stride
        self.cache_size = cache_size
        self.device = device
        self._featurizer = featurizer
        self._heads: dict[str, TextHead] | None = None
        self._ner: TokenHead | None = None
        self._cache: OrderedDict[bytes, Analysis] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._compute_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self.stats = {"hits": 0, "misses": 0, "windows": 0}

    # ------------------------------------------------------------------ loading
    def _load(self) -> None:
        with self._load_lock:
            if self._heads is not None:
                return
            if self._featurizer is None:
                self._featurizer = Featurizer.load(device=self.device)
            heads: dict[str, TextHead] = {}
            for name in TEXT_CLASSIFIERS:
                wd = head_dir(name, self.weights_dir)
                if (wd / f"{name}.json").is_file():
                    h = load_head(name, wd)
                    assert isinstance(h, TextHead)
                    heads[name] = h
            wd = head_dir(PII_NER, self.weights_dir)
            if (wd / f"{PII_NER}.json").is_file():
                ner = load_head(PII_NER, wd)
                assert isinstance(ner, TokenHead)
                self._ner = ner
            self._heads = heads

    @property
    def featurizer(self) -> Featurizer:
        """The MiniLM featurizer (loaded on first use)."""
        self._load()
        assert self._featurizer is not None
        return self._featurizer

    @property
    def classifiers(self) -> list[str]:
        """Names ``score`` accepts (trained heads, plus ``embedding``)."""
        self._load()
        assert self._heads is not None
        return [*self._heads, EMBEDDING]

    def head(self, classifier: str) -> TextHead:
        """The trained head ``classifier`` (KeyError when unknown or not trained)."""
        self._load()
        assert self._heads is not None
        if classifier not in self._heads:
            raise KeyError(
                f"unknown classifier {classifier!r}; have {sorted(self._heads)} "
                "(train with `workbench guardrails train`)"
            )
        return self._heads[classifier]

    def threshold(self, classifier: str) -> float:
        """The threshold chosen at training time for ``classifier`` (or ``pii_ner``)."""
        if classifier == PII_NER:
            self._load()
            if self._ner is None:
                raise KeyError("pii_ner is not trained")
            return self._ner.threshold
        return self.head(classifier).threshold

    def warmup(self) -> None:
        """Load everything and run one text through every head (first-call costs)."""
        text = ["warm-up: Jane Doe lives at 1 Main Street."]
        for name in self.classifiers:
            self.score(name, text)
        self.clear_cache()

    # ------------------------------------------------------------------ analysis
    def analyze(self, texts: list[str]) -> list[Analysis]:
        """One :class:`Analysis` per text, from the cache or one batched encoder pass."""
        if isinstance(texts, str):
            raise TypeError("pass a list of strings, not a string")
        self._load()
        keys = [text_key(t) for t in texts]
        found = self._lookup(keys)
        if any(a is None for a in found):
            with self._compute_lock:
                found = self._lookup(keys, count=False)
                todo: dict[bytes, str] = {}
                for k, t, a in zip(keys, texts, found, strict=True):
                    if a is None:
                        todo.setdefault(k, t)
                made = self._compute(todo) if todo else {}
                found = [a if a is not None else made[k] for k, a in zip(keys, found, strict=True)]
        out: list[Analysis] = []
        for a in found:
            assert a is not None
            out.append(a)
        return out

    def _lookup(self, keys: list[bytes], count: bool = True) -> list[Analysis | None]:
        with self._cache_lock:
            found: list[Analysis | None] = []
            for k in keys:
                a = self._cache.get(k)
                if a is not None:
                    self._cache.move_to_end(k)
                found.append(a)
            if count:
                hits = sum(a is not None for a in found)
                self.stats["hits"] += hits
                self.stats["misses"] += len(keys) - hits
            return found

    def _compute(self, todo: dict[bytes, str]) -> dict[bytes, Analysis]:
        texts = list(todo.values())
        encs = self.featurizer.encode(texts)
        made: dict[bytes, Analysis] = {}
        for key, text, enc in zip(todo, texts, encs, strict=True):
            sub_vecs, sub_texts = sub_windows(text, enc, self.sub_window, self.sub_stride)
            made[key] = Analysis(
                window_texts=window_texts(text, enc) + sub_texts,
                embeddings=np.vstack([enc.embeddings, sub_vecs]),
                embedding=enc.embedding(),
                spans=ner_tag(self._ner, text, enc) if self._ner is not None else None,
            )
            self.stats["windows"] += len(enc.windows)
        with self._cache_lock:
            for k, a in made.items():
                self._cache[k] = a
                self._cache.move_to_end(k)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return made

    def clear_cache(self) -> None:
        """Drop every cached analysis."""
        with self._cache_lock:
            self._cache.clear()

    # ------------------------------------------------------------------ the protocol
    def score(self, classifier: str, texts: list[str]) -> list[Any]:
        """Probabilities of ``classifier`` per text (``embedding``: unit vectors)."""
        if classifier == EMBEDDING:
            return [a.embedding.tolist() for a in self.analyze(texts)]
        if classifier == PII_NER:
            raise KeyError("pii_ner is a tagger: call tag(texts)")
        head = self.head(classifier)
        analyses = self.analyze(texts)
        if not head.normalize:
            return self._raw_scores(head, analyses)
        variants = [_variant(t, a) for t, a in zip(texts, analyses, strict=True)]
        extra = [v for v in variants if v is not None]
        raw = self._raw_scores(head, analyses + (self.analyze(extra) if extra else []))
        out: list[float] = []
        k = len(analyses)
        for i, v in enumerate(variants):
            if v is None:
                out.append(raw[i])
            else:  # the max over the text's windows and its normalised variant's
                out.append(max(raw[i], raw[k]))
                k += 1
        return out

    def _raw_scores(self, head: TextHead, analyses: list[Analysis]) -> list[float]:
        """The head's max window probability of each analysed text (memoised)."""
        classifier = head.name
        todo = [a for a in analyses if classifier not in a.scores]
        if todo:  # one head call for every window of every new text
            probs = head.predict(
                np.vstack([a.embeddings for a in todo]),
                [t for a in todo for t in a.window_texts],
            )
            pos = 0
            for a in todo:
                n = len(a.window_texts)
                a.scores[classifier] = float(np.max(probs[pos : pos + n]))
                pos += n
        return [a.scores[classifier] for a in analyses]

    def tag(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        """PII spans (PERSON, ADDRESS) per text: ``{start, end, label, score}``."""
        self._load()
        if self._ner is None:
            raise KeyError("pii_ner is not trained (run `workbench guardrails train`)")
        return [[dict(s) for s in a.spans or []] for a in self.analyze(texts)]

    def embed(self, texts: list[str]) -> np.ndarray:
        """``(n, dim)`` unit vectors (long texts: token-weighted mean of their windows)."""
        analyses = self.analyze(texts)
        if not analyses:
            return np.zeros((0, self.featurizer.dim), dtype=np.float32)
        return np.stack([a.embedding for a in analyses])

    def scores(self, classifiers: list[str], texts: list[str]) -> list[dict[str, Any]]:
        """Every named classifier for every text, as the engine's ``metadata["scores"]``."""
        self.analyze(texts)  # one encoder pass for all of them
        per_text: list[dict[str, Any]] = [{} for _ in texts]
        for cl in classifiers:
            values: list[Any] = self.tag(texts) if cl == PII_NER else self.score(cl, texts)
            for i, v in enumerate(values):
                per_text[i][cl] = v
        return per_text


_default: LocalScorer | None = None
_default_lock = threading.Lock()


def get_scorer() -> LocalScorer:
    """The process-wide :class:`LocalScorer` (created on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = LocalScorer()
    return _default


__all__ = [
    "EMBEDDING",
    "PII_NER",
    "TEXT_CLASSIFIERS",
    "Analysis",
    "LocalScorer",
    "Scorer",
    "get_scorer",
    "sub_window_spans",
    "sub_windows",
    "text_key",
    "window_texts",
]
