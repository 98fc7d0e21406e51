"""Decoding helpers for the local engine: detokenizing, stop strings, per-row state, sampling.

Private to :mod:`workbench.providers.local`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.providers._types import Delta

#: Candidates examined first for nucleus (top_p) sampling before a full sort.
_NUCLEUS_CANDIDATES = 1024
#: Temperatures below this decode greedily (dividing logits by ~0 would overflow).
_MIN_TEMPERATURE = 1e-5


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


def _sample(logits: Any, rows: list[_Row]) -> list[int]:
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
