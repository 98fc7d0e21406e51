"""The logged requests to replay: from SQL, a frame, or filters on the log lake.

``since``/``until`` take a datetime, an ISO time, or a look-back such as ``"24h"``,
``"30m"``, ``"7d"``; they filter any input that has a ``received_at`` column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

_SQL = re.compile(r"^\s*(select|with|from)\b", re.IGNORECASE)

#: columns a replay reads (missing ones are read as nulls: v1 rows, hand-made frames)
COLUMNS = (
    "request_id",
    "received_at",
    "endpoint",
    "workspace",
    "key_id",
    "model_requested",
    "status",
    "finish_reason",
    "http_status",
    "error_code",
    "stream",
    "target",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "guardrail_verdicts",
    "routing_attempts",
    "request_body",
    "response_body",
    "request_original",
    "request_masked",
    "upstream_outputs",
    "output_masked",
)


@dataclass(frozen=True)
class Filters:
    """Row filters applied to whatever the input is."""

    since: datetime | None = None
    until: datetime | None = None
    workspace: str | None = None
    model: str | None = None
    limit: int | None = None


def _frame(obj: Any) -> pl.DataFrame:
    import polars as pl

    if isinstance(obj, pl.DataFrame):
        return obj
    if isinstance(obj, pl.LazyFrame):
        return obj.collect()
    if hasattr(obj, "pl"):  # a DuckDB relation
        return obj.pl()
    if hasattr(obj, "to_batches"):  # a pyarrow Table
        out = pl.from_arrow(obj)
        assert isinstance(out, pl.DataFrame)
        return out
    raise TypeError(
        "replay takes a SQL string over the `requests` view, a polars/DuckDB/Arrow frame "
        f"of log rows, or None (filters only); got {type(obj).__name__}"
    )


def _sql_for(query: str | None, f: Filters) -> tuple[str, list[Any]]:
    """The caller's query (or all rows) narrowed by the filters, with bound parameters."""
    base = query if query is not None else "SELECT * FROM requests"
    where: list[str] = []
    params: list[Any] = []
    if f.since is not None:
        where.append("received_at >= ?")
        params.append(f.since)
    if f.until is not None:
        where.append("received_at < ?")
        params.append(f.until)
    for col, val in (("workspace", f.workspace), ("model_requested", f.model)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    sql = f"SELECT * FROM ({base}) AS q"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY received_at"
    if f.limit is not None:
        sql += f" LIMIT {int(f.limit)}"
    return sql, params


def _filter_frame(df: pl.DataFrame, f: Filters) -> pl.DataFrame:
    import polars as pl

    if f.since is not None and "received_at" in df.columns:
        df = df.filter(pl.col("received_at") >= f.since)
    if f.until is not None and "received_at" in df.columns:
        df = df.filter(pl.col("received_at") < f.until)
    if f.workspace is not None and "workspace" in df.columns:
        df = df.filter(pl.col("workspace") == f.workspace)
    if f.model is not None and "model_requested" in df.columns:
        df = df.filter(pl.col("model_requested") == f.model)
    if f.limit is not None:
        df = df.head(f.limit)
    return df


def load_rows(source: Any, f: Filters, root: Path | None = None) -> pl.DataFrame:
    """The rows to replay, with every column of :data:`COLUMNS` (nulls where absent)."""
    import polars as pl

    if source is None or (isinstance(source, str) and _SQL.match(source)):
        from workbench.logstore.reader import consistent

        sql, params = _sql_for(source, f)
        df = consistent(root, lambda cur: cur.sql(sql, params=params).pl())
    elif isinstance(source, str):
        raise ValueError("a string input must be SQL over the `requests` view (SELECT ...)")
    else:
        df = _filter_frame(_frame(source), f)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        df = df.with_columns([pl.lit(None).alias(c) for c in missing])
    return df.select(COLUMNS)
