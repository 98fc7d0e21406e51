"""Live traffic: requests/s, latency and TTFT by model, errors by class, tokens, spend,
cache hit rate and guardrail blocks over the last 15 minutes to 30 days.

All figures come from the rollup-backed aggregates (``workbench.logs.traffic``,
``latency``, ``rates``). Short ranges refresh every :data:`REFRESH_MS`; a tick that
arrives while the previous refresh is still running is skipped, so slow queries never
pile up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
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


KPIS = (
    ("requests", "Requests", "{value:,.0f}"),
    ("requests_per_s", "Requests/s", "{value:,.2f}"),
    ("error_rate", "Error rate", "{value:.2%}"),
    ("blocks", "Guardrail blocks", "{value:,.0f}"),
    ("cache_hit_rate", "Cache hit rate", "{value:.1%}"),
    ("tokens", "Tokens", "{value:,.0f}"),
    ("spend_usd", "Spend", "${value:,.2f}"),
)
#: Time-series charts: title -> the traffic columns drawn.
SERIES = {
    "Requests/s": ("requests_per_s",),
    "Errors by class (5xx, 4xx, guardrail blocks)": ("errors", "rejected", "blocks"),
    "Tokens": ("prompt_tokens", "completion_tokens"),
    "Spend (USD)": ("cost_usd",),
    "Cache hit rate": ("cache_hit_rate",),
    "Guardrail block rate": ("block_rate",),
}
QUANTILES = ("p50", "p95", "p99")
_COLORS = ("#1f77b4", "#d62728", "#ff7f0e", "#2ca02c")


def kpi_html(d: LiveData) -> list[str]:
    """The headline cards' HTML, in :data:`KPIS` order."""
    from workbench.dashboard._app import kpi_card

    return [kpi_card(label, d.kpis[key], fmt) for key, label, fmt in KPIS]


def series_data(d: LiveData) -> dict[str, list[Any]]:
    """The time-series charts' columns."""
    cols = {c for cs in SERIES.values() for c in cs}
    return {"time": d.traffic["time"].to_list(), **{c: d.traffic[c].to_list() for c in cols}}


def latency_data(d: LiveData, prefix: str) -> dict[str, list[Any]]:
    """``x`` = (model, quantile) and ``ms`` for the latency or TTFT bars."""
    lat = d.latency
    if lat.height == 0 or f"{prefix}_p50" not in lat.columns:
        return {"x": [], "ms": [], "color": []}
    x, ms, color = [], [], []
    for row in lat.filter(lat["requests"] > 0).iter_rows(named=True):
        for i, q in enumerate(QUANTILES):
            x.append((str(row["model_served"] or "(none)"), q))
            ms.append(float(row[f"{prefix}_{q}"] or 0.0))
            color.append(_COLORS[i])
    return {"x": x, "ms": ms, "color": color}


class Charts:
    """Bokeh figures built once per session; a refresh only replaces their data."""

    def __init__(self) -> None:
        from bokeh.models import ColumnDataSource, FactorRange
        from bokeh.plotting import figure

        cols = {c for cs in SERIES.values() for c in cs}
        self.series = ColumnDataSource({"time": [], **{c: [] for c in cols}})
        self.figures: list[Any] = []
        for title, names in SERIES.items():
            fig = figure(
                title=title, x_axis_type="datetime", height=240, sizing_mode="stretch_width"
            )
            for name, color in zip(names, _COLORS, strict=False):
                fig.line("time", name, source=self.series, color=color, legend_label=name)
            fig.legend.location = "top_left"
            self.figures.append(fig)
        self.bars: dict[str, tuple[Any, Any]] = {}
        for prefix, title in (("latency", "Latency by model (ms)"), ("ttft", "TTFT by model (ms)")):
            src = ColumnDataSource({"x": [], "ms": [], "color": []})
            fig = figure(
                title=title, x_range=FactorRange(), height=260, sizing_mode="stretch_width"
            )
            fig.vbar(x="x", top="ms", width=0.8, color="color", source=src)
            fig.xaxis.major_label_orientation = 0.6
            self.bars[prefix] = (src, fig)

    def update(self, d: LiveData) -> None:
        """Show ``d``."""
        self.series.data = series_data(d)
        for prefix, (src, fig) in self.bars.items():
            data = latency_data(d, prefix)
            fig.x_range.factors = data["x"]
            src.data = data

    def layout(self) -> Any:
        """The figures in rows of two."""
        import panel as pn

        figs = [*self.figures[:2], self.bars["latency"][1], self.bars["ttft"][1], *self.figures[2:]]
        rows = [pn.Row(*(pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in figs[i : i + 2]),
                       sizing_mode="stretch_width") for i in range(0, len(figs), 2)]  # fmt: skip
        return pn.Column(*rows, sizing_mode="stretch_width")


class LiveView:
    """One session's live page: controls, KPI cards, charts and the refresh loop."""

    def __init__(self, ctx: DashboardContext) -> None:
        import panel as pn

        from workbench.dashboard._app import kpi_card

        self.ctx = ctx
        self.range = pn.widgets.RadioButtonGroup(label="Range", options=list(RANGES), value="1h")
        self.workspace = pn.widgets.Select(label="Workspace", options=workspaces(ctx), width=220)
        self.workspace.visible = ctx.workspaces is None
        self.cards = [pn.pane.HTML(kpi_card(label, None), margin=(4, 6)) for _, label, _ in KPIS]
        self.kpis = pn.FlexBox(*self.cards)
        self.plots = Charts()
        self.charts = self.plots.layout()
        self.status = pn.pane.Markdown("", styles={"color": "#666"})
        self.data: LiveData | None = None
        self.doc = pn.state.curdoc  # the session's document (None in-process)
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
            for card, text in zip(self.cards, kpi_html(data), strict=True):
                card.object = text
            self._under_lock(partial(self.plots.update, data))
            live = "refreshing every 5 s" if since in LIVE_RANGES else "not auto-refreshed"
            self.status.object = f"Last {since} ({live})."
        finally:
            self.charts.loading = False
            self.busy = False
        return True

    def _under_lock(self, change: Callable[[], None]) -> None:
        """Apply a change to raw Bokeh models: in a served session on the document's next
        tick, under its lock (after an ``await`` the callback no longer holds it, and
        Bokeh refuses the write); in-process at once."""
        doc = self.doc
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(change)
        else:
            change()

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
