"""Log access for notebooks and the dashboard: the request log as lazy DuckDB relations
and polars frames, single records, explorer pages, and dashboard aggregates computed
from the per-minute rollups.

    from workbench import logs

    rel = logs.relation(since="24h", workspace="acme", status="error")  # lazy DuckDB
    lf = logs.scan(since="7d", model="gpt-4o-mini", columns=["received_at", "cost_usd"])
    logs.traffic(since="6h")                 # requests/s, errors, blocks per bucket
    logs.latency(since="24h")                # p50/p95/p99 latency and TTFT by model
    logs.spend(since="30d", by=["workspace", "day"])
    logs.page(since="1h", text="refund", limit=50).rows

Nothing here takes a lock or runs an event loop: it is safe next to a running gateway
and inside Jupyter.
"""

from __future__ import annotations

from ._time import parse_duration, parse_time
from .access import PAGE_COLUMNS, Page, get, relation, scan
from .aggregates import latency, rates, spend, top_keys, traffic
from .explorer import page

__all__ = [
    "PAGE_COLUMNS",
    "Page",
    "get",
    "latency",
    "page",
    "parse_duration",
    "parse_time",
    "rates",
    "relation",
    "scan",
    "spend",
    "top_keys",
    "traffic",
]
