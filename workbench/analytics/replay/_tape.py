"""Answers from the log: the backend every target gets during a replay.

Each replayed request carries a :class:`Tape` (in a context variable, so concurrent
requests never mix): the upstream events of its logged attempts, in order. An attempt
against target ``T`` gets the next logged event of ``T`` (so under the same routing,
attempt ``k`` gets event ``k``): a logged failure is raised again (so a routing fallback
happens again), a logged answer is returned (chat), yielded as deltas (stream) or stands
in for the vectors (embeddings, whose vectors are not logged). When ``T`` has no logged
event left (the candidate routes elsewhere), the next logged answer of any target is
used (flagged); past the end the last answer is given again (flagged); with no answer
logged at all (the old policy refused the request before any model saw it) the answer
is empty and the request is flagged ``no logged answer``.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from workbench import errors
from workbench.providers import ChatRequest, Completion, Delta, EmbeddingResult

_CHUNK = re.compile(r"(?:\S+\s*){1,16}|\s+")  # deltas of up to 16 words
_NOT_FAILURES = ("OutputRejected", "GuardrailDeniedError")


@dataclass
class Answer:
    """One logged upstream answer (before output guardrails)."""

    target: str | None
    text: str
    finish_reason: str | None = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class Failure:
    """One logged failed attempt, raised again when replayed."""

    target: str | None
    error_class: str
    code: str
    http_status: int | None


Event = Answer | Failure


def _loads(text: Any) -> list[Any]:
    """A logged JSON list column (already parsed: as it is; ``[]`` when absent)."""
    if isinstance(text, list):
        return text
    if not isinstance(text, str) or not text:
        return []
    try:
        data = orjson.loads(text)
    except ValueError:
        return []
    return data if isinstance(data, list) else []


def _answer(d: dict[str, Any]) -> Answer:
    return Answer(
        target=d.get("target"),
        text=d.get("text") or "",
        finish_reason=d.get("finish_reason") or "stop",
        prompt_tokens=d.get("prompt_tokens"),
        completion_tokens=d.get("completion_tokens"),
    )


def events_of(upstream_outputs: Any, routing_attempts: Any) -> list[Event]:
    """The logged attempts in order: failures from ``routing_attempts``, answers from
    ``upstream_outputs`` (an attempt that got an answer consumes the next one). Either
    column as logged (JSON text) or already parsed."""
    outputs = [_answer(o) for o in _loads(upstream_outputs) if isinstance(o, dict)]
    events: list[Event] = []
    taken = 0
    for a in _loads(routing_attempts):
        if not isinstance(a, dict) or a.get("status") in ("skipped", "cancelled"):
            continue
        cls = a.get("error_class")
        failed = cls and cls not in _NOT_FAILURES and not a.get("after_first_byte")
        if failed:
            code = str(a.get("status") or "upstream_error")
            events.append(Failure(a.get("target"), str(cls), code, a.get("http_status")))
        elif taken < len(outputs):
            events.append(outputs[taken])
            taken += 1
    events.extend(outputs[taken:])  # answers no attempt accounted for (defensive)
    return events


def _error(f: Failure) -> Exception:
    if f.error_class in ("TimeoutError", "UpstreamTimeoutError"):
        return errors.UpstreamTimeoutError(f"replayed: {f.code}", code=f.code)
    cls = getattr(errors, f.error_class, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.WorkbenchError)):
        cls = errors.UpstreamError
    return cls(f"replayed: {f.code}", code=f.code, upstream_status=f.http_status)


@dataclass
class Tape:
    """What one replayed request is answered with, and who sent it."""

    events: list[Event]
    workspace: str | None = None
    key_id: str | None = None
    prompt_tokens: int | None = None
    pos: int = 0
    notes: set[str] = field(default_factory=set)
    last: Answer | None = None
    used: set[int] = field(default_factory=set)

    def next(self, target: str) -> Event:
        """The event for the next attempt against ``target``: the next logged event of
        that target, else the next logged answer of any target, else the last answer."""
        mine = [i for i in range(self.pos, len(self.events)) if self._open(i, target)]
        pick = mine[0] if mine else None
        if pick is None:
            answers = [
                i
                for i in range(self.pos, len(self.events))
                if i not in self.used and isinstance(self.events[i], Answer)
            ]
            pick = answers[0] if answers else None
            if pick is not None:
                self.notes.add("answer from another target")
        if pick is not None:
            self.used.add(pick)
            while self.pos in self.used:
                self.pos += 1
            ev = self.events[pick]
            if isinstance(ev, Answer):
                self.last = ev
            return ev
        if self.last is not None:
            self.notes.add("logged answer reused")
            return self.last
        self.notes.add("no logged answer")
        return Answer(target=None, text="", prompt_tokens=self.prompt_tokens)

    def _open(self, i: int, target: str) -> bool:
        ev = self.events[i]
        return i not in self.used and (ev.target == target or ev.target is None)


CURRENT: contextvars.ContextVar[Tape] = contextvars.ContextVar("workbench_replay_tape")


@dataclass
class _Key:
    key_id: str | None
    workspace: str | None


class ReplayAuth:
    """Restores the logged request's key id and workspace (any presented key)."""

    async def averify(self, presented: str) -> _Key:
        """The logged caller of the request being replayed."""
        tape = CURRENT.get()
        return _Key(tape.key_id, tape.workspace or "default")

    def verify(self, presented: str) -> _Key:
        """Blocking form (unused by the pipeline, which prefers ``averify``)."""
        tape = CURRENT.get()
        return _Key(tape.key_id, tape.workspace or "default")


def _completion(a: Answer, tape: Tape) -> Completion:
    return Completion(
        text=a.text,
        finish_reason=a.finish_reason or "stop",
        prompt_tokens=a.prompt_tokens if a.prompt_tokens is not None else tape.prompt_tokens or 0,
        completion_tokens=a.completion_tokens or 0,
    )


class LogBackend:
    """The backend of one target during a replay: answers from the request's tape."""

    def __init__(self, name: str, dimensions: int | None = None) -> None:
        self.name = name
        self.dimensions = dimensions or 384

    def _event(self) -> tuple[Answer, Tape]:
        tape = CURRENT.get()
        ev = tape.next(self.name)
        if isinstance(ev, Failure):
            raise _error(ev)
        return ev, tape

    async def chat(self, req: ChatRequest) -> Completion:
        """The logged answer."""
        answer, tape = self._event()
        return _completion(answer, tape)

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        """The logged answer as deltas of up to 16 words; the last one carries the usage."""
        answer, tape = self._event()
        comp = _completion(answer, tape)
        for m in _CHUNK.finditer(comp.text):
            yield Delta(text=m.group())
        yield Delta(
            text="",
            finish_reason=comp.finish_reason,
            prompt_tokens=comp.prompt_tokens,
            completion_tokens=comp.completion_tokens,
        )

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        """Zero vectors (vectors are not logged; guardrails do not read them)."""
        tape = CURRENT.get()
        return EmbeddingResult(
            vectors=[[0.0] * self.dimensions for _ in texts],
            prompt_tokens=tape.prompt_tokens or 0,
            model=self.name,
        )
