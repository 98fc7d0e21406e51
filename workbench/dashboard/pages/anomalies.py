"""Anomalies: the alerts table with severities; a selected alert drawn on its series with
the detector's expected band shaded; acknowledge and mute (``ack_anomaly`` permission).

Alerts come from the anomaly store (``$WORKBENCH_HOME/anomalies/alerts.db``), the series
and band from ``workbench.anomalies.band``. A non-admin sees only the alerts of their own
workspace and of its keys (model-level series mix every workspace's traffic).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.dashboard import _data
from workbench.dashboard.pages import page

if TYPE_CHECKING:
    import polars as pl

    from workbench.analytics.anomalies import Alert
    from workbench.dashboard._context import DashboardContext

STATUSES = ("open", "acknowledged", "muted", "resolved")
MUTE_FOR = {"1 hour": "1h", "8 hours": "8h", "1 day": "24h", "1 week": "7d"}
CONTEXT_BEFORE = timedelta(days=2)
CONTEXT_AFTER = timedelta(days=1)
_COLUMNS = ("id", "severity", "status", "series", "metric", "start", "end", "value", "expected")


def _own_keys(ctx: DashboardContext) -> set[str]:
    from workbench.keys import KeyStore

    with KeyStore(ctx.home / "keys.sqlite") as store:
        return {r.key_id for r in store.list(ctx.principal.workspace)}


def visible_alerts(ctx: DashboardContext, statuses: list[str] | None = None) -> list[Alert]:
    """Alerts this session may see, newest first."""
    found = _data.alerts(str(ctx.home), tuple(statuses) if statuses else None)
    if ctx.workspaces is None:
        return found
    keys = _own_keys(ctx)
    return [
        a
        for a in found
        if a.dims.get("workspace") == ctx.principal.workspace or a.dims.get("key") in keys
    ]


def alerts_frame(alerts: list[Alert]) -> pl.DataFrame:
    """The alerts table's rows."""
    import polars as pl

    rows = [{c: _cell(getattr(a, c)) for c in _COLUMNS} for a in alerts]
    if not rows:
        return pl.DataFrame({c: [] for c in _COLUMNS})
    return pl.DataFrame(rows)


def _cell(value: object) -> object:
    """Times as ``YYYY-MM-DD HH:MM`` UTC, measures to 4 significant digits."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return float(f"{value:.4g}")
    return value


def alert_series(ctx: DashboardContext, alert: Alert) -> pl.DataFrame:
    """The alert's series around it, with the expected band (``ts, value, lower, upper``)."""
    ((level, entity),) = alert.dims.items()
    until = min(datetime.now(UTC), alert.end + CONTEXT_AFTER)
    return _data.band(
        str(ctx.log_dir), level, entity, alert.metric, alert.start - CONTEXT_BEFORE, until
    )


def band_chart(alert: Alert, frame: pl.DataFrame) -> Any:
    """The series line over its shaded band, the alert's span marked."""
    import holoviews as hv
    import holoviews.plotting.bokeh  # noqa: F401  (the backend the options below are for)

    data = frame.select("ts", "value", "expected", "lower", "upper").to_pandas()
    area = hv.Area(data, "ts", ["lower", "upper"], label="expected band").opts(
        alpha=0.25, color="#1f77b4", line_alpha=0
    )
    expected = hv.Curve(data, "ts", "expected", label="expected").opts(
        color="#1f77b4", line_dash="dashed"
    )
    value = hv.Curve(data, "ts", "value", label=alert.metric).opts(color="#d62728")
    span = hv.VSpan(alert.start, alert.end).opts(color="#ffbf00", alpha=0.2)
    return (area * expected * value * span).opts(
        title=f"#{alert.id} {alert.metric} of {alert.series} ({alert.severity})",
        height=320,
        responsive=True,
        ylabel=alert.metric,
        xlabel="",
        legend_position="top_left",
    )


class AnomaliesView:
    """One session's anomalies page."""

    def __init__(self, ctx: DashboardContext) -> None:
        import panel as pn

        self.ctx = ctx
        self.alerts: list[Alert] = []
        self.statuses = pn.widgets.MultiChoice(
            label="Status", options=list(STATUSES), value=["open", "acknowledged", "muted"]
        )
        self.table = pn.widgets.Tabulator(
            alerts_frame([]).to_pandas(),
            disabled=True,
            selectable=1,
            show_index=False,
            sizing_mode="stretch_width",
            height=300,
        )
        allowed = ctx.can("ack_anomaly")
        self.ack = pn.widgets.Button(label="Acknowledge", color="primary", disabled=True)
        self.mute_for = pn.widgets.Select(options=list(MUTE_FOR), value="8 hours", width=120)
        self.mute = pn.widgets.Button(label="Mute", disabled=True)
        self.ack.visible = self.mute.visible = self.mute_for.visible = allowed
        self.chart = pn.Column(
            pn.pane.Markdown("Select an alert to see it on its series."),
            sizing_mode="stretch_width",
            min_height=340,
        )
        self.message = pn.pane.Markdown("")
        self.statuses.param.watch(self._reload, "value")
        self.table.param.watch(self._selected, "selection")
        self.ack.on_click(self._ack)
        self.mute.on_click(self._mute)
        self.layout = pn.Column(
            self.statuses,
            self.table,
            pn.Row(self.ack, self.mute_for, self.mute, self.message),
            self.chart,
            sizing_mode="stretch_width",
        )

    def selected(self) -> Alert | None:
        """The alert selected in the table."""
        rows = self.table.selection
        return self.alerts[rows[0]] if rows and rows[0] < len(self.alerts) else None

    async def reload(self) -> None:
        """Read the alerts again."""
        self.table.loading = True
        try:
            self.alerts = await _data.run(visible_alerts, self.ctx, list(self.statuses.value))
            self.table.value = alerts_frame(self.alerts).to_pandas()
            self.table.selection = []
            self.message.object = "" if self.alerts else "No alerts with these statuses."
        finally:
            self.table.loading = False

    async def _reload(self, _event: object) -> None:
        await self.reload()

    async def show(self, alert: Alert) -> None:
        """Draw ``alert`` on its series."""
        self.chart.loading = True
        try:
            frame = await _data.run(alert_series, self.ctx, alert)
            self.chart.objects = [band_chart(alert, frame)]
        finally:
            self.chart.loading = False

    async def _selected(self, _event: object) -> None:
        alert = self.selected()
        self.ack.disabled = self.mute.disabled = alert is None
        if alert is not None:
            await self.show(alert)

    def act(self, action: str) -> Alert | None:
        """Acknowledge or mute the selected alert in the store (needs ``ack_anomaly``)."""
        from workbench.analytics.anomalies import AlertStore

        alert = self.selected()
        if alert is None or not self.ctx.can("ack_anomaly"):
            return None
        store = AlertStore(Path(self.ctx.home) / "anomalies" / "alerts.db")
        note = f"via dashboard by key {self.ctx.principal.key_id}"
        if action == "ack":
            return store.acknowledge(alert.id, note)
        until = datetime.now(UTC) + _duration(MUTE_FOR[self.mute_for.value])
        return store.mute(alert.id, until, note)

    async def _ack(self, _event: object) -> None:
        done = self.act("ack")
        self.message.object = f"Acknowledged #{done.id}." if done else ""
        await self.reload()

    async def _mute(self, _event: object) -> None:
        done = self.act("mute")
        self.message.object = f"Muted #{done.id}." if done else ""
        await self.reload()


def _duration(text: str) -> timedelta:
    from workbench.logs import parse_duration

    value = parse_duration(text)
    assert value is not None
    return value


@page("anomalies", "Anomalies", 30)
def build(ctx: DashboardContext) -> Any:
    """The anomalies page (alerts load after the page is shown)."""
    import panel as pn

    view = AnomaliesView(ctx)
    pn.state.onload(view.reload)
    return view.layout
