"""The request log: one Parquet row per request, written by a single durable writer.

Write with :class:`LogWriter` (spool + fsync before ack, idempotent by ``request_id``,
crash-safe flush into ``requests/date=YYYY-MM-DD/hour=HH/`` partitions, records that do
not fit the schema dead-lettered instead of blocking a batch); merge the files of closed
hours with :func:`compact`; per-minute rollups are kept beside the raw files
(:mod:`workbench.logstore.rollups`, :func:`roll_up`, :func:`rebuild_rollups`); read with
:func:`connect`, :func:`query` and :func:`tail` (DuckDB over the Parquet files, no locks,
one cached database per lake).
"""

from __future__ import annotations

from .compaction import CompactionReport, compact, compact_closed
from .deadletter import read_dead_letters
from .migrations import Migration, migrate
from .normalize import normalize_record, salvage_record
from .reader import connect, query, tail
from .rollups import rebuild as rebuild_rollups
from .rollups import roll_up
from .schema import (
    FIELD_DOCS,
    FIELD_NAMES,
    FIELDS,
    PARTITION_COLUMNS,
    SCHEMA_VERSION,
    schema,
)
from .writer import LogWriter, WriterLockedError

__all__ = [
    "CompactionReport",
    "FIELDS",
    "FIELD_DOCS",
    "FIELD_NAMES",
    "PARTITION_COLUMNS",
    "SCHEMA_VERSION",
    "LogWriter",
    "Migration",
    "compact",
    "compact_closed",
    "WriterLockedError",
    "connect",
    "migrate",
    "normalize_record",
    "query",
    "read_dead_letters",
    "rebuild_rollups",
    "roll_up",
    "salvage_record",
    "schema",
    "tail",
]
