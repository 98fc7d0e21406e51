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
import os
import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import InvalidRequestError, NotFoundError
from workbench.providers._types import ChatRequest, Completion, Delta
from workbench.providers.tiny import build_tiny_model

log = logging.getLogger(__name__)

#: Tokens generated when a request does not say (``max_tokens`` is ``None``).
DEFAULT_MAX_TOKENS = 256
#: Seconds to wait for the hub before treating it as unreachable.
HUB_PROBE_TIMEOUT_S = 2.0
#: Context length assumed when neither the model config nor the tokenizer names one.
_FALLBACK_CONTEXT = 2048

#: Candidates examined first for nucleus (top_p) sampling before a full sort.
_NUCLEUS_CANDIDATES = 1024
#: Temperatures below this decode greedily (dividing logits by ~0 would overflow).
_MIN_TEMPERATURE = 1e-5

_TRUE = {"1", "true", "yes", "on"}


# --------------------------------------------------------------------------- resolving


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model spec resolved to.

    ``path_or_id`` is what ``from_pretrained`` gets; ``local_files_only`` says whether
    it must be loaded without the network (a directory, or a hub id found in the local
    cache while offline). ``is_fallback`` is true when the requested model could not be
    had and the tiny random model stands in; ``reason`` says why, for the start-up
    warning.
    """

    path_or_id: str
    is_fallback: bool = False
    reason: str = ""
    local_files_only: bool = True


class ModelUnavailableError(NotFoundError):
    """The requested local model can be found neither on disk, in the cache nor on the hub."""

    default_code = "model_not_found"


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network."""
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _looks_like_repo_id(spec: str) -> bool:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if spec.startswith((".", "/", "~")) or "\\" in spec:
        return False
    try:
        validate_repo_id(spec)
    except HFValidationError:
        return False
    return True


def _probe_hub(repo_id: str, timeout: float) -> str:
    """Ask the hub about ``repo_id``: ``"available"``, ``"missing"`` or ``"unreachable"``.

    Runs in a daemon thread joined with a deadline, so that a hanging DNS lookup or
    connect can never stall start-up for longer than about ``timeout`` seconds.
    """
    result: list[str] = []

    def probe() -> None:
        from huggingface_hub import model_info
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

        try:
            model_info(repo_id, timeout=timeout)
        except GatedRepoError:
            result.append("available")  # exists; loading needs a token and says so
        except RepositoryNotFoundError:
            result.append("missing")
        except Exception:  # noqa: BLE001 - any transport failure means "unreachable"
            result.append("unreachable")
        else:
            result.append("available")

    thread = threading.Thread(target=probe, name="hf-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0] if result else "unreachable"


def _cached_snapshot(repo_id: str) -> Path | None:
    """The local HF-cache snapshot of ``repo_id`` if it holds a config and weights."""
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError and friends: not cached
        return None
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
    if (path / "config.json").is_file() and has_weights:
        return path
    return None


def resolve_model(
    spec: str, *, fallback: str | None = "tiny", probe_timeout: float = HUB_PROBE_TIMEOUT_S
) -> ResolvedModel:
    """Resolve a model spec: a model directory, a hub id, or ``"tiny"``.

    A directory is used as is. A hub id is loaded from the hub when it is reachable, and
    from the local HF cache only (``local_files_only``) when ``HF_HUB_OFFLINE=1`` or the
    hub does not answer within ``probe_timeout`` seconds. When the model cannot be had,
    ``fallback="tiny"`` resolves to the built-in tiny random model with
    ``is_fallback=True`` and the reason (callers should warn loudly); ``fallback=None``
    raises :class:`ModelUnavailableError`.
    """
    if fallback not in ("tiny", None):
        raise ValueError(f"fallback must be 'tiny' or None, not {fallback!r}")
    if spec == "tiny":
        return ResolvedModel(str(build_tiny_model()), False, "built-in tiny random test model")
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            problem = f"{spec!r} is a directory without config.json, not a model directory"
        else:
            return ResolvedModel(str(path.resolve()), False, "local model directory")
    elif not _looks_like_repo_id(spec):
        problem = f"{spec!r} is neither an existing model directory nor a valid hub id"
    else:
        if hub_offline():
            where = "HF_HUB_OFFLINE is set"
        else:
            status = _probe_hub(spec, probe_timeout)
            if status == "available":
                return ResolvedModel(spec, False, "Hugging Face hub", local_files_only=False)
            where = (
                "it is not on the Hugging Face hub (or is private)"
                if status == "missing"
                else f"the Hugging Face hub did not answer within {probe_timeout:g} s"
            )
        cached = _cached_snapshot(spec)
        if cached is not None:
            return ResolvedModel(str(cached), False, f"local HF cache ({where})")
        problem = f"model {spec!r} is not in the local HF cache and {where}"
    if fallback is None:
        raise ModelUnavailableError(f"cannot load local model: {problem}")
    tiny = build_tiny_model()
    return ResolvedModel(
        str(tiny),
        True,
        f"{problem}; serving the built-in tiny RANDOM model instead (its output is noise)",
    )


# --------------------------------------------------------------------------- decoding


class _IncrementalDetokenizer:
    """Turns a growing list of token ids into text pieces whose concatenation is the text.

    Decodes a short window (the previous piece's tokens plus the new ones) rather than
    the whole sequence, so each step costs O(1); the previous tokens give the decoder
    the context it needs (WordPiece ``##`` joining, SentencePiece leading spaces).
    A window ending in U+FFFD (an incomplete multi-byte character) is held back until
    the character completes.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.ids: list[int] = []
        self._prefix_offset = 0
        self._read_offset = 0

    def _decode(self, ids: list[int]) -> str:
        text: str = self._tokenizer.decode(
            ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        return text

    def push(self, token_id: int) -> str:
        """Add one token; return the new text that it completes (maybe empty)."""
        self.ids.append(token_id)
        return self._advance(final=False)

    def flush(self) -> str:
        """The text still held back (an incomplete character at the very end)."""
        return self._advance(final=True)

    def _advance(self, *, final: bool) -> str:
        prefix = self._decode(self.ids[self._prefix_offset : self._read_offset])
        text = self._decode(self.ids[self._prefix_offset :])
        if len(text) > len(prefix) and (final or not text.endswith("\ufffd")):
            self._prefix_offset = self._read_offset
            self._read_offset = len(self.ids)
            return text[len(prefix) :]
        return ""


def _stop_hold(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a stop string."""
    hold = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), hold, -1):
            if text.endswith(stop[:size]):
                hold = size
                break
    return hold


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index of the earliest stop-string occurrence in ``text``, if any."""
    found = [i for i in (text.find(stop) for stop in stops) if i >= 0]
    return min(found) if found else None


@dataclass
class _Row:
    """Decode state of one request in the batch."""

    index: int
    prompt_ids: list[int]
    max_new: int
    temperature: float
    top_p: float
    seed: int | None
    stops: list[str]
    detok: _IncrementalDetokenizer
    pending: str = ""
    generated: int = 0
    done: bool = False
    generator: Any = None
    finish_reason: str | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature < _MIN_TEMPERATURE

    def finish(self, text: str, reason: str, batch_size: int) -> Delta:
        self.done = True
        self.finish_reason = reason
        return Delta(
            text=text,
            finish_reason=reason,
            prompt_tokens=len(self.prompt_ids),
            completion_tokens=self.generated,
            batch_size=batch_size,
        )

    def push(self, token_id: int, eos_ids: frozenset[int], batch_size: int) -> Delta | None:
        """Account for one sampled token; return what this row emits this step."""
        self.generated += 1
        is_eos = token_id in eos_ids
        last = is_eos or self.generated >= self.max_new
        piece = "" if is_eos else self.detok.push(token_id)
        if last:
            piece += self.detok.flush()
        self.pending += piece
        if self.stops:
            cut = _first_stop(self.pending, self.stops)
            if cut is not None:
                return self.finish(self.pending[:cut], "stop", batch_size)
        if last:
            return self.finish(self.pending, "stop" if is_eos else "length", batch_size)
        hold = _stop_hold(self.pending, self.stops) if self.stops else 0
        emit = self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(emit) :]
        return Delta(text=emit) if emit else None


def _inverse_cdf(probs: Any, uniform: Any) -> Any:
    """Per row, the index whose CDF interval holds ``uniform * total`` (zeros never win)."""
    import torch

    cdf = probs.cumsum(dim=-1)
    target = (uniform * cdf[:, -1]).unsqueeze(1)
    index = torch.searchsorted(cdf, target, right=True).squeeze(1)
    # Float rounding can put the target at the very end: take the last non-zero entry.
    last = (probs > 0).cumsum(dim=-1).argmax(dim=-1)
    return torch.minimum(index, last)


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


# --------------------------------------------------------------------------- the model


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
        self.eos_ids = self._eos_ids()
        pad = tokenizer.pad_token_id
        self.pad_id: int = int(pad) if pad is not None else min(self.eos_ids, default=0)
        self.context_length = self._context_length()
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
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        resolved = resolve_model(spec, fallback=fallback)
        if resolved.is_fallback:
            log.warning("local model %r unavailable: %s", spec, resolved.reason)

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        on_gpu = device.startswith("cuda")
        if dtype is None:
            torch_dtype: Any = torch.bfloat16 if on_gpu else torch.float32
        elif dtype == "auto":
            torch_dtype = "auto"
        else:
            torch_dtype = getattr(torch, dtype, None)
            if not isinstance(torch_dtype, torch.dtype):
                raise ValueError(f"unknown dtype {dtype!r}")

        kwargs: dict[str, Any] = {
            "local_files_only": resolved.local_files_only,
            "dtype": torch_dtype,
        }
        tokenizer = AutoTokenizer.from_pretrained(
            resolved.path_or_id, local_files_only=resolved.local_files_only
        )
        model: Any
        if device == "cuda":
            model = AutoModelForCausalLM.from_pretrained(
                resolved.path_or_id, device_map="auto", **kwargs
            )
        else:
            model = AutoModelForCausalLM.from_pretrained(resolved.path_or_id, **kwargs)
            model.to(device)
        model.eval()
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

    def _eos_ids(self) -> frozenset[int]:
        ids: set[int] = set()
        for source in (getattr(self.model, "generation_config", None), self.model.config):
            value = getattr(source, "eos_token_id", None) if source is not None else None
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, list | tuple):
                ids.update(int(v) for v in value)
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        return frozenset(ids)

    def _context_length(self) -> int:
        config = self.model.config
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        tok_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
            return tok_max
        return _FALLBACK_CONTEXT

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
        """One token per row from ``logits`` ``[rows, vocab]`` (float32).

        Greedy rows take the argmax. Sampled rows draw from softmax(logits / T),
        restricted to the nucleus when ``top_p < 1``, with the row's own generator.
        """
        import torch

        chosen = logits.argmax(dim=-1)
        sampled = [j for j, row in enumerate(rows) if not row.greedy]
        if not sampled:
            tokens: list[int] = chosen.tolist()
            return tokens
        dev = logits.device
        temps = torch.tensor([rows[j].temperature for j in sampled], device=dev).unsqueeze(1)
        probs = torch.softmax(logits.index_select(0, torch.tensor(sampled, device=dev)) / temps, -1)

        # Nucleus rows: candidates sorted by probability, the tail past top_p zeroed.
        nucleus = [k for k, j in enumerate(sampled) if rows[j].top_p < 1.0]
        slot = {k: n for n, k in enumerate(nucleus)}
        cand_probs = cand_ids = None
        if nucleus:
            sub = probs.index_select(0, torch.tensor(nucleus, device=dev))
            limit = torch.tensor([rows[sampled[k]].top_p for k in nucleus], device=dev)
            # The nucleus is usually small: look at the top candidates first and sort
            # the whole vocabulary only when they do not reach top_p (same result).
            cand_probs, cand_ids = sub.topk(min(_NUCLEUS_CANDIDATES, sub.shape[-1]), dim=-1)
            if not bool((cand_probs.sum(dim=-1) >= limit).all()):
                cand_probs, cand_ids = sub.sort(dim=-1, descending=True)
            # Drop a token when the tokens before it already reach top_p (keeps >= 1).
            before = cand_probs.cumsum(dim=-1) - cand_probs
            cand_probs = cand_probs.masked_fill(before >= limit.unsqueeze(1), 0.0)

        # One uniform draw per row from the row's own generator (seeded rows replay
        # exactly), then inverse-CDF lookups for all rows at once.
        draws = []
        for j in sampled:
            row = rows[j]
            if row.seed is not None and row.generator is None:
                row.generator = torch.Generator(device=dev)
                row.generator.manual_seed(int(row.seed))
            draws.append(torch.rand(1, generator=row.generator, device=dev))
        uniform = torch.cat(draws)
        plain = [k for k in range(len(sampled)) if k not in slot]
        if plain:
            at = torch.tensor(plain, device=dev)
            picked = _inverse_cdf(probs.index_select(0, at), uniform.index_select(0, at))
            chosen[torch.tensor([sampled[k] for k in plain], device=dev)] = picked
        if nucleus:
            assert cand_probs is not None and cand_ids is not None
            at = torch.tensor(nucleus, device=dev)
            pos = _inverse_cdf(cand_probs, uniform.index_select(0, at))
            picked = cand_ids.gather(1, pos.unsqueeze(1)).squeeze(1)
            chosen[torch.tensor([sampled[k] for k in nucleus], device=dev)] = picked
        tokens = chosen.tolist()
        return tokens

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
        texts: list[list[str]] = [[] for _ in requests]
        finals: list[Delta | None] = [None] * len(requests)
        for step in self.generate_stream(requests):
            for i, delta in enumerate(step):
                if delta is None:
                    continue
                texts[i].append(delta.text)
                if delta.finish_reason is not None:
                    finals[i] = delta
        completions = []
        for parts, final in zip(texts, finals, strict=True):
            assert final is not None, "every row ends with a final delta"
            completions.append(
                Completion(
                    text="".join(parts),
                    finish_reason=final.finish_reason or "stop",
                    prompt_tokens=final.prompt_tokens or 0,
                    completion_tokens=final.completion_tokens or 0,
                    batch_size=final.batch_size,
                )
            )
        return completions


# --------------------------------------------------------------------------- registration
# The provider registration (``register(...)``, named by the ``workbench.providers``
# entry point in pyproject.toml) goes below this line.


__all__ = [
    "DEFAULT_MAX_TOKENS",
    "LocalModel",
    "ModelUnavailableError",
    "ResolvedModel",
    "hub_offline",
    "resolve_model",
]
