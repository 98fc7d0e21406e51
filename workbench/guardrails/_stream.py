"""Output guardrails on streams: text is released only after its window passed.

The stream is cut into windows (sentences, or a number of whitespace tokens); each
complete window runs the policy's output stage before any of it reaches the client.
A deny stops the stream: no text past the failing window is sent. Redact/fix rewrite
the window before release. Fallback and retry cannot take back text already sent, so
on a stream they stop it like a deny. At the end, the whole text runs the stage once
more (for checks that need it whole, such as JSON validity).
"""

from __future__ import annotations

import re
from typing import Any

from workbench.errors import GuardrailDeniedError
from workbench.guardrails._types import StageOutcome, Verdict

_SENTENCE_END = re.compile(r"[.!?。！？][\"')\]]*\s+|\n+")


def denial(v: Verdict, message: str | None = None) -> GuardrailDeniedError:
    """The client-facing error for a deciding verdict."""
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
    ) -> None:
        self.engine = engine
        self.request = request or {}
        self.sample_key = sample_key
        self.window = window
        self.window_tokens = window_tokens
        self.pending = ""
        self.released: list[str] = []
        self.verdicts: list[Verdict] = []
        self.index = 0
        self.messages = messages or {}

    def _cut(self, final: bool) -> list[str]:
        """Complete windows in ``pending`` (all of it when ``final``)."""
        out: list[str] = []
        if self.window == "tokens":
            while True:
                words = list(re.finditer(r"\S+\s*", self.pending))
                if len(words) <= self.window_tokens:
                    break
                cut = words[self.window_tokens - 1].end()
                out.append(self.pending[:cut])
                self.pending = self.pending[cut:]
        else:
            while True:
                m = _SENTENCE_END.search(self.pending)
                if not m:
                    break
                out.append(self.pending[: m.end()])
                self.pending = self.pending[m.end() :]
        if final and self.pending:
            out.append(self.pending)
            self.pending = ""
        return out

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

    async def feed(self, delta: str) -> list[str]:
        """Add streamed text; returns the checked pieces that may be sent now."""
        self.pending += delta
        ready = []
        for piece in self._cut(final=False):
            ready.append(await self._check(piece))
        self.released.extend(ready)
        return ready

    async def finish(self) -> list[str]:
        """Check the tail, then the whole text once; returns the last pieces to send."""
        ready = [await self._check(p) for p in self._cut(final=True)]
        self.released.extend(ready)
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
