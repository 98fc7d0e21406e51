"""Cost explorer: spend by workspace, key, user, model, tag or day; month-to-date and the
month-end forecast; the optimisation suggestions with the money at stake.

Spend comes from ``workbench.logs.spend`` (rollups; user and tag from a projected scan)
scoped to the session's workspaces. The forecast (``workbench.cost.forecast``) and the
suggestions (``workbench.cost.suggest``) cover the whole lake, so only an admin sees them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.dashboard import _data
from workbench.dashboard.pages import page

if TYPE_CHECKING:
    import polars as pl

    from workbench.dashboard._context import DashboardContext

#: Group-by choices: label -> the ``logs.spend`` dimension.
GROUPS = {
    "Workspace": "workspace",
    "Key": "key_id",
    "User": "user",
    "Model": "model_served",
    "Tag": "tag",
    "Day": "day",
}
RANGES = ("24h", "7d", "30d")
SUGGESTION_COLUMNS = ("kind", "title", "usd_window", "usd_per_month", "billed", "requests")


def spend_by(ctx: DashboardContext, group: str, since: str) -> pl.DataFrame:
    """Spend, requests and tokens per ``group`` (a :data:`GROUPS` value) in ``since``."""
    if group not in GROUPS.values():
        raise ValueError(f"cannot group spend by {group!r}")
    return _data.spend(str(ctx.log_dir), ctx.workspaces, since, (group,))


def headline(ctx: DashboardContext) -> dict[str, float | None]:
    """Month-to-date spend (scoped) and, for an admin, the forecast with its interval."""
    out: dict[str, float | None] = {
        "month_to_date": _data.month_to_date(str(ctx.log_dir), ctx.workspaces),
        "forecast": None,
        "low": None,
        "high": None,
    }
    if ctx.workspaces is None:
        fc = _data.forecast(str(ctx.log_dir))
        out.update(forecast=fc.forecast, low=fc.low, high=fc.high)
    return out


def suggestions_frame(ctx: DashboardContext, since: str = "30d") -> pl.DataFrame | None:
    """The suggestions table, largest money at stake first (None for non-admins)."""
    if ctx.workspaces is not None:
        return None
    frame = _data.suggestions(str(ctx.log_dir), since).to_frame()
    return frame.select([c for c in SUGGESTION_COLUMNS if c in frame.columns])


def _spend_view(ctx: DashboardContext, label: str, since: str) -> Any:
    import panel as pn

    from workbench.dashboard._app import bars, table

    group = GROUPS[label]
    df = spend_by(ctx, group, since)
    if df.height == 0:
        return pn.pane.Markdown(f"No requests in the last {since}.")
    df = df.with_columns(df[group].cast(str).fill_null("(none)"))
    top = df.head(25) if group != "day" else df
    return pn.Column(
        bars(top, group, ["cost_usd"], f"Spend by {label.lower()}, last {since} (USD)"),
        table(df, page_size=15, pagination="local"),
        sizing_mode="stretch_width",
    )


def _headline_view(ctx: DashboardContext) -> Any:
    import panel as pn

    from workbench.dashboard._app import kpi

    h = headline(ctx)
    cards = [kpi("Month to date", h["month_to_date"], "${value:,.2f}")]
    if h["forecast"] is not None:
        cards.append(kpi("Month-end forecast", h["forecast"], "${value:,.2f}"))
        if h["low"] is not None and h["high"] is not None:
            cards.append(
                pn.pane.Markdown(f"95% interval ${h['low']:,.2f} – ${h['high']:,.2f}", margin=12)
            )
    return pn.FlexBox(*cards)


def _suggestions_view(ctx: DashboardContext) -> Any:
    import panel as pn

    from workbench.dashboard._app import table

    frame = suggestions_frame(ctx)
    if frame is None:
        return pn.pane.Markdown(
            "The forecast and the optimisation suggestions cover every workspace: "
            "an admin sees them."
        )
    note = pn.pane.Markdown(
        "Semantic-cache savings need every prompt embedded: run `workbench cost suggest`."
    )
    if frame.height == 0:
        return pn.Column(pn.pane.Markdown("No optimisation suggestions for 30 days."), note)
    return pn.Column(table(frame), note)


@page("cost", "Cost explorer", 20)
def build(ctx: DashboardContext) -> Any:
    """The cost explorer (each section loads after the page is shown)."""
    import panel as pn

    from workbench.dashboard._app import deferred

    group = pn.widgets.Select(label="Group by", options=list(GROUPS), value="Workspace", width=180)
    since = pn.widgets.RadioButtonGroup(label="Range", options=list(RANGES), value="7d")

    async def spend_section(label: str, rng: str) -> Any:
        return await _data.run(_spend_view, ctx, label, rng)

    async def headline_section() -> Any:
        return await _data.run(_headline_view, ctx)

    async def suggestions_section() -> Any:
        return await _data.run(_suggestions_view, ctx)

    return pn.Column(
        deferred(headline_section),
        pn.Row(group, since),
        deferred(pn.bind(spend_section, group, since), sizing_mode="stretch_width"),
        pn.pane.Markdown("### Optimisation suggestions (money at stake, last 30 days)"),
        deferred(suggestions_section, sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )
