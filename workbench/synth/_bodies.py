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

from ._outcome import Outcome
from ._rows import Draws
from ._strings import cat, keep, num, pick, where
from ._texts import (
    ANSWER_FILLER,
    DOMAINS,
    FRAMES,
    INJECTIONS,
    JAILBREAKS,
    PII_KINDS,
    SECRETS,
    TOXIC_ANSWERS,
)

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


@lru_cache(maxsize=1)
def _paragraphs() -> tuple[str, ...]:
    """Answer bodies: ``m`` filler sentences starting at sentence ``k`` (index k*11+m)."""
    n = len(ANSWER_FILLER)
    return tuple(
        " ".join(ANSWER_FILLER[(k + i) % n] for i in range(m)) for k in range(n) for m in range(11)
    )


def _answers(d: Draws, o: Outcome, text_idx: np.ndarray) -> pa.Array:
    pool = text_pool()
    subjects = [s for subs in DOMAINS.values() for s in subs for _ in FRAMES]
    intro = [f"To {s}, here is what to do. " for s in subjects]
    intro += ["Thanks, I have noted that. "] * (len(pool.texts) - len(intro))
    intro += ["I am sorry, but I cannot help with that request. "] + list(TOXIC_ANSWERS)
    attack = (d.kind == 3) | (d.kind == 4)
    which = np.where(attack, len(pool.texts), text_idx)
    which = np.where(o.toxic, len(pool.texts) + 1 + d.variant % len(TOXIC_ANSWERS), which)
    reps = np.where(o.toxic | attack, 0, np.clip(o.completion_tokens // 40, 0, 10))
    para = _paragraphs()
    return cat(pick(intro, which), pick(para, (d.variant % len(ANSWER_FILLER)) * 11 + reps))


def _request(d: Draws, user_text: pa.Array) -> pa.Array:
    """The chat request JSON the client sent (as logged: masked)."""
    names, systems = d.cast.model_names, [w.system_prompt for w in d.cast.workspaces]
    heads = [
        f'{{"model":"{m}","messages":[{{"role":"system","content":"{s}"}},'
        '{"role":"user","content":"'
        for m in names
        for s in systems
    ]
    temps = [f'"}}],"temperature":{t:g},"max_tokens":' for t in d.cast.key_temp]
    head = pick(heads, d.model.astype(np.int64) * len(systems) + d.ws)
    streams = where(d.stream, ',"stream":true,"user":"', ',"stream":false,"user":"')
    user = pick(list(d.cast.user_id), d.user)
    return cat(head, user_text, pick(temps, d.key), num(d.max_tokens), streams, user, '"}')


def _response(d: Draws, o: Outcome, rid: pa.Array, answer: pa.Array) -> pa.Array:
    """What the client received: the ``chat.completion`` JSON, or a stream's text."""
    mids = [
        f',"model":"{m}","choices":[{{"index":0,"message":{{"role":"assistant","content":"'
        for m in d.cast.model_names
    ]
    ends = [
        f'","refusal":null}},"finish_reason":"{f}","logprobs":null}}],"usage":{{"prompt_tokens":'
        for f in ("stop", "length")
    ]
    head = cat(
        '{"id":"chatcmpl-', rid, '","object":"chat.completion","created":',
        num(d.t // 1_000_000), pick(mids, d.model),
    )  # fmt: skip
    tail = cat(
        pick(ends, o.length_cut.astype(int)), num(o.prompt_tokens), ',"completion_tokens":',
        num(o.completion_tokens), ',"total_tokens":', num(o.prompt_tokens + o.completion_tokens),
        '},"system_fingerprint":null}',
    )  # fmt: skip
    # streams log the bare text: empty wrapper (cheap short strings, one pass over the text)
    return cat(where(d.stream, "", head), answer, where(d.stream, "", tail))


def bodies(d: Draws, o: Outcome, rid: pa.Array, text_idx: np.ndarray) -> Bodies:
    """Build the body columns (null where the workspace does not store bodies)."""
    pool = text_pool()
    user_text = pick(pool.texts, text_idx)
    unique = (d.ref > 0) & (d.kind == 0)
    user_text = where(unique, cat("Ticket ", num(d.ref), ": ", user_text), user_text)
    answer = _answers(d, o, text_idx)
    answered = o.served >= 0
    response = _response(d, o, rid, answer)
    from_upstream = answered & (o.cache != 2)
    served = pick(
        [f'[{{"target":"{m}","text":"' for m in d.cast.model_names], np.maximum(o.served, 0)
    )
    finish = where(o.length_cut, '","finish_reason":"length","prompt_tokens":',
                   '","finish_reason":"stop","prompt_tokens":')  # fmt: skip
    output = cat(served, answer, finish, num(o.prompt_tokens), ',"completion_tokens":',
                 num(o.completion_tokens), "}]")  # fmt: skip
    stored = np.array([w.store_bodies for w in d.cast.workspaces])[d.ws]
    request = _request(d, user_text)
    return Bodies(
        user_text=user_text,
        answer=answer,
        request=keep(request, stored),
        response=keep(response, stored & answered),
        upstream_outputs=keep(output, stored & from_upstream),
    )
