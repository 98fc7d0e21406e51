"""``workbench demo``: fill a fresh install with synthetic traffic, so analytics have data.

The demo load is recorded in ``<log lake>/_meta/demo.json`` (the files it wrote). Run
again, it refuses (the demo data is already there); with ``--reset`` it deletes its own
files and writes a fresh load, and it refuses to delete anything when the lake also
holds traffic it did not write (a gateway's).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from workbench.cli._common import LOG_DIR_OPTION, CliError

MARKER = "_meta/demo.json"


def _lake_files(root: Path) -> list[Path]:
    return [p for p in (root / "requests").glob("date=*/hour=*/*.parquet")]


def _marker(root: Path) -> dict[str, Any] | None:
    path = root / MARKER
    return json.loads(path.read_text()) if path.exists() else None


def _reset(root: Path, marker: dict[str, Any]) -> None:
    """Delete the demo's files (requests and rollups), refusing if other traffic exists."""
    from workbench.logstore.bulk import lake_lock

    ours = {f"part-{pid}.parquet" for pid in marker.get("part_ids", [])}
    with lake_lock(root):
        others = [p for p in _lake_files(root) if p.name not in ours]
        if others:
            raise CliError(
                f"the log lake at {root} also holds {len(others)} file(s) the demo did not "
                "write (gateway traffic or a compaction); not deleting anything"
            )
        for tree in ("requests", "rollups"):
            shutil.rmtree(root / tree, ignore_errors=True)
        (root / MARKER).unlink(missing_ok=True)


@click.command()
@click.option("--days", type=click.IntRange(1, 366), default=14, show_default=True)
@click.option(
    "--rate", type=click.FloatRange(1, 1e6), default=300.0, show_default=True,
    help="Mean requests per hour over a week (all workspaces).",
)  # fmt: skip
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--reset", is_flag=True, help="Replace an earlier demo load.")
@LOG_DIR_OPTION
def demo(days: int, rate: float, seed: int, reset: bool, log_dir: Path | None) -> None:
    """Fill the log lake with DAYS of synthetic traffic ending now (five workspaces,
    their keys, users and models, errors, fallbacks, attacks, PII, repeated questions).

    Refuses when demo data is already there (use --reset to replace it) or when the lake
    already holds other traffic.
    """
    from workbench.home import logs_dir
    from workbench.logstore import WriterLockedError
    from workbench.synth import write

    root = Path(log_dir) if log_dir is not None else logs_dir()
    marker = _marker(root)
    if marker is not None and not reset:
        raise CliError(
            f"demo data is already in {root} ({marker['rows']:,} rows written "
            f"{marker['written_at']}); run `workbench demo --reset` to replace it"
        )
    try:
        if marker is not None:
            _reset(root, marker)
        elif _lake_files(root):
            raise CliError(
                f"the log lake at {root} already holds traffic; the demo needs an empty one"
            )
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        report = write(end - timedelta(days=days), end, root=root, rate_per_hour=rate, seed=seed)
    except WriterLockedError as exc:
        raise CliError(f"{exc}: stop the gateway (`workbench down`) first") from exc
    info = {
        "rows": report.rows, "files": report.files, "days": days, "rate_per_hour": rate,
        "seed": seed, "start": (end - timedelta(days=days)).isoformat(), "end": end.isoformat(),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"), "part_ids": report.part_ids,
    }  # fmt: skip
    (root / "_meta").mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(json.dumps(info, indent=2))
    replaced = " (replaced the earlier demo load)" if marker is not None else ""
    click.echo(
        f"wrote {report.rows:,} rows ({days} days, {rate:g} requests/h, seed {seed}) into "
        f"{root} in {report.seconds:.1f} s{replaced}"
    )
