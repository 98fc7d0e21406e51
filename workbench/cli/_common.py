"""Shared CLI plumbing: error handling, output formatting."""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from workbench.errors import WorkbenchError

EXIT_USER_ERROR = 2


LOG_DIR_OPTION = click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="WORKBENCH_LOG_DIR",
    default=None,
    help="Root of the log lake (default $WORKBENCH_HOME/logs). Env: WORKBENCH_LOG_DIR.",
)
"""The ``--log-dir`` option of every command that reads or writes the log lake."""


def remember_log_dir(ctx: click.Context, log_dir: Path | None) -> None:
    """Keep a command group's ``--log-dir`` for its subcommands (see :func:`log_root`)."""
    ctx.ensure_object(dict)
    ctx.obj["log_root"] = log_dir


def log_root(ctx: click.Context) -> Path | None:
    """The ``--log-dir`` a command group was given (None: the default lake)."""
    root = (ctx.find_object(dict) or {}).get("log_root")
    return Path(root) if root is not None else None


class CliError(click.ClickException):
    """A user-facing error: printed as one line on stderr, exit code 2."""

    exit_code = EXIT_USER_ERROR


class WorkbenchGroup(click.Group):
    """A click group that turns expected errors into a one-line message and exit code 2.

    ``WorkbenchError`` (``ConfigError``, ``NotFoundError``, ...) and ``ValueError`` raised by
    any subcommand become :class:`CliError`; anything else is a bug and keeps its traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        """Invoke the subcommand, mapping expected errors to :class:`CliError`."""
        try:
            return super().invoke(ctx)
        except (WorkbenchError, ValueError) as exc:
            raise CliError(_one_line(str(exc)) or type(exc).__name__) from exc


class LazyGroup(WorkbenchGroup):
    """A :class:`WorkbenchGroup` whose subcommands are imported on first use.

    ``lazy_commands`` maps a command name to ``"module:attribute"``; the module is imported
    only when that command runs or a help page lists it, so ``workbench keys list`` never
    imports the gateway's or the log reader's dependencies.
    """

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Eager and lazy command names, sorted."""
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module if it is a lazy one."""
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


def _one_line(text: str) -> str:
    return " ".join(text.split())


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for the values DuckDB/polars rows contain."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """Serialise to JSON, turning NaN/inf into null and datetimes into ISO strings."""
    return json.dumps(_finite(value), default=json_default, indent=indent, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def format_cell(value: Any, *, max_width: int = 60) -> str:
    """Render one table cell: ``-`` for null, seconds precision for timestamps."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        text = f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"
    elif isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.tzinfo is not None and value.utcoffset() != timedelta(0):
            text += value.strftime("%z")
    elif isinstance(value, Mapping | list):
        text = dumps(value)
    else:
        text = str(value)
    text = " ".join(text.split())
    if len(text) > max_width:
        text = text[: max_width - 1] + "…"
    return text


def format_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, headers: bool = True
) -> str:
    """A plain, left-aligned text table of ``columns`` taken from ``rows``."""
    cells = [[format_cell(row.get(col)) for col in columns] for row in rows]
    widths = [len(col) for col in columns]
    for line in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, line, strict=True)]
    out: list[str] = []
    if headers:
        out.append("  ".join(col.upper().ljust(w) for col, w in zip(columns, widths, strict=True)))
    for line in cells:
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
    return "\n".join(s.rstrip() for s in out)
