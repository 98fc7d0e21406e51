"""``workbench replay``: logged traffic against a candidate policy.

Example::

    workbench replay --policy policies/candidate.yaml --since 24h --out report.html
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("replay")
@click.option(
    "--policy",
    "policy",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The candidate policy file (YAML).",
)
@click.option("--since", default=None, help="Oldest request: ISO time or look-back (24h, 7d).")
@click.option("--until", default=None, help="Newest request (exclusive): ISO time or look-back.")
@click.option("--workspace", default=None, help="Only this workspace.")
@click.option("--model", default=None, help="Only requests for this model name.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N requests.")
@click.option(
    "--live",
    default=None,
    help="Call this configured target (or 'routed': the candidate's routing) instead of "
    "answering from the log; answers are cached on disk.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Gateway config (default: $WORKBENCH_CONFIG or the packaged one).",
)
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--no-reuse", is_flag=True, help="Recompute every check (no verdict reuse).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: one per CPU core from 20,000 rows on).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the HTML report here.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON result here.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def replay(
    policy: Path,
    since: str | None,
    until: str | None,
    workspace: str | None,
    model: str | None,
    limit: int | None,
    live: str | None,
    config: Path | None,
    concurrency: int,
    no_reuse: bool,
    workers: int | None,
    out: Path | None,
    json_out: Path | None,
    quiet: bool,
) -> None:
    """Replay logged requests under a candidate policy and print the flip matrix."""
    from workbench.analytics.replay import replay as run

    result = run(
        None,
        policy,
        since=since,
        until=until,
        workspace=workspace,
        model=model,
        limit=limit,
        live=live,
        concurrency=concurrency,
        progress=not quiet,
        reuse=not no_reuse,
        workers=workers,
        config=config,
    )
    for line in result.flip_lines():
        click.echo(line)
    if out is not None:
        result.to_html(out)
        click.echo(f"report: {out}")
    if json_out is not None:
        result.to_json(json_out)
        click.echo(f"json: {json_out}")
