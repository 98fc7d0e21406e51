"""Live traffic: requests/s, latency and TTFT by model, errors by class, tokens, spend,
cache hit rate and guardrail blocks over the last 15 minutes to 30 days.

All figures come from the rollup-backed aggregates (``workbench.logs.traffic``,
``latency``, ``rates``). Short ranges refresh every :data:`REFRESH_MS`; a tick that
arrives while the previous refresh is still running is skipped, so slow queries never
pile up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.dashboard import _data
from workbench.dashboard.pages import page

if TYPE_CHECKING:
    import polars as pl

    from workbench.dashboard._context import DashboardContext

RANGES = ("15m", "1h", "6h", "24h", "7d", "30d")
LIVE_RANGES = ("15m", "1h")
REFRESH_MS = 5_000
ALL = "(all workspaces)"


@dataclass(frozen=True)
class LiveData:
    """What the page shows for one range: headline numbers and the frames behind charts."""

    kpis: dict[str, float | None]
    traffic: pl.DataFrame
    latency: pl.DataFrame


def scope(ctx: DashboardContext, workspace: str | None) -> tuple[str, ...] | None:
    """The workspaces to query: a non-admin always gets their own; an admin all or one."""
    if ctx.workspaces is not None:
        return ctx.workspaces
    return (workspace,) if workspace and workspace != ALL else None


def load(ctx: DashboardContext, since: str, workspace: str | None = None) -> LiveData:
    """The page's data for ``since`` (blocking; the page runs it in a worker thread)."""
    ws, root = scope(ctx, workspace), str(ctx.log_dir)
    tr = _data.traffic(root, ws, since)
    lat = _data.latency(root, ws, since, "model_served")
    overall = _data.rates(root, ws, since).row(0, named=True)
    seconds = max(1, _seconds(tr))
    kpis: dict[str, float | None] = {
        "requests": float(overall["requests"]),
        "requests_per_s": overall["requests"] / seconds,
        "errors": float(overall["errors"]),
        "rejected": float(overall["rejected"]),
        "blocks": float(overall["blocks"]),
        "error_rate": overall["error_rate"] if overall["requests"] else None,
        "cache_hit_rate": overall["cache_hit_rate"] if overall["requests"] else None,
        "tokens": float(overall["prompt_tokens"] + overall["completion_tokens"]),
        "spend_usd": float(overall["cost_usd"] or 0.0),
    }
    return LiveData(kpis, tr, lat)


def _seconds(tr: pl.DataFrame) -> int:
    """The span the traffic buckets cover, in seconds."""
    if tr.height < 2:
        return 60 * max(1, tr.height)
    step = (tr["time"][1] - tr["time"][0]).total_seconds()
    return int(step * tr.height)


def workspaces(ctx: DashboardContext) -> list[str]:
    """Workspace choices for an admin (those with traffic in the last 30 days)."""
    if ctx.workspaces is not None:
        return list(ctx.workspaces)
    df = _data.rates(str(ctx.log_dir), None, "30d", "workspace")
    return [ALL, *sorted(str(w) for w in df["workspace"].to_list() if w)]


def kpi_row(d: LiveData) -> Any:
    """The headline cards."""
    import panel as pn

    from workbench.dashboard._app import kpi

    k = d.kpis
    return pn.FlexBox(
        kpi("Requests", k["requests"]),
        kpi("Requests/s", k["requests_per_s"], "{value:,.2f}"),
        kpi("Error rate", k["error_rate"], "{value:.2%}"),
        kpi("Guardrail blocks", k["blocks"]),
        kpi("Cache hit rate", k["cache_hit_rate"], "{value:.1%}"),
        kpi("Tokens", k["tokens"]),
        kpi("Spend", k["spend_usd"], "${value:,.2f}"),
    )


def charts(d: LiveData) -> Any:
    """The charts of one load."""
    import panel as pn

    from workbench.dashboard._app import bars, line

    tr = d.traffic
    lat = d.latency.filter(d.latency["requests"] > 0) if d.latency.height else d.latency
    if "latency_p50" in lat.columns and lat.height:
        lat = lat.fill_null(0)
        by_model: list[Any] = [
            bars(lat, "model_served", ["latency_p50", "latency_p95", "latency_p99"], "Latency ms"),
            bars(lat, "model_served", ["ttft_p50", "ttft_p95", "ttft_p99"], "TTFT ms"),
        ]
    else:
        by_model = [pn.pane.Markdown("No requests with a latency in this range.")]
    return pn.Column(
        pn.Row(
            line(tr, "time", ["requests_per_s"], "Requests/s"),
            line(tr, "time", ["errors", "rejected", "blocks"], "Errors by class"),
        ),
        pn.Row(*by_model),
        pn.Row(
            line(tr, "time", ["prompt_tokens", "completion_tokens"], "Tokens"),
            line(tr, "time", ["cost_usd"], "Spend (USD)"),
        ),
        pn.Row(
            line(tr, "time", ["cache_hit_rate"], "Cache hit rate"),
            line(tr, "time", ["blocks", "block_rate"], "Guardrail blocks", subplots=False),
        ),
        sizing_mode="stretch_width",
    )


class LiveView:
    """One session's live page: controls, KPI cards, charts and the refresh loop."""

    def __init__(self, ctx: DashboardContext) -> None:
        import panel as pn

        self.ctx = ctx
        self.range = pn.widgets.RadioButtonGroup(label="Range", options=list(RANGES), value="1h")
        self.workspace = pn.widgets.Select(label="Workspace", options=workspaces(ctx), width=220)
        self.workspace.visible = ctx.workspaces is None
        self.kpis = pn.Column(sizing_mode="stretch_width")
        self.charts = pn.Column(sizing_mode="stretch_width", min_height=400)
        self.status = pn.pane.Markdown("", styles={"color": "#666"})
        self.data: LiveData | None = None
        self.busy = False
        self.skipped = 0
        self.range.param.watch(self._changed, "value")
        self.workspace.param.watch(self._changed, "value")
        self.layout = pn.Column(
            pn.Row(self.range, self.workspace),
            self.status,
            self.kpis,
            self.charts,
            sizing_mode="stretch_width",
        )

    async def _changed(self, _event: object) -> None:
        await self.refresh()

    async def refresh(self) -> bool:
        """Reload and redraw; returns False when a refresh was already running (skipped)."""
        if self.busy:
            self.skipped += 1
            return False
        self.busy = True
        self.charts.loading = True
        try:
            since, ws = self.range.value, self.workspace.value
            data = await _data.run(load, self.ctx, since, ws)
            self.data = data
            self.kpis.objects = [kpi_row(data)]
            self.charts.objects = [charts(data)]
            live = "refreshing every 5 s" if since in LIVE_RANGES else "not auto-refreshed"
            self.status.object = f"Last {since} ({live})."
        finally:
            self.charts.loading = False
            self.busy = False
        return True

    async def load(self) -> None:
        """The first load (``pn.state.onload``)."""
        await self.refresh()

    async def tick(self) -> None:
        """The periodic callback: refresh only short ranges."""
        if self.range.value in LIVE_RANGES:
            await self.refresh()


@page("live", "Live traffic", 10)
def build(ctx: DashboardContext) -> Any:
    """The live traffic page (data loads after the page is shown)."""
    import panel as pn

    view = LiveView(ctx)
    pn.state.onload(view.load)
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.add_periodic_callback(view.tick, period=REFRESH_MS)  # type: ignore[arg-type]
    return view.layout
