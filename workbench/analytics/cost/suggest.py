"""Optimisation suggestions from the logged traffic, largest money at stake first.

Kinds: ``exact_cache`` and ``semantic_cache`` (:mod:`.caching`), ``max_tokens``
(:mod:`.sizing`), ``cheaper_model`` (:mod:`.routing`; with ``live`` a sample of each
such model's short traffic is replayed against the proposed target, :mod:`.live`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cache.match import NearDupRule

from ._rates import load_prices_or
from ._traffic import body_column, by_key, keyed_groups
from ._types import Suggestion, Suggestions
from ._window import When, Window, run
from .caching import exact_repeats, exact_suggestion, near_duplicates
from .live import agreement
from .routing import cheaper_models, configured_targets, sample_short, short_traffic
from .sizing import oversized_max_tokens

if TYPE_CHECKING:
    import numpy as np

    from workbench.pricing import PriceTable

log = logging.getLogger(__name__)

KINDS = ("exact_cache", "semantic_cache", "max_tokens", "cheaper_model")


def _window_days(window: Window, root: Path | None, known: Any = ()) -> float:
    """The window's length; with an open start, the span of the data in it (``known``:
    the first request's time when the caller has it, e.g. from the cost rollup)."""
    if window.start is not None:
        return window.days
    if known != ():
        first = known
    else:
        where, params = window.where()
        df = run(f"SELECT min(received_at) AS t FROM requests WHERE {where}", params, root)
        first = df["t"][0] if df.height else None
    return 0.0 if first is None else (window.end - first).total_seconds() / 86400


def _count(window: Window, root: Path | None) -> int:
    where, params = window.where()
    return int(run(f"SELECT count(*) AS n FROM requests WHERE {where}", params, root)["n"][0])


def _from_rollup(
    window: Window, root: Path | None, kinds: Collection[str], min_requests: int,
    short_limits: tuple[int, int],
) -> dict[str, Any]:  # fmt: skip
    """What the exact-cache, max_tokens and cheaper-model rules read, from the cost
    rollup for whole hours and raw rows for the rest (:mod:`._rolled`)."""
    from workbench.logstore._rollup_cost import SHORT_LIMITS
    from workbench.logstore.reader import consistent

    from ._rolled import lake_root, plan, raw_frame, row_count
    from ._rolled_exact import exact_totals
    from ._rolled_usage import short_totals, token_stats

    base = lake_root(root)

    def go(cur: Any) -> dict[str, Any]:
        p = plan(window, base)
        raw = raw_frame(cur, window, p.edge_raw)
        out: dict[str, Any] = {}
        if "exact_cache" in kinds:
            out["exact"] = exact_totals(cur, window, p, raw)
        if "max_tokens" in kinds:
            out["tokens"] = token_stats(cur, p, raw, min_requests)
        if "cheaper_model" in kinds and tuple(short_limits) == SHORT_LIMITS:
            out["short"] = short_totals(cur, p, raw)
        out["count"], out["first"] = row_count(cur, p, raw)
        return out

    return consistent(root, go)


def _raw_cache_items(
    window: Window, root: Path | None, rule: NearDupRule, days: float, exact: bool,
    semantic: bool, timings: dict[str, float], encoder: Callable[[], Any], max_texts: int,
) -> list[Suggestion]:  # fmt: skip
    """The exact-cache (from raw rows) and semantic-cache suggestions: every distinct body
    of the window parsed (:func:`~._traffic.keyed_groups`)."""
    items: list[Suggestion] = []
    t0 = time.perf_counter()
    keyed = by_key(keyed_groups(window, root, rule))
    timings["keys_s"] = time.perf_counter() - t0
    if exact:
        s = exact_repeats(keyed, days)
        items += [s] if s else []
    if semantic and keyed["text"].is_not_null().sum() > 1:
        t0 = time.perf_counter()
        s = near_duplicates(keyed, days, encoder(), rule, max_texts)
        items += [s] if s else []
        timings["semantic_s"] = time.perf_counter() - t0
    return items


def _default_encode() -> Callable[[list[str]], np.ndarray]:
    from workbench.providers.embeddings import Embedder

    return Embedder.load().encode


def suggest(
    since: When = "30d",
    until: When = None,
    *,
    root: Path | None = None,
    now: datetime | None = None,
    prices: PriceTable | None = None,
    config: Any = None,
    rule: NearDupRule | None = None,
    encode: Callable[[list[str]], np.ndarray] | None = None,
    kinds: Collection[str] = KINDS,
    max_texts: int = 50_000,
    max_tokens_ratio: float = 4.0,
    min_requests: int = 20,
    short_limits: tuple[int, int] = (500, 200),
    include_local: bool = False,
    bills_on_max: Collection[str] = (),
    live: int = 0,
    rollup: bool = True,
) -> Suggestions:
    """Compute the suggestions for ``[since, until)``; see the kind modules for each rule.

    ``encode`` embeds texts (default: the gateway's MiniLM :class:`Embedder`, loaded only
    when there is eligible traffic); ``config`` is the gateway config whose models are the
    candidates for ``cheaper_model``; ``live`` > 0 replays that many requests of each
    ``cheaper_model`` suggestion against its target and adds the agreement to its data.
    ``rollup`` (default): the exact-cache, max_tokens and cheaper-model rules read the
    cost rollup for whole hours (:mod:`workbench.logstore._rollup_cost`), the same
    answer as the raw rows (``rollup=False``) in a fraction of the time.
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown suggestion kinds {sorted(unknown)} (known: {KINDS})")
    window = Window.of(since, until, now)
    table = load_prices_or(prices)
    rule = rule or NearDupRule()
    items: list[Suggestion] = []
    notes: list[str] = []
    timings: dict[str, float] = {}
    rolled: dict[str, Any] = {}
    if rollup:
        t0 = time.perf_counter()
        rolled = _from_rollup(window, root, kinds, min_requests, short_limits)
        timings["rollup_s"] = time.perf_counter() - t0
    days = _window_days(window, root, rolled.get("first", ()))
    if "exact" in rolled:
        e = rolled["exact"]
        s = exact_suggestion(e.usd, e.hits, e.distinct_repeated, e.examples, days)
        items += [s] if s else []
    if "exact_cache" in kinds and "exact" not in rolled or "semantic_cache" in kinds:
        exact = "exact_cache" in kinds and "exact" not in rolled
        semantic = "semantic_cache" in kinds
        items += _raw_cache_items(window, root, rule, days, exact, semantic, timings,
                                  lambda: encode or _default_encode(), max_texts)  # fmt: skip
    if "max_tokens" in kinds:
        items += oversized_max_tokens(
            window, root, table, days, ratio=max_tokens_ratio,
            min_requests=min_requests, bills_on_max=bills_on_max, stats=rolled.get("tokens"),
        )  # fmt: skip
    if "cheaper_model" in kinds:
        traffic = rolled.get("short")
        if traffic is None:
            traffic = short_traffic(window, root, body_column(root), *short_limits)
        targets = configured_targets(config)
        found = cheaper_models(
            traffic, targets, table, days, include_local=include_local,
            min_requests=min_requests, limits=short_limits,
        )  # fmt: skip
        if live > 0:
            by_name = {t.name: t for t in targets}
            for s in found:
                ids = sample_short(window, root, s.data["model"], short_limits, live)
                res = agreement(ids, by_name[s.data["target"]], root=root, encode=encode)
                s.data["agreement"] = res.to_dict()
        items += found
    items.sort(key=lambda s: (-s.usd_per_month, s.kind, s.title))
    notes.append("timings: " + ", ".join(f"{k}={v:.2f}" for k, v in timings.items()))
    count = rolled["count"] if "count" in rolled else _count(window, root)
    return Suggestions(items, days, count, notes)
