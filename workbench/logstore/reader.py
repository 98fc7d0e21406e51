"""Read-only access to the request log through DuckDB (no locks; sees flushed Parquet).

One in-memory DuckDB database per lake root is kept for the life of the process; every
call gets its own cursor on it (a DuckDB connection must not be shared across threads,
its cursors may be used one per thread). The ``requests`` view globs the Parquet files
on every query, so a cached database sees new files at no extra cost.

:func:`query` and :func:`tail` are safe against a concurrent compaction: a query that
overlapped a change of the lake's layout (see :mod:`workbench.logstore._layout`), or
that lost a file to it, is run again, so a result never counts a row twice or misses
one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl
import pyarrow as pa

from ..home import logs_dir
from ._layout import epoch_age_s, read_epoch
from .schema import schema

log = logging.getLogger(__name__)

T = TypeVar("T")

_HIVE_TYPES = "{'date': 'VARCHAR', 'hour': 'INTEGER'}"
_ATTEMPTS = 50  # re-runs of a query that overlapped a layout change
_STALE_ODD_S = 10.0  # a swap "in progress" for longer than this was cut short by a crash


def _empty_table() -> pa.Table:
    base = schema()
    full = base.append(pa.field("date", pa.string())).append(pa.field("hour", pa.int32()))
    return full.empty_table()


def _has_files(requests: Path) -> bool:
    return any(requests.glob("**/*.parquet"))


class _Lake:
    """The cached DuckDB database of one lake root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests = root / "requests"
        self._lock = threading.Lock()
        self._con = duckdb.connect(":memory:")
        try:
            self._con.execute("SET GLOBAL TimeZone = 'UTC'")
        except duckdb.Error:  # pragma: no cover - ICU extension unavailable
            pass
        self._con.from_arrow(_empty_table()).create("_requests_empty")
        self._live = False
        self._set_view(_has_files(self.requests))

    def _set_view(self, live: bool) -> None:
        if live:
            pattern = str(self.requests / "**" / "*.parquet").replace("'", "''")
            source = (
                f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true, "
                f"hive_types = {_HIVE_TYPES})"
            )
        else:
            source = "_requests_empty"
        self._con.execute(f"CREATE OR REPLACE VIEW requests AS SELECT * FROM {source}")
        self._live = live

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor (own connection, shared catalog) with an up-to-date view."""
        with self._lock:
            if not self._live and _has_files(self.requests):
                self._set_view(True)
            return self._con.cursor()

    def lost_files(self) -> None:
        """A query failed on a missing file: go back to the empty view if none is left."""
        with self._lock:
            if self._live and not _has_files(self.requests):
                self._set_view(False)


_LAKES: dict[Path, _Lake] = {}
_LAKES_LOCK = threading.Lock()


def _lake(root: Path | None) -> _Lake:
    base = (Path(root) if root is not None else logs_dir()).resolve()
    with _LAKES_LOCK:
        lake = _LAKES.get(base)
        if lake is None:
            lake = _LAKES[base] = _Lake(base)
        return lake


def connect(root: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a ``requests`` view over the log lake.

    The view reads ``root/requests/**/*.parquet`` with hive partitioning (``date`` as
    VARCHAR, ``hour`` as INTEGER) and ``union_by_name`` (files written before a
    migration simply lack the new columns). The glob is re-evaluated on every query, so
    a long-lived connection sees newly flushed files. On a lake with no files yet the
    view is an empty table with the v1 schema, until a later :func:`connect`,
    :func:`query` or :func:`tail` finds the first file.

    The connection is a cursor on a database cached per root: cheap to open, to be used
    by one thread, closed by the caller. Prefer :func:`query` for one-off reads: it also
    re-runs a query that raced a compaction.
    """
    return _lake(root).cursor()


def _settled_epoch(root: Path) -> int:
    """The layout epoch once no swap is under way (an odd epoch left by a crash, older
    than ``_STALE_ODD_S``, is returned as is: the next writer open repairs it)."""
    waited = 0.0
    while True:
        epoch = read_epoch(root)
        if epoch % 2 == 0 or waited >= _STALE_ODD_S or epoch_age_s(root) >= _STALE_ODD_S:
            return epoch
        time.sleep(0.01)
        waited += 0.01


def consistent(root: Path | None, run: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Call ``run(cursor)`` until it did not overlap a layout change; return its result.

    A run that fails because a file vanished under it (a compaction swapped the files
    of a partition) is retried too; any other error propagates.
    """
    lake = _lake(root)
    error: duckdb.IOException | None = None
    for attempt in range(_ATTEMPTS):
        before = _settled_epoch(lake.root)
        cur = lake.cursor()
        try:
            result = run(cur)
        except duckdb.IOException as exc:
            error = exc
            lake.lost_files()
            time.sleep(min(0.005 * (attempt + 1), 0.1))
            continue
        finally:
            cur.close()
        if read_epoch(lake.root) == before:
            return result
    if error is not None:
        raise error
    raise RuntimeError(f"the log layout of {lake.root} kept changing; try again")


def query(sql: str, root: Path | None = None) -> pl.DataFrame:
    """Run ``sql`` (which may use the ``requests`` view) and return a polars DataFrame."""
    return consistent(root, lambda cur: cur.sql(sql).pl())


def tail(n: int = 20, root: Path | None = None) -> pl.DataFrame:
    """The ``n`` most recent records, newest first by ``received_at``."""
    sql = "SELECT * FROM requests ORDER BY received_at DESC LIMIT ?"
    return consistent(root, lambda cur: cur.sql(sql, params=[int(n)]).pl())
