"""``workbench cost``: spend report (with month to date and forecast) and suggestions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from workbench.cli._common import LOG_DIR_OPTION, WorkbenchGroup, dumps, format_table

_DIMS = ("workspace", "key", "user", "model", "provider", "endpoint", "status", "tag", "day",
         "hour")  # fmt: skip
_SINCE = click.option(
    "--since", default="30d", show_default=True, help="Start: a span (30d, 24h) or a time."
)
_UNTIL = click.option("--until", default=None, help="End: a span back or a time (default now).")


@click.group(cls=WorkbenchGroup)
def cost() -> None:
    """Spend by dimension, month to date and forecast, and cost-saving suggestions."""


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}"


@cost.command("report")
@_SINCE
@_UNTIL
@click.option(
    "--by",
    "by",
    type=click.Choice(_DIMS),
    multiple=True,
    help="Group by (repeatable; default workspace).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@LOG_DIR_OPTION
def report(
    since: str, until: str | None, by: tuple[str, ...], as_json: bool, log_dir: Path | None
) -> None:
    """Spend over the window, month to date, the month-end forecast and cache savings."""
    from workbench.analytics.cost import cache_savings, forecast, spend

    dims = list(by) or ["workspace"]
    table = spend(since, until, dims, root=log_dir)
    fc = forecast(root=log_dir)
    saved = cache_savings(since, until, root=log_dir)
    rows = table.to_dicts()
    saving = saved.to_dicts()[0] if saved.height else {"requests": 0, "saved_usd": 0.0}
    if as_json:
        click.echo(dumps({"spend": rows, "forecast": fc.to_dict(), "cache_savings": saving}))
        return
    for row in rows:
        row["cost_usd"] = _money(row["cost_usd"])
        row["share"] = f"{row['share'] * 100:.1f}%"
    cols = [*dims, "requests", "prompt_tokens", "completion_tokens", "cost_usd", "share"]
    click.echo(format_table(rows, cols) if rows else "no requests in the window")
    interval = (
        f" (95% interval {_money(fc.low)} .. {_money(fc.high)})" if fc.low is not None else ""
    )
    click.echo(
        f"\nmonth to date: {_money(fc.month_to_date)}; forecast to "
        f"{fc.month_end:%Y-%m-%d}: {_money(fc.forecast)}{interval}; {fc.method}"
    )
    click.echo(
        f"cache savings in the window: {_money(saving['saved_usd'])} over "
        f"{saving['requests']} cached requests"
    )


def _print_suggestions(result: Any) -> None:
    if not result.items:
        click.echo(f"no suggestions ({result.requests_analysed} requests analysed)")
        return
    for i, s in enumerate(result.items, 1):
        kind = "saving" if s.billed else "over-reserved, not billed"
        click.echo(
            f"{i}. {s.title}\n   {_money(s.usd_window)} in the window, "
            f"{_money(s.usd_per_month)} per month ({kind}); {s.requests} requests\n"
            f"   {s.detail}\n   examples: {', '.join(s.examples) or '-'}"
        )
        agree = s.data.get("agreement")
        if agree:
            click.echo(
                f"   live replay on {agree['target']}: {agree['answered']}/{agree['sampled']} "
                f"answered, mean cosine {agree['mean_cosine']}, exact match "
                f"{agree['exact_match_rate']}"
            )


@cost.command("suggest")
@_SINCE
@_UNTIL
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--live",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Replay this many requests per cheaper-model suggestion against its target.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    envvar="WORKBENCH_CONFIG",
    help="Gateway config whose models are the cheaper candidates. Env: WORKBENCH_CONFIG.",
)
@click.option(
    "--max-texts",
    type=click.IntRange(min=2),
    default=50_000,
    show_default=True,
    help="At most this many distinct requests are embedded for near duplicates.",
)
@LOG_DIR_OPTION
def suggest_cmd(
    since: str,
    until: str | None,
    as_json: bool,
    live: int,
    config: Path | None,
    max_texts: int,
    log_dir: Path | None,
) -> None:
    """Cost-saving suggestions with the money at stake, largest first."""
    from workbench.analytics.cost import suggest

    result = suggest(since, until, root=log_dir, config=config, live=live, max_texts=max_texts)
    if as_json:
        click.echo(dumps(result.to_dict()))
    else:
        _print_suggestions(result)
