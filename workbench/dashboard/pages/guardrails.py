"""Guardrails: block and rejection rates over time, the most triggered checks, flagged
requests to review (each linking to the log explorer), and the latest evaluation results.

Rates come from the rollups (``workbench.logs.traffic``); triggered checks and flagged
requests from the governance queries (``workbench.logs.governance``); evaluation results
from what ``workbench guardrails eval`` saved under ``$WORKBENCH_HOME/guardrails/``.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench.dashboard import _data
from workbench.dashboard.pages import page

if TYPE_CHECKING:
    import polars as pl

    from workbench.dashboard._context import DashboardContext

RANGES = ("24h", "7d", "30d")
EVAL_COMMAND = "workbench guardrails eval --policy policies/default.yaml"
_METRIC_COLUMNS = ("dataset", "check", "n", "precision", "recall", "f1", "fpr")


def verdict_rates(ctx: DashboardContext, since: str) -> pl.DataFrame:
    """Per time bucket: requests, guardrail blocks, rejections and their rates."""
    tr = _data.traffic(str(ctx.log_dir), ctx.workspaces, since)
    return tr.select("time", "requests", "blocks", "rejected", "block_rate", "rejected_rate")


def top_checks(ctx: DashboardContext, since: str, n: int = 15) -> pl.DataFrame:
    """The checks that failed most (by distinct requests), with their stage and action."""
    return _data.violations(str(ctx.log_dir), ctx.workspaces, since).head(n)


def review_queue(ctx: DashboardContext, since: str) -> tuple[int, pl.DataFrame]:
    """``(total, newest 50)`` flagged requests, each with a link to its explorer detail."""
    import polars as pl

    total, rows = _data.flagged(str(ctx.log_dir), ctx.workspaces, since)
    link = pl.format('<a href="/explorer?request_id={}">open</a>', pl.col("request_id"))
    return total, rows.select(link.alias("detail"), pl.all())


def evaluation_view(ctx: DashboardContext) -> Any:
    """The latest saved evaluation, or how to run one."""
    import panel as pn

    from workbench.dashboard._app import table

    found = _data.latest_evaluation(str(ctx.home))
    if found is None:
        return pn.pane.Markdown(
            f"No evaluation run yet. Run `{EVAL_COMMAND}` (or `workbench guardrails eval` for "
            "the ML checks); its results appear here."
        )
    path, result = found
    metrics = result.get("metrics") or []
    head = pn.pane.Markdown(
        f"Latest evaluation: `{path.name}` (policy "
        f"`{(result.get('policy') or {}).get('id', '?')}`)."
    )
    if not isinstance(metrics, list) or not metrics:
        return pn.Column(head, pn.pane.JSON(result, depth=2))
    import polars as pl

    frame = pl.DataFrame(metrics, infer_schema_length=None)
    cols = [c for c in _METRIC_COLUMNS if c in frame.columns] or frame.columns
    return pn.Column(head, table(frame.select(cols), page_size=12, pagination="local"))


def _rates_view(ctx: DashboardContext, since: str) -> Any:
    from workbench.dashboard._app import line

    return line(
        verdict_rates(ctx, since),
        "time",
        ["block_rate", "rejected_rate"],
        f"Blocked and rejected share of requests, last {since}",
    )


def _checks_view(ctx: DashboardContext, since: str) -> Any:
    import panel as pn

    from workbench.dashboard._app import bars

    df = top_checks(ctx, since)
    if df.height == 0:
        return pn.pane.Markdown(f"No guardrail check failed in the last {since}.")
    df = df.with_columns(df["check"].fill_null("(unnamed)"))
    return bars(df, "check", ["requests"], f"Most triggered checks, last {since} (requests)")


def _queue_view(ctx: DashboardContext, since: str) -> Any:
    import panel as pn
    import polars as pl

    from workbench.dashboard._app import table

    total, rows = review_queue(ctx, since)
    if total == 0:
        return pn.pane.Markdown(f"No flagged requests to review in the last {since}.")
    note = pn.pane.Markdown(f"{total:,} flagged requests; the newest {rows.height}:")
    shown = rows.with_columns(rows["text"].map_elements(html.escape, return_dtype=pl.String))
    return pn.Column(
        note,
        table(shown, formatters={"detail": {"type": "html"}}, page_size=10, pagination="local"),
    )


@page("guardrails", "Guardrails", 40)
def build(ctx: DashboardContext) -> Any:
    """The guardrails page (each section loads after the page is shown)."""
    import panel as pn

    from workbench.dashboard._app import deferred

    since = pn.widgets.RadioButtonGroup(label="Range", options=list(RANGES), value="7d")

    def section(fn: Any) -> Any:
        async def load(rng: str) -> Any:
            return await _data.run(fn, ctx, rng)

        return deferred(pn.bind(load, since), sizing_mode="stretch_width")

    async def evaluation() -> Any:
        return await _data.run(evaluation_view, ctx)

    return pn.Column(
        since,
        section(_rates_view),
        section(_checks_view),
        pn.pane.Markdown("### Flagged requests to review"),
        section(_queue_view),
        pn.pane.Markdown("### Evaluation results"),
        deferred(evaluation, sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )
