"""Output guardrails on streams: text is released only after its window passed.

The stream is cut into windows (sentences, or a number of whitespace tokens); each
complete window runs the policy's output stage before any of it reaches the client.
A deny stops the stream: no text past the failing window is sent. Redact/fix rewrite
the window before release. Fallback and retry cannot take back text already sent, so
on a stream they stop it like a deny. At the end, the whole text runs the stage once
more (for checks that need it whole, such as JSON validity).

Every window is bounded, so text without a sentence end (code, lists, a model that
never writes a period) still streams: a window is also released when it reaches
``max_chars`` characters or ``max_tokens`` whitespace tokens (cut after the last
whitespace inside the bound; a hard cut only when the bound holds one unbroken run),
or when ``max_ms`` milliseconds have passed since its first character arrived (cut
after the last whitespace: a partly streamed word, which may be the start of a secret,
waits for its end or for the character bound). A match split across two windows is
still caught by the whole-text check at the end, but only after both halves were sent.

The time bound needs a clock tick when no delta arrives: :meth:`StreamGuard.poll`
releases what is due, :meth:`StreamGuard.due_in` says when the next release is due.
:func:`paced` drives both around an async iterator of deltas; a pipeline that reads
deltas itself must call ``poll()`` whenever ``due_in()`` seconds pass with no delta.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from workbench.errors import GuardrailDeniedError
from workbench.guardrails._types import StageOutcome, Verdict

_SENTENCE_END = re.compile(r"[.!?。！？][\"')\]]*\s+|\n+")
_WORD = re.compile(r"\S+\s*")
_SPACE = re.compile(r"\s+")

T = TypeVar("T")


def denial(v: Verdict, message: str | None = None) -> GuardrailDeniedError:
    """The client-facing error for a deciding verdict (its message is already scrubbed
    of anything a secret/PII check matched)."""
    text = message or f"{v.stage} refused by guardrail '{v.check}' ({v.validator})"
    if v.message and not message:
        text += f": {v.message[:200]}"
    return GuardrailDeniedError(text, check=v.check, stage=v.stage)


class StreamGuard:
    """Feeds deltas in, gets checked text out."""

    def __init__(
        self,
        engine: Any,
        request: dict[str, Any] | None = None,
        *,
        sample_key: str = "",
        window: str = "sentence",
        window_tokens: int = 32,
        messages: dict[str, str | None] | None = None,
        max_chars: int = 400,
        max_tokens: int = 64,
        max_ms: float = 250.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.request = request or {}
        self.sample_key = sample_key
        self.window = window
        self.window_tokens = window_tokens
        self.max_chars = max_chars
        self.max_tokens = max_tokens
        self.max_ms = max_ms
        self.clock = clock
        self.pending = ""
        self.pending_since: float | None = None  # clock() when the pending text began
        self.released: list[str] = []
        self.verdicts: list[Verdict] = []
        self.index = 0
        self.messages = messages or {}

    def _bounded_end(self, text: str) -> int | None:
        """End of the first window in ``text`` by its natural end or a size bound."""
        ends: list[int] = []
        if self.window == "tokens":
            limit = min(self.window_tokens, self.max_tokens)
        else:
            limit = self.max_tokens
            m = _SENTENCE_END.search(text)
            if m:
                ends.append(m.end())
        words = _WORD.finditer(text)
        for n, w in enumerate(words, start=1):
            if n == limit + 1:  # the limit-th word and its trailing space are complete
                ends.append(w.start())
                break
        if len(text) > self.max_chars:
            head = text[: self.max_chars]
            spaces = [s.end() for s in _SPACE.finditer(head) if s.end() > 0]
            ends.append(spaces[-1] if spaces else self.max_chars)
        return min(ends) if ends else None

    def _cut(self, final: bool) -> list[str]:
        """Complete windows in ``pending`` (all of it when ``final``)."""
        out: list[str] = []
        while self.pending:
            end = self._bounded_end(self.pending)
            if end is None or end <= 0:
                break
            out.append(self.pending[:end])
            self.pending = self.pending[end:]
        if not final and self.pending and self._overdue():
            spaces = [s.end() for s in _SPACE.finditer(self.pending)]
            if spaces:  # release whole words; a partial word waits
                out.append(self.pending[: spaces[-1]])
                self.pending = self.pending[spaces[-1] :]
        if final and self.pending:
            out.append(self.pending)
            self.pending = ""
        if out:
            self.pending_since = self.clock() if self.pending else None
        return out

    def _overdue(self) -> bool:
        return self.pending_since is not None and (
            (self.clock() - self.pending_since) * 1000.0 >= self.max_ms
        )

    def due_in(self) -> float | None:
        """Seconds until the time bound releases pending text (0 when overdue), or None
        when nothing is pending."""
        if self.pending_since is None or not self.pending:
            return None
        left = self.pending_since + self.max_ms / 1000.0 - self.clock()
        if left <= 0 and not _SPACE.search(self.pending):
            return None  # overdue but one partial word: only a new delta can change that
        return max(0.0, left)

    async def _check(self, text: str) -> str:
        outcome: StageOutcome = await self.engine.run_stage(
            "output", [text], self.request, sample_key=self.sample_key, window=self.index
        )
        self.index += 1
        self.verdicts.extend(outcome.verdicts)
        decisive = outcome.deny or outcome.fallback or outcome.retry
        if decisive is not None:
            raise denial(decisive, self.messages.get(decisive.check))
        return outcome.texts[0]

    async def _release(self, final: bool) -> list[str]:
        ready = [await self._check(piece) for piece in self._cut(final)]
        self.released.extend(ready)
        return ready

    async def feed(self, delta: str) -> list[str]:
        """Add streamed text; returns the checked pieces that may be sent now."""
        if delta and not self.pending:
            self.pending_since = self.clock()
        self.pending += delta
        return await self._release(final=False)

    async def poll(self) -> list[str]:
        """With no new delta: the checked pieces the time bound releases now (or [])."""
        if not self.pending or not self._overdue():
            return []
        return await self._release(final=False)

    async def finish(self) -> list[str]:
        """Check the tail, then the whole text once; returns the last pieces to send."""
        ready = await self._release(final=True)
        whole = "".join(self.released)
        if whole:
            outcome = await self.engine.run_stage(
                "output", [whole], self.request, sample_key=self.sample_key, window=-1
            )
            failed = [v for v in outcome.verdicts if not v.passed]
            self.verdicts.extend(failed)  # whole-text re-run: log only the failures
            decisive = outcome.deny or outcome.fallback or outcome.retry
            if decisive is not None:
                raise denial(decisive, self.messages.get(decisive.check))
        return ready


async def paced(
    guard: StreamGuard,
    source: AsyncIterator[T],
    text: Callable[[T], str | None],
) -> AsyncIterator[tuple[T | None, list[str]]]:
    """Read ``source`` through ``guard``, keeping its time bound while no item arrives.

    Yields ``(item, pieces)`` for each item (its text fed to the guard), and
    ``(None, pieces)`` when the time bound released text between items. Ends with the
    source; the caller then calls ``guard.finish()``. The pending read is cancelled if
    the consumer stops early.
    """
    nxt: asyncio.Future[T] | None = None
    try:
        while True:
            if nxt is None:
                nxt = asyncio.ensure_future(source.__anext__())
            done, _ = await asyncio.wait({nxt}, timeout=guard.due_in())
            if not done:
                pieces = await guard.poll()
                if pieces:
                    yield None, pieces
                continue
            try:
                item = nxt.result()
            except StopAsyncIteration:
                nxt = None
                return
            nxt = None
            yield item, await guard.feed(text(item) or "")
    finally:
        if nxt is not None and not nxt.done():
            nxt.cancel()
