"""Cacheable traffic: logged request bodies grouped by exact key.

DuckDB first groups the window's successful, uncached requests by (workspace, model,
policy hash, endpoint, body text): identical body text means an identical key, so the
Python side parses and hashes each distinct body once. The result has one row per
distinct body with its request count, total cost, the cost and time of its first
request and up to three example request ids, plus the exact key, the near-duplicate
scope, the conversation text and whether the rule lets a semantic cache serve it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from workbench.cache.match import (
    NearDupRule,
    conversation_text,
    exact_key,
    scope_key,
)

from ._window import Window, lake_columns, run
from .spend import CACHE_HIT_STATUSES

if TYPE_CHECKING:
    import polars as pl


def body_column(root: Path | None) -> str:
    """SQL for the request body: the client's original where logged (schema v2)."""
    cols = lake_columns(root)
    if "request_original" in cols:
        return "coalesce(request_original, request_body)"
    return "request_body"


_ORDER = "received_at, coalesce(cost_usd, 0), request_id"
"""The order of a key's requests (the first fills the cache entry); the cost rollup
(:mod:`workbench.logstore._rollup_cost_compute`) uses the same."""


def load_groups(window: Window, root: Path | None) -> pl.DataFrame:
    """One row per distinct logged body (see the module docstring), keys not yet added."""
    where, params = window.where()
    body = body_column(root)
    hits = ", ".join(f"'{s}'" for s in CACHE_HIT_STATUSES)
    sql = f"""
        SELECT workspace, coalesce(model_served, model_requested) AS model, provider,
               policy_hash, endpoint, {body} AS body,
               count(*) AS n,
               sum(coalesce(cost_usd, 0)) AS cost,
               list(coalesce(cost_usd, 0) ORDER BY {_ORDER})[1] AS first_cost,
               min(received_at) AS first_at,
               min(temperature) AS temperature,
               list(request_id ORDER BY {_ORDER})[1:3] AS examples,
               list(struct_pack(at := received_at, c := coalesce(cost_usd, 0),
                                id := request_id) ORDER BY {_ORDER})[1:2] AS ex
        FROM requests
        WHERE {where} AND status = 'ok'
          AND coalesce(cache_status, '') NOT IN ({hits})
          AND {body} IS NOT NULL
        GROUP BY ALL
    """
    return run(sql, params, root)


def _keys(row: dict[str, Any], rule: NearDupRule) -> tuple[str | None, ...] | None:
    try:
        body = orjson.loads(row["body"])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    ident = {
        "model": row["model"],
        "workspace": row["workspace"],
        "policy_hash": row["policy_hash"],
        "endpoint": row["endpoint"],
    }
    key = exact_key(body, **ident)
    if not rule.eligible(body, row["temperature"]):
        return key, None, None
    return key, scope_key(body, **ident), conversation_text(body)


def keyed_groups(window: Window, root: Path | None, rule: NearDupRule) -> pl.DataFrame:
    """:func:`load_groups` plus ``key``, ``scope`` and ``text`` (None: not eligible for
    a semantic cache); bodies that are not JSON objects are left out."""
    import polars as pl

    groups = load_groups(window, root)
    keys, scopes, texts, keep = [], [], [], []
    for row in groups.select("body", "model", "workspace", "policy_hash", "endpoint",
                             "temperature").iter_rows(named=True):  # fmt: skip
        got = _keys(row, rule)
        keep.append(got is not None)
        k, s, t = got if got is not None else (None, None, None)
        keys.append(k)
        scopes.append(s)
        texts.append(t)
    out = groups.with_columns(
        pl.Series("key", keys, dtype=pl.Utf8),
        pl.Series("scope", scopes, dtype=pl.Utf8),
        pl.Series("text", texts, dtype=pl.Utf8),
    ).drop("body")
    return out.filter(pl.Series(keep, dtype=pl.Boolean))


def by_key(groups: pl.DataFrame) -> pl.DataFrame:
    """Merge rows with the same exact key: ``n``, ``cost``, the first request's cost and
    time (earliest, then cheapest: the order ``(received_at, cost, request_id)``),
    examples (those of the earliest rows first), ``ex`` (the first two requests of each
    merged row, unordered), scope and text."""
    import polars as pl

    return (
        groups.sort("first_at", "first_cost")
        .group_by("key", maintain_order=True)
        .agg(
            pl.col("n").sum(),
            pl.col("cost").sum(),
            pl.col("first_cost").first(),
            pl.col("first_at").first(),
            pl.col("examples").explode(empty_as_null=False).head(3),
            pl.col("ex").explode(empty_as_null=False),
            pl.col("scope").first(),
            pl.col("text").first(),
            pl.col("workspace").first(),
            pl.col("model").first(),
        )
    )
