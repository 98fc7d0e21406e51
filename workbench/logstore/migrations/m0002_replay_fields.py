"""Migration 2: the replay fields (``request_original``, ``request_masked``,
``upstream_outputs``, ``output_masked``).

Files written under v1 get the four columns as nulls, so every file of the lake has the
same columns (DuckDB's ``union_by_name`` would cope without it, a plain polars scan would
not). Idempotent: a file that already has the columns is left alone.
"""

from __future__ import annotations

from pathlib import Path

from ..schema import V2_FIELD_NAMES

VERSION = 2


def upgrade(root: Path) -> None:
    """Add the v2 columns to existing files; record ``_meta/schema_v2.json``."""
    from . import add_null_columns

    add_null_columns(root, VERSION, V2_FIELD_NAMES)
