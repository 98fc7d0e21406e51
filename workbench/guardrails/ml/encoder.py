"""One MiniLM forward pass per text serves every ML check.

:class:`Featurizer` wraps the packaged MiniLM (:meth:`Embedder.load`) and turns texts into
:class:`Encoding` objects: texts longer than :data:`MAX_TOKENS` are split into overlapping
windows of at most that many tokens; each window is run once through the encoder and
yields

* its sentence embedding (mean pooling over the attention mask, L2-normalised: the same
  vector ``Embedder.encode`` returns for a short text), used by the classifier heads;
* its token states (last hidden state per WordPiece token, without [CLS]/[SEP]) with the
  character offsets of each token, used by the PII token tagger.

The forward pass is the embedder's (:meth:`Embedder.hidden_states`: ONNX Runtime on the
CPU by default, torch otherwise), so both give the same vectors and states. With
``precision="int8"`` (or ``Featurizer.load(backend="onnx-int8")``) it runs the int8 graph
that :mod:`workbench.providers._onnx` quantises from the fp32 one instead: faster on the
CPU, vectors within cosine ~0.98 of fp32 (``bench.guardrails_eval`` measures whether the
heads' accuracy holds with it).

Windows of all texts in a call are sorted by length and cut into forward passes (at most
:attr:`Featurizer.batch_size` windows each, each padded to its own longest window) so that
padding plus per-pass overhead is smallest (:meth:`Featurizer._chunks`). Results do not
depend on the chunking beyond float rounding.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.providers.embeddings import BACKEND_ENV, Embedder, mean_pool

#: Tokens per window, [CLS] and [SEP] included (MiniLM was trained on 256).
MAX_TOKENS = 256
#: Tokens shared by two neighbouring windows of a long text.
WINDOW_STRIDE = 32
#: The backend name (``Featurizer.load``) of the int8 ONNX graph.
INT8_BACKEND = "onnx-int8"


@dataclass
class Window:
    """One encoded window of a text."""

    embedding: np.ndarray  # (dim,) float32, unit length
    states: np.ndarray  # (tokens, dim) float32, last hidden state of the text's tokens
    offsets: np.ndarray  # (tokens, 2) int32, character [start, end) of each token
    char_start: int
    char_end: int


@dataclass
class Encoding:
    """A text's windows (one for texts of at most :data:`MAX_TOKENS` tokens)."""

    windows: list[Window]

    @property
    def embeddings(self) -> np.ndarray:
        """``(windows, dim)`` float32 sentence embeddings, one row per window."""
        return np.stack([w.embedding for w in self.windows])

    def embedding(self) -> np.ndarray:
        """One unit vector for the whole text: the token-weighted mean of the windows."""
        if len(self.windows) == 1:
            return self.windows[0].embedding
        weights = np.array([max(len(w.offsets), 1) for w in self.windows], dtype=np.float32)
        vec = (self.embeddings * weights[:, None]).sum(axis=0)
        norm = float(np.linalg.norm(vec))
        return (vec / norm if norm > 0 else vec).astype(np.float32)


def _window(embedding: np.ndarray, hidden: np.ndarray, offsets: Any, n: int) -> Window:
    """One window from its pooled row, its hidden rows and its ``n`` tokens' offsets."""
    offs = np.asarray(offsets[1 : n - 1], dtype=np.int32).reshape(-1, 2)
    return Window(
        embedding=embedding.copy(),
        states=hidden[1 : n - 1].copy(),
        offsets=offs,
        char_start=int(offs[0, 0]) if len(offs) else 0,
        char_end=int(offs[-1, 1]) if len(offs) else 0,
    )


class Featurizer:
    """MiniLM texts -> :class:`Encoding` (windows with embeddings and token states)."""

    batch_size: int = 64
    #: Padded tokens per forward pass at most (see :meth:`_chunks`).
    max_chunk_tokens: int = 8192
    #: Fixed cost of a forward pass in token equivalents (measured on a 2-core CPU:
    #: ~8 ms per pass, ~0.135 ms per token).
    pass_overhead_tokens: int = 60

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_tokens: int = MAX_TOKENS,
        stride: int = WINDOW_STRIDE,
        precision: str = "fp32",
    ) -> None:
        """Use ``embedder``'s model and tokenizer (see :meth:`load`).

        ``precision="int8"``: run the int8 ONNX graph quantised from ``embedder``'s
        weights (CPU only) instead of the embedder's own forward pass.
        """
        if not 8 <= max_tokens <= 512 or not 0 <= stride < max_tokens // 2:
            raise ValueError("need 8 <= max_tokens <= 512 and 0 <= stride < max_tokens / 2")
        if precision not in ("fp32", "int8"):
            raise ValueError(f"precision must be 'fp32' or 'int8', got {precision!r}")
        self.precision = precision
        self._int8: Any = None
        if precision == "int8":
            if str(embedder.device).split(":")[0] != "cpu":
                raise ValueError(f"the int8 graph runs on the CPU, not {embedder.device!r}")
            from workbench.providers._onnx import load_onnx_encoder

            self._int8 = load_onnx_encoder(embedder.model, precision="int8")
        self.embedder = embedder
        self.model = embedder.model
        self.tokenizer = embedder.tokenizer
        self.device = embedder.device
        self.dim = embedder.dim
        self.max_tokens = max_tokens
        self.stride = stride
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        """``onnx-int8``, else the embedder's backend (``onnx`` or ``torch``)."""
        return INT8_BACKEND if self._int8 is not None else str(self.embedder.backend)

    @classmethod
    def load(cls, device: str | None = "cpu", backend: str | None = None) -> Featurizer:
        """The packaged MiniLM (offline), on the CPU unless told otherwise.

        ``backend`` as in :class:`Embedder` (ONNX Runtime on the CPU by default), or
        ``"onnx-int8"`` for the int8 graph (also when ``$WORKBENCH_EMBED_BACKEND`` says so
        and ``backend`` is None).
        """
        choice = (backend or os.environ.get(BACKEND_ENV, "")).strip().lower()
        if choice == INT8_BACKEND:
            # torch holds the weights the int8 graph is built from; no fp32 session opened
            return cls(Embedder.load(device=device, backend="torch"), precision="int8")
        return cls(Embedder.load(device=device, backend=backend))

    def hidden_states(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """The last hidden state of padded token ids (the int8 graph's, or the embedder's)."""
        if self._int8 is not None:
            return self._int8(input_ids, attention_mask, np.zeros_like(input_ids))  # type: ignore[no-any-return]
        return self.embedder.hidden_states(input_ids, attention_mask)

    def _tokenize(self, texts: list[str]) -> tuple[list[list[int]], list[Any], list[int]]:
        enc = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_tokens,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            return_token_type_ids=False,
            return_attention_mask=False,
        )
        return enc["input_ids"], enc["offset_mapping"], enc["overflow_to_sample_mapping"]

    def encode(self, texts: list[str]) -> list[Encoding]:
        """Encode ``texts`` (one forward pass per window; thread-safe)."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of strings, not a string")
        if not texts:
            return []
        ids, offsets, owner = self._tokenize(list(texts))
        per_text: list[list[tuple[int, Window]]] = [[] for _ in texts]
        pad = int(self.tokenizer.pad_token_id or 0)
        with self._lock:
            for chunk in self._chunks([len(x) for x in ids]):
                width = max(len(ids[i]) for i in chunk)
                input_ids = np.full((len(chunk), width), pad, dtype=np.int64)
                mask = np.zeros((len(chunk), width), dtype=np.int64)
                for row, i in enumerate(chunk):
                    input_ids[row, : len(ids[i])] = ids[i]
                    mask[row, : len(ids[i])] = 1
                hidden = self.hidden_states(input_ids, mask)
                pooled = mean_pool(hidden, mask)
                for row, i in enumerate(chunk):
                    window = _window(pooled[row], hidden[row], offsets[i], len(ids[i]))
                    per_text[owner[i]].append((i, window))
        return [Encoding(windows=[w for _, w in sorted(ws, key=lambda t: t[0])]) for ws in per_text]

    def _chunks(self, lengths: list[int]) -> list[list[int]]:
        """Window indices sorted by length, cut into forward passes of least total cost.

        The encoder's cost is about linear in the padded tokens of a pass plus a fixed
        cost per pass (:attr:`pass_overhead_tokens`, in token equivalents). Over the
        windows sorted by length, a dynamic programme picks contiguous passes of at most
        :attr:`batch_size` windows and :attr:`max_chunk_tokens` padded tokens minimising
        ``sum(overhead + windows * longest)``: a few long windows do not pad a batch of
        short ones to their length.
        """
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        ls = [lengths[i] for i in order]
        n = len(ls)
        inf = float("inf")
        cost = [0.0] + [inf] * n
        cut = [0] * (n + 1)
        for j in range(1, n + 1):
            longest = ls[j - 1]
            for i in range(j - 1, max(0, j - self.batch_size) - 1, -1):
                if (j - i) * longest > self.max_chunk_tokens and i < j - 1:
                    break
                c = cost[i] + self.pass_overhead_tokens + (j - i) * longest
                if c < cost[j]:
                    cost[j], cut[j] = c, i
        chunks: list[list[int]] = []
        j = n
        while j > 0:
            chunks.append(order[cut[j] : j])
            j = cut[j]
        return chunks[::-1]

    def embed(self, texts: list[str]) -> np.ndarray:
        """``(n, dim)`` unit vectors, one per text (windows averaged for long texts)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([e.embedding() for e in self.encode(texts)])


__all__ = ["INT8_BACKEND", "MAX_TOKENS", "WINDOW_STRIDE", "Encoding", "Featurizer", "Window"]
