"""Keep what a check flagged as a secret or PII out of the request log.

Which checks count as *sensitive*: those whose validator finds secrets or personal data
(:data:`SENSITIVE_VALIDATORS`), unless the policy check sets ``mask_in_log`` (``true``
makes any check sensitive, e.g. a ``regex_deny`` for employee ids; ``false`` keeps a
check's matches readable in the log).

What is masked: every span a sensitive check reported when it failed, whatever its
action (deny, flag, noop, redact, fix) and mode (enforce, log_only), in the input stage,
the output stage and every stream window. A failing sensitive check that reports no
spans masks the whole text it read. The engine records these as ``Verdict.masks``
(``(matched text, label)``, never serialised) and scrubs the verdict's own message and
span reasons, so neither the log nor a denial's client message repeats the match.
The gateway then masks the logged request and response bodies with every mask of the
request (:func:`mask_body`): each occurrence of a matched text becomes ``<LABEL>``
(``<SECRET>``, ``<EMAIL_ADDRESS>``, ...). This happens whatever ``logging.redact_bodies``
says: that setting chooses whether the log keeps the body as received or as rewritten
by redact/fix checks, never whether a flagged secret is kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from workbench.guardrails._types import Span

SENSITIVE_VALIDATORS = frozenset({"secrets", "pii", "pii_ner"})
"""Validators whose findings are secrets or personal data."""

Mask = tuple[str, str]
"""(matched text, label)."""

_LABEL_CHARS = re.compile(r"[^A-Z0-9_]+")


def is_sensitive(validator: str, mask_in_log: bool | None = None) -> bool:
    """Are the matches of a check with this validator masked in the log?"""
    if mask_in_log is not None:
        return mask_in_log
    return validator in SENSITIVE_VALIDATORS


def label_of(reason: str, default: str) -> str:
    """``"SECRET: AWS Access Key"`` -> ``"SECRET"``; ``"EMAIL_ADDRESS"`` stays."""
    label = _LABEL_CHARS.sub("_", reason.split(":")[0].strip().upper()).strip("_")
    return label or _LABEL_CHARS.sub("_", default.upper()).strip("_") or "MASKED"


def span_masks(
    spans: Sequence[Span], texts: Sequence[str], whole: Iterable[int], default: str
) -> list[Mask]:
    """The masks of a failing sensitive check: the text under each span, plus the whole
    text of each index in ``whole`` (texts it failed without giving spans)."""
    out: list[Mask] = []
    for sp in spans:
        if 0 <= sp.message < len(texts) and 0 <= sp.start < sp.end <= len(texts[sp.message]):
            out.append((texts[sp.message][sp.start : sp.end], label_of(sp.reason, default)))
    for i in whole:
        out.append((texts[i], label_of("", default)))
    return [(t, lab) for t, lab in out if t.strip()]


def _ordered(masks: Iterable[Mask]) -> list[Mask]:
    """Unique masks, longest text first (so a match inside a longer one cannot split it)."""
    seen: dict[str, str] = {}
    for text, label in masks:
        if text and text.strip():
            seen.setdefault(text, label)
    return sorted(seen.items(), key=lambda m: -len(m[0]))


def scrub(text: str, masks: Iterable[Mask]) -> str:
    """``text`` with every occurrence of every masked text replaced by ``<LABEL>``."""
    for sub, label in _ordered(masks):
        if sub in text:
            text = text.replace(sub, f"<{label}>")
    return text


def _scrub_tree(value: Any, masks: list[Mask]) -> Any:
    if isinstance(value, str):
        return scrub(value, masks)
    if isinstance(value, list):
        return [_scrub_tree(v, masks) for v in value]
    if isinstance(value, dict):
        return {scrub(str(k), masks): _scrub_tree(v, masks) for k, v in value.items()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        as_text = str(value)
        masked = scrub(as_text, masks)
        return value if masked == as_text else masked
    return value


def mask_body(body: str | None, masks: Iterable[Mask]) -> str | None:
    """A logged body with every masked text replaced.

    A JSON body is masked value by value (so escapes such as ``\\u0041`` or ``\\/`` cannot
    hide a match, and the result is still JSON) and re-serialised only when something
    changed; any other body (a streamed answer's text) is masked as plain text.
    """
    ordered = _ordered(masks)
    if not body or not ordered:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return scrub(body, ordered)
    masked = _scrub_tree(data, ordered)
    if masked == data:
        return body
    return json.dumps(masked, ensure_ascii=False)


def scrub_verdict_dict(d: dict[str, Any], masks: Iterable[Mask]) -> dict[str, Any]:
    """A logged verdict with its message and span reasons scrubbed of masked texts."""
    ordered = _ordered(masks)
    if not ordered:
        return d
    out = dict(d)
    if isinstance(out.get("message"), str):
        out["message"] = scrub(out["message"], ordered)
    spans = out.get("spans")
    if isinstance(spans, list):
        out["spans"] = [
            {**s, "reason": scrub(str(s.get("reason", "")), ordered)} if isinstance(s, dict) else s
            for s in spans
        ]
    return out
