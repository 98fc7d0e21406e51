"""Caching: the one definition of an exact repeat and a near duplicate.

:mod:`workbench.cache.match` defines the exact-cache key and the near-duplicate rule
(MiniLM cosine plus a second-stage check of numbers, dates, units, negations, names and
language). The cost suggestions use it to say what a cache would save; the gateway's
caches use the same functions, so both agree on what counts as a hit.
"""

from workbench.cache.match import (
    CONVERSATION_FIELDS,
    KEY_VERSION,
    NON_ANSWER_FIELDS,
    NearDupRule,
    Signature,
    conversation_text,
    exact_key,
    normalize_request,
    scope_key,
    second_stage,
    signature,
    uses_tools,
)

__all__ = [
    "CONVERSATION_FIELDS",
    "KEY_VERSION",
    "NON_ANSWER_FIELDS",
    "NearDupRule",
    "Signature",
    "conversation_text",
    "exact_key",
    "normalize_request",
    "scope_key",
    "second_stage",
    "signature",
    "uses_tools",
]
