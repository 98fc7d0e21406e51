"""Per-minute rollups of the request log: additive partial aggregates kept as the log grows.

Every requests file ``requests/date=D/hour=HH/<name>.parquet`` has a rollup file of the
same name, ``rollups/minute/date=D/hour=HH/<name>.parquet``, holding one row per
``(minute, workspace, key_id, model_requested, model_served, status, endpoint)`` of the
rows in that file. Every measure is additive, so any coarser aggregate (an hour, a day,
a workspace) is a plain ``SUM`` over rollup rows, and percentiles come from the summed
histograms.

Measures (one row = the requests of one minute and one combination of dimensions):

- ``requests``; ``errors`` (``status = 'error'``: a 5xx or a stream that failed after its
  first byte); ``rejected`` (``status = 'rejected'``: a 4xx);
- ``blocks``: requests a guardrail denied: ``error_code = 'guardrail_denied'`` (the
  gateway's code for an input deny, an output deny and a stream stopped mid-way), or a
  verdict in ``guardrail_verdicts`` with ``passed = false``, ``action = 'deny'`` and an
  ``enforce`` mode (records written by other producers);
- ``cache_hits`` (``cache_status = 'hit'``), ``streamed`` (``stream``);
- ``prompt_tokens``, ``completion_tokens``, ``cost_usd`` (sums of the non-null values);
- ``latency_count``/``latency_sum``/``latency_max`` and ``ttft_count``/``ttft_sum``/
  ``ttft_max``, and a sparse log-bucket histogram of each (``*_buckets``: bucket indexes,
  ``*_counts``: counts): bucket 0 is ``[0, 0.01 ms)``, bucket ``i >= 1`` is
  ``[0.01 * 1.05**(i-1), 0.01 * 1.05**i)`` ms, so a percentile read from it (the bucket's
  geometric middle) is within 2.5 % of the exact value.

The :class:`~workbench.logstore.LogWriter` writes a flush's rollup files right after its
requests files and before it retires the spool segment (idempotent by segment id, as the
requests files are); compaction rebuilds the rollup of every merged file and swaps the
rollup partition like the requests one; :func:`repair` (run when a writer opens) makes the
rollup tree mirror the requests tree again after a crash; :func:`rebuild` recomputes
everything from raw rows.

**Hour rollups.** A minute-rollup row holds few raw rows when the dimensions have many
combinations, so long ranges also have ``rollups/hour/date=D/hour=HH/hour-<digest>.parquet``:
the same schema and dimensions, one row per hour and combination (``minute`` holds the
hour's start), summed from the hour's minute-rollup files. ``<digest>`` names the set of
minute-rollup files it was made from (:func:`hour_rollup_name`): a reader uses the hour
file only while the partition still holds exactly those files (a late record adds a
file, so the hour reads from its minute rollups until the next compaction pass rolls it
up again). Compaction writes them for closed hours (:func:`roll_up_hour`);
:func:`roll_up_hours` (and :func:`rebuild`) writes them for every closed hour. An ended
day also gets ``rollups/day/date=D/hour=00/day-<digest>.parquet``, its hour rollups concatenated
(hour resolution still; ``<digest>`` names those hour files, :func:`day_rollup_name`), so
a long range opens one file per day.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import _rollup_cost as _cost
from . import _rollup_verdicts as _verdicts
from ._fs import ensure_dir, fsync_dir
from ._layout import STAGING_DIR, swap
from ._mirror import visible
from ._parquet import read_columns, write_table_atomic
from ._rollup_compute import (
    BUCKET_BASE,
    BUCKET_MIN_MS,
    DIMENSIONS,
    INPUTS,
    ROLLUP_VERSION,
    bucket_of,
    bucket_value,
    coarsen,
    compute,
    rollup_schema,
)
from .schema import partition_dir
from .spool import new_segment_id

log = logging.getLogger(__name__)

LEVEL = "minute"
HOUR_LEVEL = "hour"
HOUR_PREFIX = "hour-"
DAY_LEVEL = "day"
DAY_PREFIX = "day-"


# -- writing ---------------------------------------------------------------------------


def rollup_dir(root: Path) -> Path:
    """``root/rollups/minute``: the minute-rollup tree of the lake at ``root``."""
    return Path(root) / "rollups" / LEVEL


def roll_up(root: Path, table: pa.Table, part_id: str, *, overwrite: bool = False) -> None:
    """Write the rollup of ``table`` (raw request rows) for the requests files
    ``requests/date=D/hour=HH/part-<part_id>.parquet`` that hold those rows.

    One file per partition, ``rollups/minute/date=D/hour=HH/part-<part_id>.parquet``,
    written atomically; an existing one is kept (idempotent by ``part_id``) unless
    ``overwrite``. A bulk writer that writes requests files itself calls this with the
    same ``part_id`` before it considers the rows written.
    """
    _write(root, compute(table), f"part-{part_id}.parquet", overwrite)
    _verdicts.write_partition_verdicts(root, table, f"part-{part_id}.parquet", overwrite=overwrite)
    _cost.write_partition_cost(root, table, f"part-{part_id}.parquet", overwrite=overwrite)


def _write(root: Path, parts: dict[tuple[str, int], pa.Table], name: str, overwrite: bool) -> None:
    base = rollup_dir(root)
    for (date, hour), part in parts.items():
        dest = base / partition_dir(date, hour) / name
        if overwrite or not dest.exists():
            write_table_atomic(part, dest)


def roll_up_file(
    root: Path,
    requests_file: Path,
    dest: Path | None = None,
    *,
    table: pa.Table | None = None,
    verdicts: bool = True,
) -> None:
    """Write the rollup of one requests file (to its mirror path, or to ``dest``), and
    (``verdicts``, mirror path only) its verdict rollup
    (:mod:`workbench.logstore._rollup_verdicts`).

    ``table`` is the file's content when the caller has it in memory (the writer, right
    after writing it): the file is then not read back.
    """
    if verdicts and dest is None:
        _verdicts.write_verdicts(root, requests_file, table)
        _cost.write_cost(root, requests_file, table)
    if table is None:
        table = read_columns(requests_file, INPUTS)
    else:
        table = table.select([c for c in INPUTS if c in table.column_names])
    parts = compute(table)
    mirror = rollup_dir(root) / requests_file.parent.relative_to(Path(root) / "requests")
    target = dest if dest is not None else mirror / requests_file.name
    if not parts:
        write_table_atomic(rollup_schema().empty_table(), target)
        return
    for part in parts.values():  # a requests file holds one partition
        write_table_atomic(part, target)
        break


# -- keeping the tree a mirror of the requests tree ------------------------------------


def sync_partition(root: Path, date: str, hour: int, *, rebuild: bool = False) -> int:
    """Make the minute-rollup and the verdict-rollup partitions mirror the requests
    partition (:func:`_sync_minute`, :func:`workbench.logstore._rollup_verdicts.sync_partition`);
    returns the files written."""
    written = _sync_minute(root, date, hour, rebuild=rebuild)
    written += _verdicts.sync_partition(root, date, hour, rebuild=rebuild)
    return written + _cost.sync_partition(root, date, hour, rebuild=rebuild)


def _sync_minute(root: Path, date: str, hour: int, *, rebuild: bool = False) -> int:
    """Make the rollup partition mirror the requests partition; returns files written.

    A requests file without a rollup gets one; a rollup without a requests file (the
    parts a compaction merged) is removed. When files are both added and removed (or
    ``rebuild``), the new rollup partition is built aside and swapped in atomically
    (:func:`workbench.logstore._layout.swap`), so a reader never counts a row twice.
    Callers hold the writer's layout lock (or are the writer opening).
    """
    root = Path(root)
    rel = partition_dir(date, hour)
    raw, rolled = visible(root / "requests" / rel), visible(rollup_dir(root) / rel)
    missing = sorted(raw.keys() - rolled.keys()) if not rebuild else sorted(raw)
    orphans = sorted(rolled.keys() - raw.keys()) if not rebuild else sorted(rolled)
    if not missing and not orphans:
        return 0
    partition = rollup_dir(root) / rel
    if not orphans or not partition.is_dir():
        for name in missing:
            roll_up_file(root, raw[name], verdicts=False)
        return len(missing)
    staging = root / STAGING_DIR / f"rollup-{date}-{hour:02d}-{new_segment_id()}"
    ensure_dir(staging)
    try:
        for name in missing:
            roll_up_file(root, raw[name], staging / name)
        for name in rolled.keys() - set(orphans):
            os.link(rolled[name], staging / name)
        fsync_dir(staging)
        replaced = [name for name in orphans if name not in set(missing)]
        swap(root, partition, staging, missing, replaced)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(missing)


def _partitions(tree: Path) -> set[tuple[str, int]]:
    found = set()
    for path in tree.glob("date=*/hour=*"):
        try:
            date = path.parent.name.split("=", 1)[1]
            hour = int(path.name.split("=", 1)[1])
            datetime.strptime(date, "%Y-%m-%d")
        except (IndexError, ValueError):
            continue
        found.add((date, hour))
    return found


# -- hour rollups ----------------------------------------------------------------------


def hour_rollup_dir(root: Path) -> Path:
    """``root/rollups/hour``: the hour-rollup tree of the lake at ``root``."""
    return Path(root) / "rollups" / HOUR_LEVEL


def hour_rollup_name(minute_files: Iterable[str]) -> str:
    """The name of the hour-rollup file made from these minute-rollup file names."""
    digest = hashlib.sha256("\n".join(sorted(minute_files)).encode()).hexdigest()[:20]
    return f"{HOUR_PREFIX}{digest}.parquet"


def roll_up_hour(root: Path, date: str, hour: int) -> bool:
    """Write the hour rollup of partition ``(date, hour)`` from its minute-rollup files
    (unless the current one exists) and remove older ones; True when one was written."""
    rel = partition_dir(date, hour)
    minute = visible(rollup_dir(root) / rel)
    folder = hour_rollup_dir(root) / rel
    old = visible(folder)
    if not minute:
        for path in old.values():
            path.unlink(missing_ok=True)
        return False
    name = hour_rollup_name(minute)
    wrote = name not in old
    if wrote:
        table = pq.read_table(
            [str(minute[n]) for n in sorted(minute)], schema=rollup_schema(), partitioning=None
        )
        write_table_atomic(coarsen(table), folder / name)
    for other, path in old.items():
        if other != name:
            path.unlink(missing_ok=True)
    return wrote


def day_rollup_dir(root: Path) -> Path:
    """``root/rollups/day``: one file per ended day, its hour rollups concatenated, under
    ``date=D/hour=00/`` (the hive layout of the other rollups, so one ``read_parquet``
    reads them all; each row's own hour is in ``minute``)."""
    return Path(root) / "rollups" / DAY_LEVEL


def day_rollup_name(hour_files: dict[int, str]) -> str:
    """The name of the day file made from these ``{hour: hour-rollup file name}``."""
    text = "\n".join(f"{h}:{n}" for h, n in sorted(hour_files.items()))
    return f"{DAY_PREFIX}{hashlib.sha256(text.encode()).hexdigest()[:20]}.parquet"


def current_hour_names(root: Path, date: str) -> dict[int, str]:
    """``{hour: the name its current hour rollup has}`` for the hours of ``date`` with data."""
    out = {}
    for hour in range(24):
        minute = visible(rollup_dir(root) / partition_dir(date, hour))
        if minute:
            out[hour] = hour_rollup_name(minute)
    return out


def roll_up_day(root: Path, date: str) -> bool:
    """Write the day file of ``date`` (its 24 hours' current hour rollups, concatenated:
    still one row per hour and combination, so one file serves a whole day) unless the
    current one exists; the hours are rolled up first. True when one was written."""
    names = current_hour_names(root, date)
    folder = day_rollup_dir(root) / partition_dir(date, 0)
    old = visible(folder)
    name = day_rollup_name(names)
    wrote = bool(names) and name not in old
    if wrote:
        for hour in names:
            roll_up_hour(root, date, hour)
        hours = hour_rollup_dir(root)
        paths = [str(hours / partition_dir(date, h) / n) for h, n in sorted(names.items())]
        table = pq.read_table(paths, schema=rollup_schema(), partitioning=None)
        write_table_atomic(table, folder / name)
    for other, path in old.items():
        if other != name or not names:
            path.unlink(missing_ok=True)
    return wrote


def roll_up_hours(
    root: Path, *, since: str | None = None, now: datetime | None = None, grace_s: float = 0.0
) -> int:
    """Write the hour rollups of every hour that ended ``grace_s`` before ``now`` (from
    date ``since`` on) whose current one is missing, then the day files of the days that
    ended; returns how many hour rollups were written."""
    root = Path(root)
    now = now or datetime.now(UTC)
    written = 0
    for date, hour in sorted(_partitions(rollup_dir(root)) | _partitions(hour_rollup_dir(root))):
        if since is not None and date < since:
            continue
        start = datetime.strptime(date, "%Y-%m-%d").replace(hour=hour, tzinfo=UTC)
        if start + timedelta(hours=1, seconds=grace_s) <= now:
            written += roll_up_hour(root, date, hour)
    roll_up_days(root, since=since, now=now, grace_s=grace_s)
    return written


def roll_up_days(
    root: Path, *, since: str | None = None, now: datetime | None = None, grace_s: float = 0.0
) -> int:
    """Write the day files of the days that ended ``grace_s`` before ``now``."""
    now = now or datetime.now(UTC)
    days = {d for d, _ in _partitions(rollup_dir(root))}
    days |= {d for d, _ in _partitions(day_rollup_dir(root))}
    written = 0
    for date in sorted(days):
        end = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
        if (since is None or date >= since) and end + timedelta(seconds=grace_s) <= now:
            written += roll_up_day(root, date)
            _cost.roll_up_day(root, date, now=now)
    return written


def repair(root: Path, *, since: str | None = None, rebuild: bool = False) -> int:
    """Bring every rollup partition (from date ``since`` on) in line with the requests
    tree; returns how many rollup files were written. Run by the writer when it opens."""
    root = Path(root)
    verdict_tree, cost_tree = _verdicts.verdict_dir(root), _cost.cost_dir(root)
    trees = (rollup_dir(root), hour_rollup_dir(root), day_rollup_dir(root), verdict_tree)
    for tree in (*trees, cost_tree):
        for tmp in tree.glob("**/.*.tmp"):
            tmp.unlink(missing_ok=True)
    keys = _partitions(root / "requests") | _partitions(rollup_dir(root))
    keys |= _partitions(verdict_tree) | _partitions(cost_tree)
    written = 0
    for date, hour in sorted(keys):
        if since is not None and date < since:
            continue
        written += sync_partition(root, date, hour, rebuild=rebuild)
    if written:
        log.info("rollups: wrote %d file(s) under %s", written, rollup_dir(root))
    return written


def rebuild(root: Path | None = None, since: datetime | str | None = None) -> int:
    """Recompute the rollups from raw rows (all, or the partitions from ``since`` on):
    the minute rollups, then the hour rollups of the hours that have ended.

    Opens the lake's :class:`~workbench.logstore.LogWriter` for the duration (so it
    raises :class:`~workbench.logstore.WriterLockedError` while a gateway's LogSink owns
    the lake). Returns the number of rollup files written.
    """
    from .writer import LogWriter

    day = since.strftime("%Y-%m-%d") if isinstance(since, datetime) else since
    with LogWriter(root) as writer, writer.layout_lock():
        written = repair(writer.root, since=day, rebuild=True)
        derived = [*hour_rollup_dir(writer.root).glob("date=*/hour=*")]
        derived += day_rollup_dir(writer.root).glob("date=*/hour=*")
        for folder in derived:
            if day is None or folder.parent.name.split("=", 1)[-1] >= day:
                shutil.rmtree(folder, ignore_errors=True)
        return written + roll_up_hours(writer.root, since=day)


__all__ = [
    "BUCKET_BASE",
    "BUCKET_MIN_MS",
    "DIMENSIONS",
    "HOUR_PREFIX",
    "ROLLUP_VERSION",
    "bucket_of",
    "bucket_value",
    "coarsen",
    "compute",
    "current_hour_names",
    "day_rollup_dir",
    "day_rollup_name",
    "hour_rollup_dir",
    "hour_rollup_name",
    "rebuild",
    "repair",
    "roll_up",
    "roll_up_file",
    "roll_up_day",
    "roll_up_days",
    "roll_up_hour",
    "roll_up_hours",
    "rollup_dir",
    "rollup_schema",
    "sync_partition",
]
