"""The dashboard's data: cached (``pn.cache``, with a TTL) calls into the workbench library,
always with the session's log directory and workspace scope, plus async twins that run
them in a worker thread so a slow query never blocks the server's event loop.

Arguments are plain values (paths as text, workspaces as a tuple or None) so they hash
for the cache. Nothing here computes analytics itself: each function is one library call
(``workbench.logs``, ``workbench.cost``, ``workbench.anomalies``, governance queries).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import panel as pn

if TYPE_CHECKING:
    import polars as pl

    from workbench.analytics.anomalies import Alert
    from workbench.analytics.cost import Forecast, Suggestions

T = TypeVar("T")
Scope = tuple[str, ...] | None

#: Seconds a cached answer is reused: short for the live page, longer for slow analyses.
LIVE_TTL = 4
TTL = 60
SLOW_TTL = 600


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread (the event loop stays free)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def _ws(workspaces: Scope) -> list[str] | None:
    return None if workspaces is None else list(workspaces)


@pn.cache(ttl=LIVE_TTL, max_items=64)
def traffic(log_dir: str, workspaces: Scope, since: str, bucket: str | None = None) -> pl.DataFrame:
    """Requests, errors, blocks, cache hits, tokens and spend per time bucket."""
    from workbench import logs

    return logs.traffic(since, workspace=_ws(workspaces), bucket=bucket, root=Path(log_dir))


@pn.cache(ttl=LIVE_TTL, max_items=64)
def latency(log_dir: str, workspaces: Scope, since: str, by: str = "model_served") -> pl.DataFrame:
    """Latency and TTFT percentiles per group."""
    from workbench import logs

    return logs.latency(since, workspace=_ws(workspaces), by=by, root=Path(log_dir))


@pn.cache(ttl=LIVE_TTL, max_items=64)
def rates(log_dir: str, workspaces: Scope, since: str, by: str | None = None) -> pl.DataFrame:
    """Error, rejection, block and cache-hit counts and rates, overall or per group."""
    from workbench import logs

    return logs.rates(since, workspace=_ws(workspaces), by=by, root=Path(log_dir))


@pn.cache(ttl=TTL, max_items=64)
def spend(log_dir: str, workspaces: Scope, since: str, by: tuple[str, ...]) -> pl.DataFrame:
    """Spend, requests and tokens per group (rollups; raw projection for user/tag)."""
    from workbench import logs

    return logs.spend(since, workspace=_ws(workspaces), by=list(by), root=Path(log_dir))


def month_start(now: datetime | None = None) -> datetime:
    """Midnight UTC on the first day of the current month."""
    from workbench.analytics.cost.spend import month_start as start

    return start(now or datetime.now(UTC))


@pn.cache(ttl=TTL, max_items=16)
def month_to_date(log_dir: str, workspaces: Scope) -> float:
    """Spend since the start of the UTC month, in the session's workspaces."""
    from workbench import logs

    df = logs.spend(month_start(), workspace=_ws(workspaces), by=[], root=Path(log_dir))
    return float(df["cost_usd"].sum() or 0.0) if df.height else 0.0


@pn.cache(ttl=TTL, max_items=4)
def forecast(log_dir: str) -> Forecast:
    """Month-to-date spend of the whole lake and its forecast to month end."""
    from workbench import cost

    return cost.forecast(root=Path(log_dir))


#: Suggestion kinds the dashboard computes: the semantic-cache rule embeds every prompt
#: (minutes of CPU on a 100k-row lake on 2 cores), so it is left to ``workbench cost suggest``.
DASHBOARD_SUGGESTIONS = ("exact_cache", "max_tokens", "cheaper_model")


@pn.cache(ttl=SLOW_TTL, max_items=4)
def suggestions(log_dir: str, since: str) -> Suggestions:
    """Optimisation suggestions with the money at stake (whole lake)."""
    from workbench import cost

    return cost.suggest(since, root=Path(log_dir), kinds=DASHBOARD_SUGGESTIONS)


def alerts(home: str, statuses: tuple[str, ...] | None = None, limit: int = 200) -> list[Alert]:
    """Alerts, newest first (not cached: acknowledging changes them)."""
    from workbench.analytics.anomalies import AlertStore

    store = AlertStore(Path(home) / "anomalies" / "alerts.db")
    return store.list(list(statuses) if statuses else None, limit)


@pn.cache(ttl=TTL, max_items=32)
def band(
    log_dir: str, level: str, entity: str, metric: str, since: datetime, until: datetime
) -> pl.DataFrame:
    """One anomaly series with its expected band (``workbench.anomalies.band``)."""
    from workbench.analytics.anomalies import band as series_band

    return series_band(level, entity, metric, since, until, root=Path(log_dir))


@pn.cache(ttl=TTL, max_items=32)
def violations(log_dir: str, workspaces: Scope, since: str) -> pl.DataFrame:
    """Failed guardrail verdicts by check, stage, action and mode."""
    from workbench.logs import governance

    return governance.violations(since, workspace=_ws(workspaces), root=Path(log_dir))


@pn.cache(ttl=TTL, max_items=32)
def flagged(
    log_dir: str, workspaces: Scope, since: str, kind: str = "flagged", limit: int = 50
) -> tuple[int, pl.DataFrame]:
    """``(total, newest examples)`` of requests a guardrail flagged (or denied)."""
    from workbench.logs import governance

    return governance.blocked_requests(
        kind, since, workspace=_ws(workspaces), limit=limit, root=Path(log_dir)
    )


EVALUATION_FILES = ("policy-eval.json", "policy-compare.json", "eval.json")


def latest_evaluation(home: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest evaluation result ``workbench guardrails eval`` saved under
    ``$WORKBENCH_HOME/guardrails/``, with its path; None when none was run."""
    found = [Path(home) / "guardrails" / name for name in EVALUATION_FILES]
    present = [p for p in found if p.is_file()]
    if not present:
        return None
    newest = max(present, key=lambda p: p.stat().st_mtime)
    return newest, json.loads(newest.read_text())
