"""Prompt and tokenizer helpers for the local engine: message text, EOS ids, context length.

Private to :mod:`workbench.providers.local`.
"""

from __future__ import annotations

from typing import Any

#: Context length assumed when neither the model config nor the tokenizer names one.
_FALLBACK_CONTEXT = 2048


def _message_text(content: Any) -> str:
    """Flatten OpenAI message content (a string or a list of parts) to text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                if part.get("type", "text") == "text":
                    texts.append(str(part.get("text", "")))
            else:
                texts.append(str(part))
        return "".join(texts)
    return str(content)


def _plain_chat(messages: list[dict[str, Any]]) -> str:
    """Role-tagged lines, for tokenizers that ship no chat template."""
    lines = [f"{m.get('role', 'user')}: {_message_text(m.get('content'))}" for m in messages]
    return "\n".join(lines) + "\nassistant:"


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """EOS token ids named by the generation config, the model config and the tokenizer."""
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return frozenset(ids)


def _context_length(model: Any, tokenizer: Any) -> int:
    """The context length named by the model config, else the tokenizer, else a default."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        return tok_max
    return _FALLBACK_CONTEXT
