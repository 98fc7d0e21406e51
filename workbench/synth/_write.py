"""Generate synthetic traffic straight into the log lake."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from ._generate import generate

__all__ = ["WriteReport", "write"]


@dataclass
class WriteReport:
    """Rows and files written, and the wall time it took."""

    rows: int
    files: int
    seconds: float
    root: Path
    part_ids: list[str]


def write(
    start: datetime,
    end: datetime,
    *,
    root: Path | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> WriteReport:
    """Generate ``[start, end)`` (``kwargs`` as for :func:`generate`) into the lake at
    ``root`` (default ``logs_dir()``) through :func:`workbench.logstore.bulk.write_tables`.

    Raises :class:`~workbench.logstore.WriterLockedError` when a gateway's writer owns
    the lake. ``progress`` shows a tqdm bar (notebook-aware) of rows written.
    """
    from tqdm.auto import tqdm

    from workbench.home import logs_dir
    from workbench.logstore.bulk import write_tables

    base = Path(root) if root is not None else logs_dir()
    t0 = time.perf_counter()
    bar = tqdm(total=None, unit="rows", desc="synth", disable=not progress)

    def counted() -> Iterator[pa.Table]:
        for table in generate(start, end, **kwargs):
            yield table
            bar.update(table.num_rows)

    try:
        report = write_tables(base, counted())
    finally:
        bar.close()
    return WriteReport(report.rows, report.files, time.perf_counter() - t0, base, report.part_ids)
