"""Migration 3: the cache fields (``cache_similarity``, ``cache_key``, ``cost_saved_usd``).

Files written under v1/v2 get the three columns as nulls, so every file of the lake has
the same columns (DuckDB's ``union_by_name`` would cope without it, a plain polars scan
would not). Idempotent: a file that already has the columns is left alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from .._fs import atomic_write_bytes
from ..schema import FIELD_DOCS, FIELDS, V3_FIELD_NAMES

VERSION = 3


def _add_columns(table: pa.Table) -> pa.Table | None:
    missing = [f for f in FIELDS if f.name in V3_FIELD_NAMES and f.name not in table.schema.names]
    if not missing:
        return None
    for f in missing:
        table = table.append_column(f, pa.nulls(table.num_rows, type=f.type))
    return table


def upgrade(root: Path) -> None:
    """Add the v3 columns to existing files; record ``_meta/schema_v3.json``."""
    from . import rewrite_partitions

    rewrite_partitions(root, _add_columns)
    (root / "_meta").mkdir(parents=True, exist_ok=True)
    fields = [
        {"name": f.name, "type": str(f.type), "nullable": f.nullable, "doc": FIELD_DOCS[f.name]}
        for f in FIELDS
        if f.name in V3_FIELD_NAMES
    ]
    body = {"version": VERSION, "added": fields}
    atomic_write_bytes(root / "_meta" / "schema_v3.json", json.dumps(body, indent=2).encode())
