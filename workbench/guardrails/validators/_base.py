"""Shared plumbing for the cheap checks: params base, result helpers, span editing.

Every check is a ``guardrails.validators.Validator`` subclass of :class:`CheapValidator`,
registered with guardrails-ai as ``workbench/<name>``. It is built from its pydantic params
model (``extra="forbid"``) once, precompiles whatever it needs in :meth:`setup`, and then
answers :meth:`check` per text.

Span reasons read ``LABEL: detail`` (``BANNED_WORD: idiot``, ``SECRET: GitHub Token``;
PII spans are just the entity type, ``EMAIL_ADDRESS``): the engine's ``redact`` action
replaces a span with ``<LABEL>``, so the label must never repeat what is being hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

from guardrails.validators import ErrorSpan, FailResult, PassResult, Validator
from pydantic import BaseModel, ConfigDict

Result: TypeAlias = PassResult | FailResult
SpanT: TypeAlias = tuple[int, int, str]
AnySpans: TypeAlias = Sequence[SpanT] | Sequence[tuple[int, int]]


class Params(BaseModel):
    """Base of every check's params model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


P = TypeVar("P", bound="Params")


class CheapValidator(Validator, Generic[P]):
    """A catalogue check: params model in, ``PassResult``/``FailResult`` out."""

    check_name: ClassVar[str] = ""
    params_model: ClassVar[type[Params]] = Params
    can_fix: ClassVar[bool] = False
    stages: ClassVar[tuple[str, ...]] = ("input", "output")
    #: The check waits on I/O (a network call). The engine then awaits its
    #: ``async_validate`` (every text of a stage concurrently) instead of calling
    #: ``validate`` on the event loop. guardrails-ai's default ``async_validate`` runs
    #: ``validate`` in a worker thread; a check with a native async client overrides it
    #: (``webhook`` does). Any guardrails ``Validator`` may set this attribute.
    io_bound: ClassVar[bool] = False

    params: P

    def __init__(
        self, params: P | Mapping[str, Any] | None = None, on_fail: Any = None, **kwargs: Any
    ) -> None:
        p: Any
        if isinstance(params, Params):
            p = params
        else:
            p = self.params_model.model_validate({**(params or {}), **kwargs})
        # guardrails keeps the kwargs to serialise the Guard: keep them JSON-able.
        super().__init__(on_fail=on_fail, **p.model_dump(mode="json", by_alias=True))
        self.params = p
        self.setup(p)

    def setup(self, params: P) -> None:
        """Precompile what the check needs (regexes, tables); called once at build."""

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """The check itself; subclasses implement it."""
        raise NotImplementedError

    def _validate(self, value: Any, metadata: dict[str, Any]) -> Result:
        return self.check(value if isinstance(value, str) else str(value), metadata or {})


def ok(score: float | None = None, **meta: Any) -> PassResult:
    """A pass, with ``metadata={"score": ...}`` when a score is given."""
    if score is not None:
        meta["score"] = score
    return PassResult(metadata=meta or None)


def fail(
    message: str,
    spans: Iterable[SpanT] = (),
    fix: str | None = None,
    score: float | None = None,
    **meta: Any,
) -> FailResult:
    """A failure with spans ``(start, end, reason)``, an optional fix and score."""
    if score is not None:
        meta["score"] = score
    error_spans = [ErrorSpan(start=s, end=e, reason=r) for s, e, r in spans]
    return FailResult(
        error_message=message,
        error_spans=error_spans or None,
        fix_value=fix,
        metadata=meta or None,
    )


def merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ``(start, end)`` ranges covering ``spans``."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _merged(spans: AnySpans) -> list[SpanT]:
    out: list[SpanT] = []
    for sp in sorted(spans, key=lambda x: (x[0], x[1])):
        s, e = int(sp[0]), int(sp[1])
        reason = str(sp[2]) if len(sp) > 2 else ""
        if out and s < out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e, out[-1][2])
        else:
            out.append((s, e, reason))
    return out


def replace_spans(
    text: str,
    spans: AnySpans,
    repl: str | Callable[[str, SpanT], str],
) -> str:
    """Replace each span (overlaps merged, first reason kept) by ``repl``.

    ``repl`` is a string, or a function ``(matched_text, (start, end, reason)) -> str``.
    """
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for s, e, reason in _merged(spans):
        parts.append(text[pos:s])
        parts.append(repl(text[s:e], (s, e, reason)) if callable(repl) else repl)
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


def remove_spans(text: str, spans: AnySpans) -> str:
    """Delete the spans and tidy the spaces each deletion leaves behind."""
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for s, e, _ in _merged(spans):
        raw_left = text[pos:s]
        left = raw_left.rstrip(" \t")
        after = e
        while after < len(text) and text[after] in " \t":
            after += 1
        nxt = text[after] if after < len(text) else ""
        spaced = len(left) != len(raw_left) or after != e
        parts.append(left)
        if left and spaced and left[-1] not in "\n(" and nxt not in _NO_SPACE_BEFORE:
            parts.append(" ")
        pos = after if (not left or spaced) else e
    parts.append(text[pos:])
    return "".join(parts)


_NO_SPACE_BEFORE = frozenset(["", "\n", ",", ".", ";", ":", "!", "?", ")"])


def request_of(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata["request"]`` as a dict (empty when absent)."""
    req = metadata.get("request") if metadata else None
    if isinstance(req, Mapping):
        return dict(req)
    if req is not None and hasattr(req, "model_dump"):
        return dict(req.model_dump())
    return {}


def first_line(doc: str | None) -> str:
    """The first line of a docstring, for catalogue descriptions."""
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


def trie_pattern(words: list[str], sep: str = r"\s+") -> str:
    """One regex alternation for ``words`` built as a trie (fast for long lists)."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        end = "" in node
        alts = []
        for ch in sorted(k for k in node if k):
            piece = sep if ch == " " else re.escape(ch)
            alts.append(piece + emit(node[ch]))
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if end:
            return "(?:" + body + ")?"
        return body

    return emit(trie)
