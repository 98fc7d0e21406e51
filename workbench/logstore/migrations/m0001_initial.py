"""Migration 1: lay out a fresh lake and record the v1 schema."""

from __future__ import annotations

import json
from pathlib import Path

from .._fs import atomic_write_bytes
from ..schema import FIELD_DOCS, FIELDS, V2_FIELD_NAMES, V3_FIELD_NAMES

VERSION = 1


def upgrade(root: Path) -> None:
    """Create ``requests/``, ``spool/`` and ``_meta/schema_v1.json`` (fields, types, docs).

    The v1 field list is :data:`FIELDS` without the fields later versions added.
    """
    for sub in ("requests", "spool", "_meta"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    fields = [
        {
            "name": f.name,
            "type": str(f.type),
            "nullable": f.nullable,
            "doc": FIELD_DOCS[f.name],
        }
        for f in FIELDS
        if f.name not in V2_FIELD_NAMES and f.name not in V3_FIELD_NAMES
    ]
    body = {"version": VERSION, "fields": fields, "partitioning": ["date", "hour"]}
    atomic_write_bytes(root / "_meta" / "schema_v1.json", json.dumps(body, indent=2).encode())
