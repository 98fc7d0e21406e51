"""``workbench report``: the compliance report as static HTML (and PDF), once or on a
schedule with a dated archive.

Equivalent cron line for a daily report at 06:00 UTC (instead of the built-in loop)::

    0 6 * * * cd /srv/wb && WORKBENCH_HOME=/srv/wb/.workbench .venv/bin/workbench report \
        schedule --every 1d --archive /srv/reports --once
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

import click

from workbench.cli._common import LOG_DIR_OPTION, CliError, WorkbenchGroup

_WORKSPACE = click.option(
    "--workspace", "workspaces", multiple=True, help="Only this workspace (repeatable)."
)
_EXAMPLES = click.option(
    "--max-examples", type=click.IntRange(0, 1000), default=10, show_default=True,
    help="Examples of denied and of flagged requests.",
)  # fmt: skip
_PDF = click.option("--pdf", is_flag=True, help="Also print a PDF with Chromium (if installed).")
_NO_ANOMALIES = click.option(
    "--no-anomalies", is_flag=True, help="Skip anomaly detection (faster on a large lake)."
)


@click.group(cls=WorkbenchGroup)
def report() -> None:
    """Compliance reports: run the report notebook and render it without code."""


def _echo_files(files: object) -> None:
    from workbench.reports import ReportFiles

    assert isinstance(files, ReportFiles)
    click.echo(f"wrote {files.html}")
    if files.pdf is not None:
        click.echo(f"wrote {files.pdf}")
    elif files.pdf_skipped:
        click.echo(f"no PDF: {files.pdf_skipped}", err=True)


@report.command()
@click.option("--since", default="7d", show_default=True, help="Start: a span (7d) or a time.")
@click.option("--until", default=None, help="End: a span back or a time (default now).")
@_WORKSPACE
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML file to write (the PDF goes beside it).")  # fmt: skip
@_PDF
@_EXAMPLES
@_NO_ANOMALIES
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the executed notebook in this directory.")  # fmt: skip
@LOG_DIR_OPTION
def compliance(
    since: str, until: str | None, workspaces: tuple[str, ...], out: Path, pdf: bool,
    max_examples: int, no_anomalies: bool, keep: Path | None, log_dir: Path | None,
) -> None:  # fmt: skip
    """Execute the compliance report notebook with papermill and render static HTML
    (no code cells, charts as images, no JavaScript). A failing cell fails the command
    with that cell's error."""
    from workbench.reports import compliance_report

    files = compliance_report(
        out, since=since, until=until, workspaces=list(workspaces), log_dir=log_dir,
        max_examples=max_examples, pdf=pdf, detect_anomalies=not no_anomalies, keep=keep,
    )  # fmt: skip
    _echo_files(files)


def _at(value: str | None) -> time | None:
    if value is None:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise CliError(f"--at must be HH:MM (UTC), not {value!r}") from None


@report.command()
@click.option("--every", default="1d", show_default=True,
              help="How often (1d, 7d, 12h): each report covers that span.")  # fmt: skip
@click.option("--at", "at", default=None, help="First run at HH:MM UTC (default: now).")
@click.option("--archive", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder of dated reports (compliance-DATE.html) and index.html.")  # fmt: skip
@click.option("--once", is_flag=True, help="Run one cycle now and exit.")
@_WORKSPACE
@_PDF
@_EXAMPLES
@_NO_ANOMALIES
@LOG_DIR_OPTION
def schedule(
    every: str, at: str | None, archive: Path, once: bool, workspaces: tuple[str, ...],
    pdf: bool, max_examples: int, no_anomalies: bool, log_dir: Path | None,
) -> None:  # fmt: skip
    """Run the compliance report on a schedule (a built-in loop: sleep until the next
    run), keeping dated files in ARCHIVE and an index.html; never overwrites an earlier
    report. Stop with Ctrl-C. See the README for the equivalent cron line."""
    from workbench._time import duration
    from workbench.reports import schedule as run_schedule

    step = duration(every)
    start = _at(at)
    if not once:
        click.echo(f"reporting every {every} into {archive} (Ctrl-C stops)")
    try:
        run_schedule(
            archive, step, start, once=once, on_report=_echo_files,
            workspaces=list(workspaces), log_dir=log_dir, max_examples=max_examples, pdf=pdf,
            detect_anomalies=not no_anomalies,
        )  # fmt: skip
    except KeyboardInterrupt:
        click.echo("stopped")
