"""Numbered schema migrations for the log lake.

Each migration is a module ``mNNNN_<name>.py`` in this package defining ``VERSION: int``
(equal to NNNN) and ``upgrade(root: Path) -> None``. :func:`migrate` applies the pending
ones in order and records progress in ``root/_meta/schema_version.json`` after each
step, so a migration runs exactly once per lake. A migration interrupted by a crash is
re-run from the start, so ``upgrade`` must be idempotent (e.g. rewrite a file only if it
still lacks the new column; :func:`rewrite_partitions` helps with that).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .._fs import atomic_write_bytes

VERSION_FILE = "_meta/schema_version.json"
_MODULE_RE = re.compile(r"^m(\d{4})_\w+$")


@dataclass(frozen=True)
class Migration:
    """One numbered migration step."""

    version: int
    name: str
    upgrade: Callable[[Path], None]


def discover() -> list[Migration]:
    """The migrations shipped in this package, ordered by version."""
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        match = _MODULE_RE.match(info.name)
        if not match:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        version = int(match.group(1))
        if getattr(module, "VERSION", version) != version:
            raise RuntimeError(f"migration {info.name}: VERSION does not match its file name")
        found.append(Migration(version, info.name, module.upgrade))
    return sorted(found, key=lambda m: m.version)


MIGRATIONS: list[Migration] = discover()
"""The registered migrations; :func:`migrate` reads this list at call time."""


def current_version(root: Path) -> int:
    """The schema version recorded for the lake at ``root`` (0 when none is)."""
    path = root / VERSION_FILE
    if not path.exists():
        return 0
    return int(json.loads(path.read_text())["version"])


def _record(root: Path, migration: Migration) -> None:
    path = root / VERSION_FILE
    state: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"applied": []}
    state["version"] = migration.version
    state.setdefault("applied", []).append(
        {
            "version": migration.version,
            "name": migration.name,
            "applied_at": datetime.now(UTC).isoformat(),
        }
    )
    atomic_write_bytes(path, json.dumps(state, indent=2).encode())


def migrate(root: Path, migrations: Sequence[Migration] | None = None) -> int:
    """Apply pending migrations to the lake at ``root`` in order; return the resulting version.

    ``migrations`` defaults to :data:`MIGRATIONS`. Raises ``RuntimeError`` when the lake
    is newer than this code knows (a downgrade) or the versions are not 1, 2, 3, ...
    Only the single writer (:class:`~workbench.logstore.LogWriter`) calls this, under its
    writer lock.
    """
    steps = sorted(MIGRATIONS if migrations is None else migrations, key=lambda m: m.version)
    if [m.version for m in steps] != list(range(1, len(steps) + 1)):
        raise RuntimeError(f"migration versions must be 1..N, got {[m.version for m in steps]}")
    root.mkdir(parents=True, exist_ok=True)
    version = current_version(root)
    latest = steps[-1].version if steps else 0
    if version > latest:
        raise RuntimeError(
            f"log lake at {root} is at schema version {version}, "
            f"newer than this code ({latest}); upgrade the workbench"
        )
    for step in steps:
        if step.version > version:
            step.upgrade(root)
            _record(root, step)
            version = step.version
    return version


def rewrite_partitions(root: Path, transform: Callable[[pa.Table], pa.Table | None]) -> int:
    """Rewrite every Parquet file under ``root/requests`` through ``transform``.

    ``transform`` returns the new table, or ``None`` to leave a file alone (which is how
    a migration stays idempotent). Each file is replaced atomically. Returns the number
    of files rewritten.
    """
    count = 0
    for path in sorted((root / "requests").glob("**/*.parquet")):
        new = transform(pq.read_table(path, partitioning=None))
        if new is None:
            continue
        sink = pa.BufferOutputStream()
        pq.write_table(new, sink, compression="zstd")
        atomic_write_bytes(path, sink.getvalue().to_pybytes())
        count += 1
    return count


def add_null_columns(root: Path, version: int, names: Sequence[str]) -> None:
    """A schema step that only adds fields: the ``names`` columns (as declared in the
    current schema) appear as nulls in every file that lacks them, and
    ``_meta/schema_v<version>.json`` records what was added. Idempotent."""
    from ..schema import FIELD_DOCS, FIELDS

    wanted = [f for f in FIELDS if f.name in names]

    def add(table: pa.Table) -> pa.Table | None:
        missing = [f for f in wanted if f.name not in table.schema.names]
        if not missing:
            return None
        for f in missing:
            table = table.append_column(f, pa.nulls(table.num_rows, type=f.type))
        return table

    rewrite_partitions(root, add)
    (root / "_meta").mkdir(parents=True, exist_ok=True)
    fields = [
        {"name": f.name, "type": str(f.type), "nullable": f.nullable, "doc": FIELD_DOCS[f.name]}
        for f in wanted
    ]
    body = {"version": version, "added": fields}
    atomic_write_bytes(
        root / "_meta" / f"schema_v{version}.json", json.dumps(body, indent=2).encode()
    )
