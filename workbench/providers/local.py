"""The local transformers engine: one batched decode loop, no Ray.

:class:`LocalModel` loads any Hugging Face causal LM (a directory, a hub id, or the
built-in ``"tiny"`` test model) and serves a *batch* of requests, each with its own
sampling parameters, through one manual token-by-token loop with a KV cache:

* the prompts are left-padded, with an attention mask and per-row position ids, so a
  row's logits do not depend on what it is batched with (greedy output batched equals
  greedy output alone);
* every row samples on its own: temperature (``0`` is greedy, ``None`` is ``1.0`` as
  in the OpenAI API), nucleus ``top_p``, and a private :class:`torch.Generator` seeded
  by ``seed`` so that the same seed gives the same text;
* every row stops on its own: EOS (``"stop"``), a stop string (``"stop"``; the stop
  text is not emitted, and text that could still become a stop string is held back
  until it is resolved) or its token budget (``"length"``); finished rows leave the
  batch.

The Ray Serve replica (``serve/``) wraps :meth:`LocalModel.generate_stream` in
``@serve.batch``; notebooks and tests call it directly. A model object is not
thread-safe: drive one decode loop at a time.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Generator
from typing import Any

from workbench.errors import InvalidRequestError
from workbench.providers._decode import _IncrementalDetokenizer, _Row
from workbench.providers._decode import _sample as _sample_tokens
from workbench.providers._decode import _stop_hold as _stop_hold  # re-exported for tests
from workbench.providers._prompt import _context_length, _eos_ids, _message_text, _plain_chat
from workbench.providers._resolve import HUB_PROBE_TIMEOUT_S as HUB_PROBE_TIMEOUT_S
from workbench.providers._resolve import (
    ModelUnavailableError,
    ResolvedModel,
    _load_pretrained,
    hub_offline,
    resolve_model,
)
from workbench.providers._types import ChatRequest, Completion, Delta

log = logging.getLogger(__name__)

#: Tokens generated when a request does not say (``max_tokens`` is ``None``).
DEFAULT_MAX_TOKENS = 256


# --------------------------------------------------------------------------- the model


class CompletionCollector:
    """Gathers the per-step deltas of one batch into whole completions, in order."""

    def __init__(self, n: int) -> None:
        self.texts: list[list[str]] = [[] for _ in range(n)]
        self.finals: list[Delta | None] = [None] * n

    def add(self, step: list[Delta | None]) -> None:
        """Take one decode step (one entry per row; None: nothing this step)."""
        for i, delta in enumerate(step):
            if delta is None:
                continue
            self.texts[i].append(delta.text)
            if delta.finish_reason is not None:
                self.finals[i] = delta

    def completions(self) -> list[Completion]:
        """The finished completions (every row ends with a final delta)."""
        out = []
        for parts, final in zip(self.texts, self.finals, strict=True):
            assert final is not None, "every row ends with a final delta"
            out.append(
                Completion(
                    text="".join(parts),
                    finish_reason=final.finish_reason or "stop",
                    prompt_tokens=final.prompt_tokens or 0,
                    completion_tokens=final.completion_tokens or 0,
                    batch_size=final.batch_size,
                )
            )
        return out


class LocalModel:
    """A causal LM with its tokenizer, serving batches through one decode loop."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_id: str,
        served_name: str,
        device: str,
        is_fallback: bool = False,
        fallback_reason: str | None = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        """Wrap an already loaded model and tokenizer (see :meth:`load`)."""
        self.model = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.served_name = served_name
        self.device = device
        self.is_fallback = is_fallback
        self.fallback_reason = fallback_reason
        self.default_max_tokens = default_max_tokens

        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
            tokenizer.pad_token = tokenizer.eos_token
        self.eos_ids = _eos_ids(model, tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id: int = int(pad) if pad is not None else min(self.eos_ids, default=0)
        self.context_length = _context_length(model, tokenizer)
        self._has_chat_template = bool(getattr(tokenizer, "chat_template", None))
        params = inspect.signature(model.forward).parameters
        self._logits_to_keep = "logits_to_keep" in params
        # transformers 5.2x renamed ``past_key_values`` to ``cache``; accept both.
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    # ---------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        spec: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        fallback: str | None = "tiny",
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> LocalModel:
        """Resolve ``spec`` (see :func:`resolve_model`) and load tokenizer and model.

        ``device=None`` picks CUDA when available (``device_map="auto"``, bfloat16) and
        the CPU (float32) otherwise. ``dtype`` names a torch dtype (``"float32"``,
        ``"bfloat16"``, ``"float16"``) or ``"auto"`` (the checkpoint's own).
        ``default_max_tokens`` applies to requests that set no ``max_tokens``.
        """
        resolved = resolve_model(spec, fallback=fallback)
        if resolved.is_fallback:
            log.warning("local model %r unavailable: %s", spec, resolved.reason)
        model, tokenizer, device = _load_pretrained(resolved, device=device, dtype=dtype)
        return cls(
            model,
            tokenizer,
            model_id=spec,
            served_name=resolved.path_or_id,
            device=device,
            is_fallback=resolved.is_fallback,
            fallback_reason=resolved.reason if resolved.is_fallback else None,
            default_max_tokens=default_max_tokens,
        )

    @property
    def input_device(self) -> Any:
        """Where input tensors go (the device of the embedding layer)."""
        return self.model.get_input_embeddings().weight.device

    # ---------------------------------------------------------------- prompts and tokens

    def render_prompt(self, messages: list[dict[str, Any]] | None, prompt: str | None) -> str:
        """The prompt text: the chat template applied to ``messages``, else ``prompt``."""
        if messages is not None:
            normalized = [{**m, "content": _message_text(m.get("content"))} for m in messages]
            if self._has_chat_template:
                text: str = self.tokenizer.apply_chat_template(
                    normalized, tokenize=False, add_generation_prompt=True
                )
                return text
            return _plain_chat(normalized)
        if prompt is None:
            raise InvalidRequestError("either messages or prompt is required")
        return prompt

    def count_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` (no special tokens added)."""
        ids = self.tokenizer(text, add_special_tokens=False, return_token_type_ids=False)
        return len(ids["input_ids"])

    def encode_request(self, request: ChatRequest) -> list[int]:
        """The prompt token ids of ``request``, as the decode loop feeds them."""
        text = self.render_prompt(request.messages, request.prompt)
        if request.messages is not None and self._has_chat_template:
            # The template writes BOS and the like itself.
            ids = self.tokenizer(text, add_special_tokens=False, return_token_type_ids=False)
            return list(ids["input_ids"])
        ids = self.tokenizer(text, return_token_type_ids=False)["input_ids"]
        ids = list(ids)
        # Tokenizers built for encoders (BERT, T5) append EOS/SEP; a prompt must not end so.
        while len(ids) > 1 and ids[-1] in self.eos_ids:
            ids.pop()
        return ids

    def validate(self, request: ChatRequest) -> int:
        """Check that ``request`` fits the context; return its prompt token count.

        Call it before batching: :meth:`generate_stream` does not raise for one bad row
        but finishes it at once with ``finish_reason="length"`` and no text.
        """
        n = len(self.encode_request(request))
        if n >= self.context_length:
            raise InvalidRequestError(
                f"the prompt has {n} tokens; model {self.model_id!r} takes at most "
                f"{self.context_length - 1} prompt tokens",
                code="context_length_exceeded",
                param="messages" if request.messages is not None else "prompt",
            )
        return n

    def _row(self, index: int, request: ChatRequest) -> _Row:
        params = request.params
        prompt_ids = self.encode_request(request)
        if not prompt_ids:  # an empty raw prompt: start from BOS (or pad)
            bos = self.tokenizer.bos_token_id
            prompt_ids = [int(bos) if bos is not None else self.pad_id]
        wanted = params.max_tokens if params.max_tokens is not None else self.default_max_tokens
        room = self.context_length - len(prompt_ids)
        temperature = 1.0 if params.temperature is None else max(0.0, float(params.temperature))
        top_p = 1.0 if params.top_p is None else min(float(params.top_p), 1.0)
        if top_p <= 0.0:  # only the most likely token is left
            temperature, top_p = 0.0, 1.0
        return _Row(
            index=index,
            prompt_ids=prompt_ids,
            max_new=max(0, min(int(wanted), room)),
            temperature=temperature,
            top_p=top_p,
            seed=params.seed,
            stops=[s for s in (params.stop or []) if s],
            detok=_IncrementalDetokenizer(self.tokenizer),
        )

    # ---------------------------------------------------------------- sampling

    def _sample(self, logits: Any, rows: list[_Row]) -> list[int]:
        """One token per row from ``logits`` ``[rows, vocab]`` (see ``_decode._sample``)."""
        return _sample_tokens(logits, rows)

    # ---------------------------------------------------------------- the decode loop

    @staticmethod
    def _cache_of(output: Any) -> Any:
        cache = getattr(output, "cache", None)
        return cache if cache is not None else output.past_key_values

    def generate_stream(
        self, requests: list[ChatRequest]
    ) -> Generator[list[Delta | None], None, None]:
        """Generate for a batch of requests in one decode loop, step by step.

        Each yielded list has one entry per request: a :class:`Delta` with that row's
        new text, or ``None`` when it emits nothing this step. A row's last Delta has
        ``finish_reason`` (``"stop"`` or ``"length"``), ``prompt_tokens`` and
        ``completion_tokens``; after it the row yields ``None``. The iterator ends when
        every row is done.
        """
        import torch

        n = len(requests)
        if n == 0:
            return
        rows = [self._row(i, request) for i, request in enumerate(requests)]
        first: list[Delta | None] = [None] * n
        for row in rows:
            if row.max_new == 0:
                first[row.index] = row.finish("", "length", n)
        live = [row for row in rows if not row.done]
        if not live:
            yield first
            return

        # Grad mode is thread-global: enter inference mode around each computation
        # rather than across the yields, so that it never leaks into the caller.
        device = self.input_device
        with torch.inference_mode():
            width = max(len(row.prompt_ids) for row in live)
            input_ids = torch.full((len(live), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(live), width), dtype=torch.long)
            for j, row in enumerate(live):
                input_ids[j, width - len(row.prompt_ids) :] = torch.tensor(row.prompt_ids)
                mask[j, width - len(row.prompt_ids) :] = 1
            input_ids, mask = input_ids.to(device), mask.to(device)
            # Left padding: each row's positions count from its first real token.
            positions = (mask.cumsum(dim=-1) - 1).clamp(min=0)
            extra: dict[str, Any] = {"logits_to_keep": 1} if self._logits_to_keep else {}
            out = self.model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                **extra,
            )
            past = self._cache_of(out)
            logits = out.logits[:, -1, :]
            last_pos = positions[:, -1]
        can_prune = hasattr(past, "batch_select_indices")
        pending_first: list[Delta | None] | None = first

        while True:
            with torch.inference_mode():
                tokens = self._sample(logits.float(), live)
            step: list[Delta | None] = pending_first if pending_first is not None else [None] * n
            pending_first = None
            for row, token in zip(live, tokens, strict=True):
                if not row.done:
                    step[row.index] = row.push(token, self.eos_ids, n)
            yield step

            keep = [j for j, row in enumerate(live) if not row.done]
            if not keep:
                return
            with torch.inference_mode():
                next_ids = torch.tensor(tokens, dtype=torch.long, device=device)
                if can_prune and len(keep) < len(live):
                    # Finished rows leave the batch (and the KV cache).
                    index = torch.tensor(keep, dtype=torch.long, device=device)
                    try:
                        past.batch_select_indices(index)
                    except Exception:  # noqa: BLE001 - cache type cannot shrink: keep rows
                        can_prune = False
                    else:
                        live = [live[j] for j in keep]
                        mask = mask.index_select(0, index)
                        last_pos = last_pos.index_select(0, index)
                        next_ids = next_ids.index_select(0, index)
                mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
                last_pos = last_pos + 1
                out = self.model(
                    input_ids=next_ids.unsqueeze(1),
                    attention_mask=mask,
                    position_ids=last_pos.unsqueeze(1),
                    use_cache=True,
                    **{self._cache_arg: past},
                )
                past = self._cache_of(out)
                logits = out.logits[:, -1, :]

    def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        """Generate for a batch of requests and return whole completions, in order."""
        collector = CompletionCollector(len(requests))
        for step in self.generate_stream(requests):
            collector.add(step)
        return collector.completions()


# --------------------------------------------------------------------------- registration
# The provider registration (``register(...)``, named by the ``workbench.providers``
# entry point in pyproject.toml) goes below this line.


__all__ = [
    "CompletionCollector",
    "DEFAULT_MAX_TOKENS",
    "LocalModel",
    "ModelUnavailableError",
    "ResolvedModel",
    "hub_offline",
    "resolve_model",
]
