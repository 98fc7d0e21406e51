"""What the cache will do for one request: its keys, the client's opt-out, the decision.

Built by the lookup stage once the policy is known and its input checks passed; the
store stage and the commit at record time read it from ``ctx.cache_plan``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from workbench.cache.match import conversation_text, exact_key, scope_key
from workbench.cache.settings import CacheSettings

if TYPE_CHECKING:
    from workbench.pipeline.types import Exchange

NO_CACHE, NO_STORE = "no-cache", "no-store"


@dataclass
class Plan:
    """One request's cache plan."""

    settings: CacheSettings
    policy: str  # the policy's id (all its versions): each policy bounds its own entries
    key: str  # the exact key (what an entry is stored under)
    scope: str  # the near-duplicate scope (the key without the conversation)
    text: str | None  # the conversation text (semantic lookups and entries)
    exact: bool  # read the exact entry
    semantic: bool  # read and fill the semantic index
    read: bool  # look anything up at all
    write: bool  # may store the answer
    ready: bool = False  # the store stage saw a clean answer from the first target


def opt_out(headers: Mapping[str, str], metadata: Mapping[str, Any] | None) -> str | None:
    """The client's opt-out: ``no-store`` (neither read nor store), ``no-cache`` (don't
    read, may store) or None. From ``Cache-Control`` (``no-store`` wins over
    ``no-cache``) and ``metadata.cache`` (``off`` is ``no-store``)."""
    tokens = {t.strip().lower() for t in (headers.get("cache-control") or "").split(",")}
    meta = str((metadata or {}).get("cache") or "").strip().lower()
    if NO_STORE in tokens or meta in (NO_STORE, "off"):
        return NO_STORE
    if NO_CACHE in tokens or meta == NO_CACHE:
        return NO_CACHE
    return None


def request_dict(ex: Exchange) -> dict[str, Any]:
    """The request as the client sent it (the body the log stores, so the cost
    suggestions key it the same way); the validated body when bodies are not kept."""
    raw = ex.ctx.request_original
    if raw is not None:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            return data
    dumped: dict[str, Any] = ex.body.model_dump(mode="json", exclude_unset=True)
    return dumped


def settings_of(ex: Exchange) -> CacheSettings | None:
    """The request's policy ``cache`` section (None without a live policy)."""
    if ex.guard is None:
        return None
    cache = getattr(ex.guard.engine.policy, "cache", None)
    return cache if isinstance(cache, CacheSettings) else None


def make_plan(ex: Exchange, settings: CacheSettings, semantic_ok: bool, opt: str | None) -> Plan:
    """The plan of an exchange whose policy caches (``semantic_ok``: an index exists)."""
    ctx = ex.ctx
    body = request_dict(ex)
    ident = {
        "model": ctx.model_requested,
        "workspace": ctx.workspace,
        "policy_hash": ctx.policy_hash,
        "endpoint": ctx.endpoint,
    }
    rule = settings.semantic.rule()
    semantic = (
        semantic_ok
        and settings.semantic.enabled
        and ex.kind != "embeddings"
        and rule.eligible(body)
    )
    text = conversation_text(body) if ex.kind != "embeddings" else None
    usable = settings.exact or semantic
    return Plan(
        settings=settings,
        policy=str(ex.guard.engine.policy.id) if ex.guard is not None else "",
        key=exact_key(body, **ident),
        scope=scope_key(body, **ident),
        text=text,
        exact=settings.exact,
        semantic=semantic,
        read=usable and opt is None,
        write=usable and opt != NO_STORE,
    )


def flagged(verdicts: list[dict[str, Any]]) -> bool:
    """Whether any check failed other than by rewriting the text (redact/fix): a denial,
    a flag, a fallback or retry, or any failure of a log-only check."""
    for v in verdicts:
        if v.get("passed", True):
            continue
        if v.get("mode") == "log_only" or v.get("action") not in ("redact", "fix"):
            return True
    return False


__all__ = ["NO_CACHE", "NO_STORE", "Plan", "flagged", "make_plan", "opt_out", "settings_of"]
