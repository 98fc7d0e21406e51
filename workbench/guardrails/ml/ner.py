"""PII token tagging (PERSON, ADDRESS) on MiniLM token states.

Features of a WordPiece token: its last hidden state, concatenated with the states of
its ``context`` neighbours on each side (zeros past a window's edge), and optionally
0/1 word-shape features (capitalised, digits, punctuation, ...) of the same tokens. Tags are IO
(``O``, ``PERSON``, ``ADDRESS``). Decoding (:func:`decode`):

1. tokens seen in two overlapping windows get the mean of their probabilities;
2. WordPiece pieces of one word (touching alphanumeric tokens) form a group whose
   entity probabilities are the max over its pieces;
3. a group is tagged with its most likely entity when that probability reaches the
   head's threshold, else ``O``; consecutive groups with the same tag form one span;
4. spans are trimmed of surrounding spaces/punctuation, and dropped without a letter
   or digit.

Training labels come from character spans: a token takes the label of its first
character (Presidio ``PERSON`` -> PERSON, ``STREET_ADDRESS`` -> ADDRESS).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from workbench.guardrails.ml.encoder import Encoding, Window
from workbench.guardrails.ml.heads import TokenHead

LABELS = ["O", "PERSON", "ADDRESS"]
#: Presidio entity types -> our labels (others are ``O``).
PRESIDIO_MAP = {"PERSON": "PERSON", "STREET_ADDRESS": "ADDRESS"}
_TRIM = " \t\r\n,;:!?\"'()[]{}<>|*_`"


SHAPES = (
    "title", "upper", "digit", "all_digit", "punct", "continuation", "space_before",
    "newline_before", "word_title",
)  # fmt: skip


def shape_features(text: str, offsets: np.ndarray) -> np.ndarray:
    """``(tokens, len(SHAPES))`` 0/1 word-shape features of each token (see :data:`SHAPES`)."""
    out = np.zeros((len(offsets), len(SHAPES)), dtype=np.float32)
    for i, (a, b) in enumerate(offsets.tolist()):
        tok = text[a:b]
        if not tok:
            continue
        before = text[a - 1] if a > 0 else " "
        ws = a
        while ws > 0 and text[ws - 1].isalnum():
            ws -= 1
        gap_start = a
        while gap_start > 0 and text[gap_start - 1].isspace():
            gap_start -= 1
        out[i] = (
            tok[0].isupper(),
            len(tok) > 1 and tok.isupper(),
            any(c.isdigit() for c in tok),
            tok.isdigit(),
            not any(c.isalnum() for c in tok),
            before.isalnum() and tok[0].isalnum(),
            before.isspace(),
            "\n" in text[gap_start:a] or a == 0,
            text[ws].isupper(),
        )
    return out


def _with_context(x: np.ndarray, context: int) -> np.ndarray:
    n, d = x.shape
    if context == 0 or n == 0:
        return x
    padded = np.zeros((n + 2 * context, d), dtype=x.dtype)
    padded[context : context + n] = x
    parts = [x] + [
        padded[context + k : context + k + n] for j in range(1, context + 1) for k in (-j, j)
    ]
    return np.concatenate(parts, axis=1)


def token_features(
    window: Window, context: int = 1, text: str | None = None, shape: bool = False
) -> np.ndarray:
    """Each token's state with its ``context`` neighbours' states on each side, then,
    when ``shape``, the word-shape features of the token and of the same neighbours."""
    feats = _with_context(window.states, context)
    if not shape:
        return feats
    if text is None:
        raise ValueError("shape features need the text")
    shapes = _with_context(shape_features(text, window.offsets), context)
    return np.concatenate([feats, shapes.astype(feats.dtype)], axis=1)


def char_labels(text: str, spans: Iterable[dict[str, Any]]) -> np.ndarray:
    """Per-character label ids from Presidio spans (later spans win on overlap)."""
    lab = np.zeros(len(text), dtype=np.int64)
    for s in spans:
        name = PRESIDIO_MAP.get(str(s["entity_type"]))
        if name:
            lab[int(s["start_position"]) : int(s["end_position"])] = LABELS.index(name)
    return lab


def token_labels(window: Window, chars: np.ndarray) -> np.ndarray:
    """Label id of each token of ``window``: the label of its first character."""
    starts = window.offsets[:, 0] if len(window.offsets) else np.zeros(0, dtype=np.int64)
    ends = window.offsets[:, 1] if len(window.offsets) else np.zeros(0, dtype=np.int64)
    out = np.zeros(len(starts), dtype=np.int64)
    ok = ends > starts
    out[ok] = chars[starts[ok]]
    return out


def token_probs(head: TokenHead, text: str, enc: Encoding) -> list[tuple[int, int, np.ndarray]]:
    """``(start, end, probs)`` per distinct token of the text, sorted by position."""
    acc: dict[tuple[int, int], list[np.ndarray]] = {}
    for w in enc.windows:
        if not len(w.offsets):
            continue
        probs = head.predict(token_features(w, head.context, text, head.shape))
        for (a, b), p in zip(w.offsets.tolist(), probs, strict=True):
            if b > a:
                acc.setdefault((a, b), []).append(p)
    return [(a, b, np.mean(ps, axis=0)) for (a, b), ps in sorted(acc.items())]


def decode(
    text: str,
    tokens: list[tuple[int, int, np.ndarray]],
    threshold: float,
    labels: list[str] = LABELS,
) -> list[dict[str, Any]]:
    """Spans ``{start, end, label, score}`` from per-token probabilities (see module doc)."""
    groups: list[list[Any]] = []  # [start, end, entity-probs]
    for a, b, p in tokens:
        ent = np.asarray(p[1:])
        if groups and groups[-1][1] == a and a > 0 and text[a - 1].isalnum() and text[a].isalnum():
            groups[-1][1] = b
            groups[-1][2] = np.maximum(groups[-1][2], ent)
        else:
            groups.append([a, b, ent])
    spans: list[dict[str, Any]] = []
    cur: list[Any] | None = None  # [start, end, label id, scores]
    for a, b, ent in groups:
        k = int(np.argmax(ent))
        lab = k + 1 if float(ent[k]) >= threshold else 0
        if lab and cur is not None and cur[2] == lab:
            cur[1] = b
            cur[3].append(float(ent[k]))
            continue
        if cur is not None:
            spans.append(_span(text, cur, labels))
        cur = [a, b, lab, [float(ent[k])]] if lab else None
    if cur is not None:
        spans.append(_span(text, cur, labels))
    return [s for s in spans if s["end"] > s["start"]]


def _span(text: str, cur: list[Any], labels: list[str]) -> dict[str, Any]:
    a, b = int(cur[0]), int(cur[1])
    while a < b and text[a] in _TRIM:
        a += 1
    while b > a and text[b - 1] in _TRIM:
        b -= 1
    if not any(ch.isalnum() for ch in text[a:b]):
        b = a
    return {"start": a, "end": b, "label": labels[int(cur[2])], "score": float(np.mean(cur[3]))}


def tag(head: TokenHead, text: str, enc: Encoding) -> list[dict[str, Any]]:
    """The PII spans of one encoded text."""
    return decode(text, token_probs(head, text, enc), head.threshold, head.labels)


__all__ = [
    "LABELS",
    "PRESIDIO_MAP",
    "char_labels",
    "decode",
    "tag",
    "token_features",
    "token_labels",
    "token_probs",
    "SHAPES",
    "shape_features",
]
