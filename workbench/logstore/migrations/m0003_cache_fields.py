"""Migration 3: the cache fields (``cache_similarity``, ``cache_key``, ``cost_saved_usd``).

Files written under v1/v2 get the three columns as nulls, so every file of the lake has
the same columns (DuckDB's ``union_by_name`` would cope without it, a plain polars scan
would not). Idempotent: a file that already has the columns is left alone.
"""

from __future__ import annotations

from pathlib import Path

from ..schema import V3_FIELD_NAMES

VERSION = 3


def upgrade(root: Path) -> None:
    """Add the v3 columns to existing files; record ``_meta/schema_v3.json``."""
    from . import add_null_columns

    add_null_columns(root, VERSION, V3_FIELD_NAMES)
