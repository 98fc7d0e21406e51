"""The verdict rollup: failed guardrail verdicts per requests file, kept as the log grows.

Every requests file ``requests/date=D/hour=HH/<name>.parquet`` has a verdict-rollup file of
the same name, ``rollups/verdicts/date=D/hour=HH/<name>.parquet``, holding the failed
verdicts (``passed = false``) of the file's rows parsed from ``guardrail_verdicts``:

- ``kind = 'check'``: one row per ``(workspace, check, validator, stage, action, mode)``:
  ``verdicts`` (failed verdicts: a stream window counts once each) and ``requests``
  (distinct ``request_id`` with such a verdict); ``mode`` is ``enforce`` when the verdict
  has none;
- ``kind = 'any'``: one row per ``workspace`` (the verdict columns null): ``requests``
  with at least one failed verdict, and their ``verdicts``;
- ``kind = 'flagged'``: the same for the failed verdicts that flag without blocking
  (``action = 'flag'`` or a mode other than ``enforce``): the review queue's count.

A request lives in exactly one requests file (the writer never writes an id twice), so
``requests`` adds up across files, hours and workspaces: the whole hours of a window sum
these rows; an hour cut by the window's edges is read from raw rows
(:mod:`workbench.logs.governance`). A reader uses a partition's verdict files only while
their names are exactly the requests files' names (a file being written or a compaction
in progress makes the hour read raw rows, never a wrong count).

The writer writes a file's verdict rollup with its minute rollup
(:func:`workbench.logstore.rollups.roll_up_file`), and :func:`sync_partition` (run by
compaction, erasure/retention rewrites, the writer's repair on open and
``workbench logs rollups rebuild``) makes the tree mirror the requests tree again. The
layout is versioned by the ``workbench.verdict_rollup_version`` schema metadata
(:data:`VERDICT_ROLLUP_VERSION`); a lake written before this rollup existed gets it on
the next writer open (repair backfills every partition once) or by a rebuild.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from . import _mirror
from ._parquet import conform, read_columns, write_table_atomic

if TYPE_CHECKING:
    import polars as pl

VERDICT_ROLLUP_VERSION = 1
LEVEL = "verdicts"
KEYS: tuple[str, ...] = ("workspace", "check", "validator", "stage", "action", "mode")
INPUTS: dict[str, pa.DataType] = {
    "request_id": pa.string(),
    "workspace": pa.string(),
    "guardrail_verdicts": pa.string(),
}
_FIELDS = ("check", "validator", "stage", "passed", "action", "mode")


def verdict_dir(root: Path) -> Path:
    """``root/rollups/verdicts``: the verdict-rollup tree of the lake at ``root``."""
    return Path(root) / "rollups" / LEVEL


def verdict_schema() -> pa.Schema:
    """The Arrow schema of a verdict-rollup file (partition columns not included)."""
    i64 = pa.int64()
    fields = [pa.field(k, pa.string()) for k in KEYS]
    fields += [pa.field("kind", pa.string()), pa.field("verdicts", i64), pa.field("requests", i64)]
    meta = {b"workbench.verdict_rollup_version": str(VERDICT_ROLLUP_VERSION).encode()}
    return pa.schema(fields, metadata=meta)


def _inputs(table: pa.Table) -> pl.DataFrame:
    import polars as pl

    df = pl.from_arrow(conform(table, INPUTS))
    assert isinstance(df, pl.DataFrame)
    return df


def failed_verdicts(table: pa.Table) -> pl.DataFrame:
    """One row per failed verdict of the raw rows: ``request_id`` and the :data:`KEYS`."""
    import polars as pl

    df = _inputs(table).filter(
        pl.col("guardrail_verdicts").str.contains("false", literal=True).fill_null(False)
    )
    dtype = pl.List(pl.Struct(dict.fromkeys(_FIELDS, pl.String) | {"passed": pl.Boolean}))
    parsed = df.with_columns(pl.col("guardrail_verdicts").str.json_decode(dtype).alias("v"))
    flat = (
        parsed.select("request_id", "workspace", "v").explode("v", empty_as_null=False).unnest("v")
    )
    flat = flat.filter(pl.col("passed") == False)  # noqa: E712  (null: not failed)
    return flat.with_columns(pl.col("mode").fill_null("enforce")).select("request_id", *KEYS)


def _flagged() -> pl.Expr:
    import polars as pl

    return (pl.col("action") == "flag").fill_null(False) | (pl.col("mode") != "enforce")


def compute_verdicts(table: pa.Table) -> pa.Table:
    """The verdict rollup of raw request rows (one requests file's rows)."""
    import polars as pl

    target = verdict_schema()
    if table.num_rows == 0:
        return target.empty_table()
    flat = failed_verdicts(table)
    ids = pl.col("request_id").drop_nulls().n_unique().cast(pl.Int64).alias("requests")
    counts = [pl.len().cast(pl.Int64).alias("verdicts"), ids]
    flagged = flat.filter(_flagged())
    out = pl.concat(
        [
            flat.group_by(list(KEYS)).agg(counts).with_columns(pl.lit("check").alias("kind")),
            flat.group_by("workspace").agg(counts).with_columns(pl.lit("any").alias("kind")),
            flagged.group_by("workspace").agg(counts).with_columns(pl.lit("flagged").alias("kind")),
        ],
        how="diagonal",
    ).sort(["kind", *KEYS], nulls_last=True)
    return out.select(target.names).to_arrow().cast(target)


def write_verdicts(root: Path, requests_file: Path, table: pa.Table | None = None) -> None:
    """Write the verdict rollup of one requests file to its mirror path (``table``: the
    file's rows when the caller has them in memory; else the file is read)."""
    root = Path(root)
    if table is None:
        table = read_columns(requests_file, INPUTS)
    rel = requests_file.parent.relative_to(root / "requests")
    write_table_atomic(compute_verdicts(table), verdict_dir(root) / rel / requests_file.name)


def write_partition_verdicts(
    root: Path, table: pa.Table, name: str, *, overwrite: bool = False
) -> None:
    """Write the verdict rollup of raw rows spanning any partitions, one ``name`` file per
    ``(date, hour)`` (the bulk writer's files ``requests/date=D/hour=HH/<name>``); an
    existing file is kept unless ``overwrite``."""
    _mirror.write_by_hour(table, verdict_dir(root), name, compute_verdicts, overwrite=overwrite)


def sync_partition(root: Path, date: str, hour: int, *, rebuild: bool = False) -> int:
    """Make the verdict partition mirror the requests partition (``rebuild``: recompute
    every file); returns the files written (:func:`workbench.logstore._mirror.sync`)."""
    root = Path(root)
    return _mirror.sync(
        root, verdict_dir(root), date, hour, lambda f: write_verdicts(root, f), rebuild=rebuild
    )


def mirrored(root: Path, date: str, hour: int, names: list[str]) -> list[Path] | None:
    """The verdict files of ``(date, hour)`` when they are exactly ``names`` (the hour's
    requests files), else None."""
    return _mirror.mirrored(verdict_dir(root), date, hour, names)
