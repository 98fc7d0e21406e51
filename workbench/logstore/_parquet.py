"""Rows to Arrow (one bad row never sinks the others) and durable Parquet writes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ._fs import ensure_dir, fsync_dir
from .schema import schema

COMPRESSION = "zstd"


def rows_to_table(rows: list[dict[str, Any]]) -> tuple[pa.Table, list[tuple[dict[str, Any], str]]]:
    """Convert normalised rows to a table sorted by ``received_at``.

    Rows from :func:`~workbench.logstore.normalize.salvage_record` always convert; this is
    the safety net behind it: if the batch does not convert, each row is tried alone and
    the ones Arrow refuses come back as ``(row, reason)`` instead of failing the flush.
    """
    rows = sorted(rows, key=lambda r: r["received_at"])
    target = schema()
    try:
        return pa.Table.from_pylist(rows, schema=target), []
    except Exception:  # find the culprits row by row
        pass
    good: list[dict[str, Any]] = []
    bad: list[tuple[dict[str, Any], str]] = []
    for row in rows:
        try:
            pa.Table.from_pylist([row], schema=target)
        except Exception as exc:
            bad.append((row, f"arrow conversion failed: {type(exc).__name__}: {exc}"[:500]))
        else:
            good.append(row)
    return pa.Table.from_pylist(good, schema=target), bad


def write_table_atomic(table: pa.Table, dest: Path) -> None:
    """Write ``table`` to ``dest``: hidden temp file, fsync, rename, fsync the directory."""
    ensure_dir(dest.parent)
    tmp = dest.with_name(f".{dest.name}.tmp")
    with open(tmp, "wb") as fh:
        pq.write_table(table, fh, compression=COMPRESSION)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


def read_columns(path: Path, names: Any) -> pa.Table:
    """The columns of ``names`` that the Parquet file at ``path`` has (a file written
    before a column existed simply lacks it)."""
    present = set(pq.read_schema(path).names)
    return pq.read_table(path, columns=[c for c in names if c in present], partitioning=None)


def conform(table: pa.Table, types: dict[str, pa.DataType]) -> pa.Table:
    """``table`` as exactly the columns of ``types``, cast, in that order; a missing
    column is all nulls."""
    cols = [
        table.column(n).cast(t) if n in table.column_names else pa.nulls(table.num_rows, t)
        for n, t in types.items()
    ]
    return pa.Table.from_arrays(cols, names=list(types))
