"""Read-only access to the request log through DuckDB (no locks; sees flushed Parquet)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from ..home import logs_dir
from .schema import schema

_HIVE_TYPES = "{'date': 'VARCHAR', 'hour': 'INTEGER'}"


def _empty_table() -> pa.Table:
    base = schema()
    full = base.append(pa.field("date", pa.string())).append(pa.field("hour", pa.int32()))
    return full.empty_table()


def connect(root: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a ``requests`` view over the log lake.

    The view reads ``root/requests/**/*.parquet`` with hive partitioning (``date`` as
    VARCHAR, ``hour`` as INTEGER) and ``union_by_name`` (files written before a
    migration simply lack the new columns). The glob is re-evaluated on every query, so
    a long-lived connection sees newly flushed files. On a lake with no files yet the
    view is an empty table with the v1 schema (and stays empty for that connection).
    """
    base = Path(root) if root is not None else logs_dir()
    requests = base / "requests"
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error:  # pragma: no cover - ICU extension unavailable
        pass
    if any(requests.glob("**/*.parquet")):
        pattern = str(requests / "**" / "*.parquet").replace("'", "''")
        con.execute(
            "CREATE VIEW requests AS SELECT * FROM read_parquet("
            f"'{pattern}', hive_partitioning = true, union_by_name = true, "
            f"hive_types = {_HIVE_TYPES})"
        )
    else:
        con.register("_requests_empty", _empty_table())
        con.execute("CREATE VIEW requests AS SELECT * FROM _requests_empty")
    return con


def query(sql: str, root: Path | None = None) -> pl.DataFrame:
    """Run ``sql`` (which may use the ``requests`` view) and return a polars DataFrame."""
    con = connect(root)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def tail(n: int = 20, root: Path | None = None) -> pl.DataFrame:
    """The ``n`` most recent records, newest first by ``received_at``."""
    con = connect(root)
    try:
        sql = "SELECT * FROM requests ORDER BY received_at DESC LIMIT ?"
        return con.sql(sql, params=[int(n)]).pl()
    finally:
        con.close()
