"""``workbench logs``: read the request log (tail, follow, ad-hoc SQL), compact it."""

from __future__ import annotations

import csv
import io
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from workbench.cli._common import (
    LOG_DIR_OPTION,
    CliError,
    WorkbenchGroup,
    dumps,
    format_cell,
    format_table,
    log_root,
    remember_log_dir,
)

if TYPE_CHECKING:
    import polars as pl

TAIL_COLUMNS = (
    "received_at",
    "request_id",
    "workspace",
    "endpoint",
    "model_served",
    "status",
    "http_status",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "error_type",
)
_FOLLOW_WINDOW = 1000  # rows re-read on each --follow poll
_SEEN_MAX = 100_000

# Indirection so tests can stop the --follow loop.
_sleep = time.sleep


@click.group(cls=WorkbenchGroup)
@LOG_DIR_OPTION
@click.pass_context
def logs(ctx: click.Context, log_dir: Path | None) -> None:
    """Read the request log (Parquet files under the log lake, read through DuckDB)."""
    remember_log_dir(ctx, log_dir)


@logs.command("tail")
@click.option(
    "-n",
    "--lines",
    "n",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many of the most recent requests to show.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep polling and print new requests.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between polls with --follow.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (all columns).")
@click.option(
    "--columns",
    "-c",
    default=None,
    help="Comma-separated columns for the table (default: a summary set).",
)
@click.pass_context
def tail_cmd(
    ctx: click.Context,
    n: int,
    follow: bool,
    interval: float,
    as_json: bool,
    columns: str | None,
) -> None:
    """Show the most recent requests, oldest first and newest last (like tail(1))."""
    from workbench.logstore import tail

    root = log_root(ctx)
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    window = max(n, _FOLLOW_WINDOW) if follow else n
    recent = _chronological(_read(lambda: tail(n=window, root=root)).to_dicts())
    rows = recent[-n:]
    printer = _TailPrinter(as_json=as_json, columns=wanted)
    seen: OrderedDict[Any, None] = OrderedDict()
    _remember(seen, recent)  # --follow then prints only rows that arrive later
    if rows or as_json:
        printer.emit(rows)
    elif not follow:
        click.echo("No requests logged yet.", err=True)
    if not follow:
        return
    try:
        while True:
            _sleep(interval)
            recent = _read(lambda: tail(n=max(n, _FOLLOW_WINDOW), root=root)).to_dicts()
            fresh = [r for r in _chronological(recent) if _row_id(r) not in seen]
            if fresh:
                _remember(seen, fresh)
                printer.emit(fresh)
    except KeyboardInterrupt:
        return


@logs.command("query")
@click.argument("sql")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format (json: an array of row objects).",
)
@click.pass_context
def query_cmd(ctx: click.Context, sql: str, fmt: str) -> None:
    """Run SQL against the log; the table is a DuckDB view named ``requests``.

    Example: workbench logs query "SELECT model_served, count(*) FROM requests GROUP BY 1"
    """
    from workbench.logstore import query

    root = log_root(ctx)
    df = _read(lambda: query(sql, root=root))
    rows = df.to_dicts()
    if fmt == "json":
        click.echo(dumps(rows, indent=2))
    elif fmt == "csv":
        click.echo(_to_csv(df.columns, rows), nl=False)
    else:
        click.echo(format_table(rows, df.columns))
        if not rows:
            click.echo("(no rows)", err=True)


@logs.command("compact")
@click.option(
    "--grace",
    "grace_s",
    type=click.FloatRange(min=0),
    default=900.0,
    show_default=True,
    help="An hour's partition is closed (and merged) this many seconds after the hour ends.",
)
@click.option(
    "--max-rows-per-file",
    type=click.IntRange(min=1),
    default=1_000_000,
    show_default=True,
    help="Rows per merged file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def compact_cmd(ctx: click.Context, grace_s: float, max_rows_per_file: int, as_json: bool) -> None:
    """Merge the many small files of closed hourly partitions into a few.

    Readers stay correct while it runs. A running gateway's LogSink compacts its log by
    itself; while it holds the log this command refuses (exit code 2).
    """
    from workbench.logstore import WriterLockedError, compact

    try:
        report = compact(log_root(ctx), grace_s=grace_s, max_rows_per_file=max_rows_per_file)
    except WriterLockedError as exc:
        raise CliError(
            f"the request log is in use by a running gateway, which compacts it itself ({exc})"
        ) from exc
    if as_json:
        click.echo(dumps(report.as_dict()))
        return
    click.echo(
        f"compacted {report.partitions} partition(s): {report.files_before} files -> "
        f"{report.files_after}, {report.rows} rows"
    )
    skipped = report.skipped_open + report.skipped_pending + report.skipped_changed
    if skipped:
        click.echo(
            f"skipped {skipped}: {report.skipped_open} not closed yet, "
            f"{report.skipped_pending} with unflushed rows, {report.skipped_changed} changed "
            "while merging (next run)",
            err=True,
        )


@logs.group("rollups", cls=WorkbenchGroup)
def rollups_group() -> None:
    """The per-minute rollups the dashboard aggregates read."""


@rollups_group.command("rebuild")
@click.option("--since", default=None, help="First date (YYYY-MM-DD) to rebuild; default all.")
@click.pass_context
def rollups_rebuild_cmd(ctx: click.Context, since: str | None) -> None:
    """Recompute the rollups from the raw rows (refuses while a gateway holds the log)."""
    from workbench.logstore import WriterLockedError, rebuild_rollups

    try:
        written = rebuild_rollups(log_root(ctx), since=since)
    except WriterLockedError as exc:
        raise CliError(f"the request log is in use by a running gateway ({exc})") from exc
    click.echo(f"rebuilt {written} rollup file(s)")


# ---------------------------------------------------------------------- helpers


def _read(fn: Any) -> pl.DataFrame:
    """Call a log reader, turning DuckDB/polars errors into a one-line CLI error."""
    import duckdb
    import polars.exceptions

    try:
        result: pl.DataFrame = fn()
    except (duckdb.Error, polars.exceptions.PolarsError) as exc:
        raise CliError(f"query failed: {_sql_error_text(exc)}") from exc
    return result


def _sql_error_text(exc: BaseException) -> str:
    """The useful part of a DuckDB error on one line (drops the 'LINE 1: ... ^' excerpt)."""
    kept: list[str] = []
    for line in str(exc).splitlines():
        stripped = line.strip()
        if stripped.startswith("LINE ") or stripped == "^":
            break
        if stripped:
            kept.append(stripped)
    return " ".join(kept) or type(exc).__name__


def _row_id(row: Mapping[str, Any]) -> Any:
    rid = row.get("request_id")
    return rid if rid is not None else dumps(row)


def _remember(seen: OrderedDict[Any, None], rows: Iterable[Mapping[str, Any]]) -> None:
    for row in rows:
        seen[_row_id(row)] = None
    while len(seen) > _SEEN_MAX:
        seen.popitem(last=False)


def _chronological(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first by ``received_at`` (readers return newest first)."""

    def key(row: Mapping[str, Any]) -> tuple[int, Any]:
        value = row.get("received_at")
        return (0, value) if isinstance(value, datetime) else (1, str(value))

    try:
        return sorted(rows, key=key)
    except TypeError:  # mixed naive/aware timestamps: keep the reader's order, reversed
        return list(reversed(rows))


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return dumps(value)
    return value


def _to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(col)) for col in columns])
    return buf.getvalue()


class _TailPrinter:
    """Prints tail rows; in table mode the header and column widths are fixed by the first
    batch so that rows printed later by --follow line up under it."""

    def __init__(self, *, as_json: bool, columns: Sequence[str] | None) -> None:
        self.as_json = as_json
        self.columns = list(columns) if columns else None
        self.widths: list[int] | None = None

    def emit(self, rows: list[dict[str, Any]]) -> None:
        if self.as_json:
            for row in rows:
                click.echo(dumps(row))
            return
        if not rows:
            return
        if self.columns is None:
            present = set().union(*(row.keys() for row in rows))
            self.columns = [c for c in TAIL_COLUMNS if c in present] or sorted(present)
        cells = [[format_cell(row.get(c), max_width=40) for c in self.columns] for row in rows]
        if self.widths is None:
            self.widths = [len(c) for c in self.columns]
            for line in cells:
                self.widths = [max(w, len(c)) for w, c in zip(self.widths, line, strict=True)]
            header = zip(self.columns, self.widths, strict=True)
            click.echo("  ".join(c.upper().ljust(w) for c, w in header).rstrip())
        for line in cells:
            click.echo(
                "  ".join(c.ljust(w) for c, w in zip(line, self.widths, strict=True)).rstrip()
            )


@logs.command("schema")
def schema_cmd() -> None:
    """Print the request-log schema (every field, its type and meaning) as Markdown."""
    from workbench.logstore._doc import schema_markdown

    click.echo(schema_markdown(), nl=False)
