"""The process's DuckDB database for log reads, and the consistent-read retry.

The library does not use the ``requests`` view of :func:`workbench.logstore.connect`:
creating that view reads the footer of every file in the lake. Each query here names
the files of the hours it needs (:mod:`workbench.logs._files`). Like
:func:`workbench.logstore.reader.consistent`, a query that overlapped a compaction's
swap of an hour's files (the lake's layout epoch moved, or a file vanished) runs again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")
EMPTY_TABLE = "_logs_requests_empty"
_ATTEMPTS = 50

_CON: duckdb.DuckDBPyConnection | None = None
_LOCK = threading.Lock()


def cursor() -> duckdb.DuckDBPyConnection:
    """A new cursor on the cached in-memory database (UTC session, empty-log table)."""
    global _CON
    import duckdb

    from workbench.logstore.reader import _empty_table

    with _LOCK:
        if _CON is None:
            con = duckdb.connect(":memory:")
            con.execute("SET TimeZone = 'UTC'")
            con.from_arrow(_empty_table()).create(EMPTY_TABLE)
            _CON = con
        return _CON.cursor()


def consistent(root: Path, run: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """``run(cursor)`` until it did not overlap a layout change of the lake at ``root``."""
    import duckdb

    from workbench.logstore._layout import read_epoch
    from workbench.logstore.reader import _settled_epoch

    error: duckdb.IOException | None = None
    for attempt in range(_ATTEMPTS):
        before = _settled_epoch(root)
        cur = cursor()
        try:
            result = run(cur)
        except duckdb.IOException as exc:  # a file vanished under the query
            error = exc
            time.sleep(min(0.005 * (attempt + 1), 0.1))
            continue
        finally:
            cur.close()
        if read_epoch(root) == before:
            return result
    if error is not None:
        raise error
    raise RuntimeError(f"the log layout of {root} kept changing; try again")
