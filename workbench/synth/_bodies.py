"""Prompt texts and the logged bodies: ``request_original``, ``request_body``,
``response_body`` and ``upstream_outputs``, built column-wise.

What a row logs follows the gateway: text a secret/PII check flagged is masked as
``<LABEL>`` in every body (``request_masked``); the PII redaction rewrote the same spans
with the same ``<ENTITY>`` text, so the body that went upstream equals the masked
original. Streams log the concatenated text as ``response_body``, other requests the
``chat.completion`` JSON. ``prompt_tokens`` also count the context documents an app
pasted (``prompt_extra``), which the bodies leave out to keep the lake small.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._outcome import Outcome
from ._rows import Draws
from ._strings import cat, num, pick, where
from ._texts import ANSWER_FILLER, DOMAINS, FRAMES, INJECTIONS, JAILBREAKS, PII_KINDS, SECRETS

__all__ = ["Bodies", "TextPool", "bodies", "text_pool"]


@dataclass(frozen=True)
class TextPool:
    """Every user text a synthetic request can carry (as logged, i.e. masked)."""

    texts: tuple[str, ...]
    span_start: np.ndarray  # flagged span in the raw text (-1: none)
    span_end: np.ndarray
    label: tuple[str, ...]  # pii entity / secret reason ("" for none)
    offsets: dict[str, int]  # first index of each section
    sizes: dict[str, int]


def _masked(items: tuple[tuple[str, str, tuple[str, ...]], ...], mask: str | None) -> list[tuple]:
    out = []
    for label, template, values in items:
        for value in values:
            start = template.index("{}")
            shown = f"<{label.split(':')[0]}>" if mask is None else mask
            out.append((template.format(shown), start, start + len(value), label))
    return out


@lru_cache(maxsize=1)
def text_pool() -> TextPool:
    """The pool: questions of every domain x frame, PII, secrets, injections, jailbreaks."""
    rows: list[tuple[str, int, int, str]] = []
    offsets, sizes = {}, {}
    sections: list[tuple[str, list[tuple]]] = [
        (f"q:{d}", [(f.format(s), -1, -1, "") for s in subs for f in FRAMES])
        for d, subs in DOMAINS.items()
    ]
    sections += [
        ("pii", _masked(PII_KINDS, None)),
        ("secret", _masked(SECRETS, "<SECRET>")),
        ("injection", [(t, -1, -1, "") for t in INJECTIONS]),
        ("jailbreak", [(t, -1, -1, "") for t in JAILBREAKS]),
    ]
    for name, items in sections:
        offsets[name], sizes[name] = len(rows), len(items)
        rows += items
    return TextPool(
        texts=tuple(r[0] for r in rows),
        span_start=np.array([r[1] for r in rows]),
        span_end=np.array([r[2] for r in rows]),
        label=tuple(r[3] for r in rows),
        offsets=offsets,
        sizes=sizes,
    )


def text_index(d: Draws) -> np.ndarray:
    """Index into :func:`text_pool` of each row's user text."""
    pool = text_pool()
    topics = np.array([w.topics for w in d.cast.workspaces])
    q_off = np.array([pool.offsets[f"q:{t}"] for t in topics])[d.ws]
    idx = q_off + d.subject.astype(np.int64) * len(FRAMES) + d.frame
    for code, name in ((1, "pii"), (2, "secret"), (3, "injection"), (4, "jailbreak")):
        sel = d.kind == code
        idx = np.where(sel, pool.offsets[name] + d.variant % pool.sizes[name], idx)
    return idx


@dataclass
class Bodies:
    """The body columns of a batch (plus the user text and the answer text)."""

    user_text: pa.Array
    answer: pa.Array
    request: pa.Array
    response: pa.Array
    upstream_outputs: pa.Array


def _answers(d: Draws, o: Outcome, text_idx: np.ndarray) -> pa.Array:
    pool = text_pool()
    subjects = [s for subs in DOMAINS.values() for s in subs for _ in FRAMES]
    intro = [f"To {s}, here is what to do. " for s in subjects]
    intro += ["Thanks, I have noted that. "] * (len(pool.texts) - len(intro))
    first = pick(intro, np.minimum(text_idx, len(intro) - 1))
    attack = (d.kind == 3) | (d.kind == 4)
    first = where(attack, "I am sorry, but I cannot help with that request. ", first)
    reps = np.clip(o.completion_tokens // 45, 0, 10)
    filler = pick(ANSWER_FILLER, d.variant % len(ANSWER_FILLER))
    return cat(first, pc.binary_repeat(cat(filler, " "), pa.array(reps)))


def bodies(d: Draws, o: Outcome, request_id: pa.Array) -> Bodies:
    """Build the body columns (null where the workspace does not store bodies)."""
    pool = text_pool()
    text_idx = text_index(d)
    user_text = pick(pool.texts, text_idx)
    user_text = where((d.ref > 0) & (d.kind == 0), cat("Ticket ", num(d.ref), ": ", user_text),
                      user_text)  # fmt: skip
    system = pick([w.system_prompt for w in d.cast.workspaces], d.ws)
    temps = num(d.cast.key_temp[d.key], 2)
    request = cat(
        '{"model":"', pick(list(d.cast.model_names), d.model),
        '","messages":[{"role":"system","content":"', system,
        '"},{"role":"user","content":"', user_text, '"}],"temperature":', temps,
        ',"max_tokens":', num(d.max_tokens), ',"stream":', where(d.stream, "true", "false"),
        ',"user":"', pick(list(d.cast.user_id), d.user), '"}',
    )  # fmt: skip
    answer = _answers(d, o, text_idx)
    finish = where(o.length_cut, "length", "stop")
    usage = cat(
        '{"prompt_tokens":', num(o.prompt_tokens), ',"completion_tokens":',
        num(o.completion_tokens), ',"total_tokens":', num(o.prompt_tokens + o.completion_tokens),
        "}",
    )  # fmt: skip
    created = num(d.t // 1_000_000)
    completion_json = cat(
        '{"id":"chatcmpl-', request_id, '","object":"chat.completion","created":', created,
        ',"model":"', pick(list(d.cast.model_names), d.model),
        '","choices":[{"index":0,"message":{"role":"assistant","content":"', answer,
        '","refusal":null},"finish_reason":"', finish, '","logprobs":null}],"usage":', usage,
        ',"system_fingerprint":null}',
    )  # fmt: skip
    answered = o.served >= 0
    response = where(answered, where(d.stream, answer, completion_json), None)
    from_upstream = answered & (o.cache != 2)
    served_name = pick(list(d.cast.model_names), np.maximum(o.served, 0))
    output = cat(
        '[{"target":"', served_name, '","text":"', answer, '","finish_reason":"', finish,
        '","prompt_tokens":', num(o.prompt_tokens), ',"completion_tokens":',
        num(o.completion_tokens), "}]",
    )  # fmt: skip
    stored = np.array([w.store_bodies for w in d.cast.workspaces])[d.ws]
    return Bodies(
        user_text=user_text,
        answer=answer,
        request=where(stored, request, None),
        response=where(stored, response, None),
        upstream_outputs=where(stored & from_upstream, output, None),
    )
