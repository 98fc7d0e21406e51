"""The policy's ``cache`` section: exact and semantic caching settings (pydantic).

::

    cache:
      enabled: false          # the switch for this policy (off by default)
      exact: true             # serve byte-identical repeats (the exact key)
      semantic:
        enabled: false        # serve near duplicates (needs the gateway's semantic index)
        threshold: 0.65       # MiniLM cosine at or above which a neighbour may hit
        max_temperature: 0.3  # only requests this deterministic (missing = 1.0)
        allow_tools: false    # never for tool calls unless set
        second_stage: true    # numbers/dates/units/negations/names must agree too
      ttl_s: 3600             # an entry lives this long
      max_entries: 100000     # this policy's entries in the store: LRU past the bound
      max_bytes: 268435456    # ... and their stored bytes

The semantic defaults are :class:`~workbench.cache.match.NearDupRule`'s, so the cache and
the cost suggestions agree on what counts as a hit unless a policy says otherwise. A
section equal to the defaults serialises as ``{}``, so adding this model did not change
the hash of any policy that leaves caching alone.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from workbench.cache.match import NearDupRule

_RULE = NearDupRule()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SemanticSettings(_Strict):
    """``cache.semantic``: the near-duplicate rule this policy caches with."""

    enabled: bool = False
    threshold: float = Field(_RULE.threshold, gt=0.0, le=1.0)
    max_temperature: float = Field(_RULE.max_temperature, ge=0.0, le=2.0)
    allow_tools: bool = _RULE.allow_tools
    second_stage: bool = _RULE.use_second_stage

    def rule(self) -> NearDupRule:
        """The :class:`NearDupRule` these settings describe."""
        return NearDupRule(
            threshold=self.threshold,
            max_temperature=self.max_temperature,
            allow_tools=self.allow_tools,
            use_second_stage=self.second_stage,
        )


class CacheSettings(_Strict):
    """``cache``: the per-policy switch, the two caches, TTL and the size bound."""

    enabled: bool = False
    exact: bool = True
    semantic: SemanticSettings = Field(default_factory=SemanticSettings)
    ttl_s: float = Field(3600.0, gt=0.0, le=366 * 86400.0)
    max_entries: int = Field(100_000, ge=1)
    max_bytes: int = Field(256 * 1024 * 1024, ge=1024)

    @property
    def active(self) -> bool:
        """Whether this policy caches at all (the switch and at least one cache)."""
        return self.enabled and (self.exact or self.semantic.enabled)

    @model_serializer(mode="wrap")
    def _defaults_as_empty(self, handler: SerializerFunctionWrapHandler) -> Any:
        if self == CacheSettings():
            return {}
        return handler(self)


__all__ = ["CacheSettings", "SemanticSettings"]
