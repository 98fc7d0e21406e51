"""What counts as a cache hit: the exact key and the near-duplicate rule (no Ray, no I/O).

One definition, shared by the cost suggestions (:mod:`workbench.analytics.cost`) and the
gateway's exact and semantic caches, so that a suggestion's "a cache would have served
this" and the cache's own hits agree.

Exact repeat
    Two requests are exact repeats when :func:`exact_key` is equal: a SHA-256 of the
    normalised request (:func:`normalize_request`: every field the client sent except the
    ones that cannot change the answer, :data:`NON_ANSWER_FIELDS`; JSON with sorted keys),
    the model as routed, the endpoint, the policy hash and the workspace. Unknown fields
    stay in the key, so a new answer-changing parameter can never make two different
    requests share an entry; two workspaces never share a key.

Near duplicate (:class:`NearDupRule`)
    Both requests are *eligible* (:meth:`NearDupRule.eligible`: ``temperature`` at most
    ``max_temperature``, a missing temperature counting as the providers' default 1.0; no
    tools, functions or tool messages unless ``allow_tools``), they share a *scope*
    (:func:`scope_key`: workspace, model, endpoint, policy hash and every answer-changing
    parameter, i.e. the exact key without the conversation), the cosine of the MiniLM
    embeddings of their normalised conversations (:func:`conversation_text`) is at least
    ``threshold``, and the *second stage* passes (:func:`second_stage`, its rules in
    :mod:`workbench.cache._second_stage`): the same numbers (as a multiset, and in order
    when there are several), units, dates and times (any common form, see
    :mod:`workbench.cache._dates`), negation count, no opposite pair (left/right, buy/sell,
    legal/illegal, ...), the same colours, names, quoted strings, identifiers,
    URLs and e-mails, not one content word swapped in place or only added, and no
    confident language mismatch. So "refund order 1234" never matches "refund order
    1235", nor "is it safe" "is it not safe", nor "from 3 to 5" "from 5 to 3".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from workbench.cache._second_stage import (
    RULES,
    Signature,
    rejecting_rule,
    second_stage,
    signature,
)

KEY_VERSION = 1
"""Bumped whenever the normalisation changes (old keys then simply stop matching)."""

NON_ANSWER_FIELDS: frozenset[str] = frozenset(
    {"model", "stream", "stream_options", "user", "metadata", "store", "service_tier"}
)
"""Request fields that cannot change the answer's content; everything else is in the key."""

CONVERSATION_FIELDS: frozenset[str] = frozenset({"messages", "prompt", "input"})
"""Fields that carry the conversation (left out of :func:`scope_key`)."""

TOOL_FIELDS: frozenset[str] = frozenset({"tools", "functions", "tool_choice", "function_call"})

_ALIASES = {"max_completion_tokens": "max_tokens"}


def normalize_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer-changing part of a request body, in a canonical form.

    Drops :data:`NON_ANSWER_FIELDS`; ``max_completion_tokens`` becomes ``max_tokens``; a
    string ``stop`` becomes a one-element list; ``null`` values are dropped (a parameter
    sent as null is the same as one not sent). Messages are kept exactly as sent.
    """
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name in NON_ANSWER_FIELDS or value is None:
            continue
        name = _ALIASES.get(name, name)
        if name == "stop" and isinstance(value, str):
            value = [value]
        out[name] = value
    return out


def _digest(payload: Mapping[str, Any]) -> str:
    raw = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(raw).hexdigest()


def exact_key(
    body: Mapping[str, Any],
    *,
    model: str | None,
    workspace: str | None,
    policy_hash: str | None,
    endpoint: str | None = None,
) -> str:
    """The exact-cache key of a request (hex SHA-256); see the module docstring."""
    return _digest(
        {
            "v": KEY_VERSION,
            "workspace": workspace or "",
            "policy": policy_hash or "",
            "model": model or "",
            "endpoint": endpoint or "",
            "request": normalize_request(body),
        }
    )


def scope_key(
    body: Mapping[str, Any],
    *,
    model: str | None,
    workspace: str | None,
    policy_hash: str | None,
    endpoint: str | None = None,
) -> str:
    """The near-duplicate scope: :func:`exact_key` without the conversation fields."""
    rest = {k: v for k, v in body.items() if k not in CONVERSATION_FIELDS}
    return "scope:" + exact_key(
        rest, model=model, workspace=workspace, policy_hash=policy_hash, endpoint=endpoint
    )


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, Mapping)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def conversation_text(body: Mapping[str, Any]) -> str | None:
    """The normalised conversation a semantic cache embeds (None: nothing to embed).

    Chat: one ``role: text`` line per message (text parts joined, whitespace collapsed),
    the last user message first so that a long history truncated by the encoder keeps
    the question. Completions: the prompt; embeddings requests: None.
    """
    messages = body.get("messages")
    if isinstance(messages, list) and messages:
        lines = []
        for m in messages:
            if isinstance(m, Mapping):
                role = str(m.get("role") or "user")
                lines.append(f"{role}: {' '.join(_content_text(m.get('content')).split())}")
        users = [i for i, line in enumerate(lines) if line.startswith("user: ")]
        if users and users[-1] != 0:
            lines.insert(0, lines.pop(users[-1]))
        return "\n".join(lines) or None
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return " ".join(prompt.split()) or None
    return None


def uses_tools(body: Mapping[str, Any]) -> bool:
    """Whether the request offers tools/functions or carries tool calls or results."""
    if any(body.get(f) for f in TOOL_FIELDS):
        return True
    for m in body.get("messages") or []:
        if isinstance(m, Mapping) and (
            m.get("role") in ("tool", "function") or m.get("tool_calls") or m.get("function_call")
        ):
            return True
    return False


@dataclass(frozen=True)
class NearDupRule:
    """The near-duplicate rule (see the module docstring). Defaults are the gateway's.

    ``threshold`` was chosen on the ``tune`` half of ``datasets/paraphrases.jsonl`` with
    the second stage on (``python -m bench.cache`` prints the rule, the per-rule ablation
    and the ``eval`` half's figures; ``docs/cache-semantic.md``).
    """

    threshold: float = 0.65
    max_temperature: float = 0.3
    allow_tools: bool = False
    use_second_stage: bool = True

    def eligible(self, body: Mapping[str, Any], temperature: float | None = None) -> bool:
        """Whether a request may be served from (or fill) a semantic cache entry."""
        temp = temperature if temperature is not None else body.get("temperature")
        temp_f = float(temp) if isinstance(temp, int | float) else 1.0
        if temp_f > self.max_temperature:
            return False
        if not self.allow_tools and uses_tools(body):
            return False
        return conversation_text(body) is not None

    def matches(self, cosine: float, a: Signature | str, b: Signature | str) -> bool:
        """Whether two in-scope, eligible texts with this cosine are near duplicates."""
        if cosine < self.threshold:
            return False
        return second_stage(a, b) if self.use_second_stage else True


__all__ = [
    "CONVERSATION_FIELDS",
    "KEY_VERSION",
    "NON_ANSWER_FIELDS",
    "NearDupRule",
    "RULES",
    "Signature",
    "conversation_text",
    "exact_key",
    "normalize_request",
    "rejecting_rule",
    "scope_key",
    "second_stage",
    "signature",
    "uses_tools",
]
