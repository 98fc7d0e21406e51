"""Log explorer: one page of the request log at a time, filters, and a request's detail.

The table holds only the current page (50 rows): paging, filtering and counting run in
:func:`workbench.logs.page` (rollup-counted totals, partition-pruned reads). Panel's own
``pagination="remote"`` keeps the whole DataFrame on the server, so this page drives the
pager itself (Previous / Next / page number) and asks the library for each page. A filter
change reloads page 1 in the background behind a loading indicator. ``?request_id=ID``
opens that request's detail directly (the guardrails page links here).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from workbench.dashboard._explorer_data import (
    PAGE_SIZE,
    ExplorerFilters,
    RequestDetail,
    choices,
    fetch_page,
    page_count,
    request_detail,
)
from workbench.dashboard._explorer_tasks import launch
from workbench.dashboard.pages import page

if TYPE_CHECKING:
    from workbench.dashboard._context import DashboardContext
    from workbench.logs import Page

ALL = "(all)"
STATUSES = ["ok", "error", "rejected"]
SINCE_CHOICES = ["15m", "1h", "6h", "24h", "7d", "30d", "365d"]
_SHOWN = ("received_at", "request_id", "workspace", "key_id", "model_served", "status")
_MORE = ("http_status", "latency_ms", "prompt_tokens", "completion_tokens", "cost_usd")


def _all(values: list[str]) -> dict[str, str]:
    """Select options with a first "(all)" entry meaning no filter."""
    return {ALL: "", **{v: v for v in values}}


def _parse_at(at: str | None) -> Any:
    """``?at=`` (the request's ``received_at``, ISO) as a datetime; None if absent/bad."""
    if not at:
        return None
    from workbench.logs import parse_time

    try:
        return parse_time(at)
    except ValueError:
        return None


def _instant(at: Any) -> tuple[Any, Any]:
    """``(since, until)`` holding just ``at`` (``(None, None)`` when unknown)."""
    import pandas as pd

    if at is None or pd.isna(at):
        return None, None
    stamp = pd.Timestamp(at).to_pydatetime()
    return stamp, stamp + timedelta(microseconds=1)


def url_arg(name: str) -> str | None:
    """The query argument ``name`` of the session's URL, if any."""
    import panel as pn

    args = pn.state.session_args if pn.state.curdoc is not None else {}
    raw = (args or {}).get(name)
    if not raw:
        return None
    first = raw[0]
    return first.decode() if isinstance(first, bytes) else str(first)


class ExplorerView:
    """The widgets and state of one session's log explorer."""

    def __init__(
        self, ctx: DashboardContext, request_id: str | None = None, at: str | None = None
    ) -> None:
        import panel as pn

        self.ctx = ctx
        self.page_number = 1
        self.page: Page | None = None
        self.detail: RequestDetail | None = None
        self.since = pn.widgets.AutocompleteInput(
            label="Since",
            options=SINCE_CHOICES,
            value="24h",
            restrict=False,
            min_characters=0,
            placeholder="24h, 7d or an ISO time",
        )
        self.until = pn.widgets.TextInput(label="Until", placeholder="now (or ISO time, 1h)")
        admin = ctx.workspaces is None
        self.workspace = pn.widgets.Select(
            label="Workspace",
            options=_all([]) if admin else list(ctx.workspaces or ()),
            disabled=not admin,
        )
        self.model = pn.widgets.Select(label="Model", options=_all([]))
        self.status = pn.widgets.Select(label="Status", options=_all(STATUSES))
        self.check = pn.widgets.AutocompleteInput(
            label="Guardrail check", options=[], restrict=False, min_characters=1
        )
        self.text = pn.widgets.TextInput(label="Text search", placeholder="in bodies")
        self.order = pn.widgets.Select(
            label="Order", options={"newest first": "desc", "oldest first": "asc"}
        )
        self.table = pn.widgets.Tabulator(
            label="Requests",
            pagination=None,
            disabled=True,
            show_index=False,
            selectable=1,
            sizing_mode="stretch_width",
            height=560,
        )
        self.table.on_click(self._on_click)
        self.prev_button = pn.widgets.Button(label="Previous page", disabled=True)
        self.next_button = pn.widgets.Button(label="Next page", disabled=True)
        self.page_input = pn.widgets.IntInput(label="Page", value=1, start=1, width=100)
        self.total = pn.pane.Markdown("", name="Total")
        self.error = pn.pane.Alert("", alert_type="danger", visible=False, name="Error")
        self.detail_panel = pn.Column(name="Request detail", sizing_mode="stretch_width")
        self._wire()
        self.reload(page_number=1)
        launch(lambda: choices(ctx), self._set_choices, lambda _flag: None, self._fail)
        if request_id:
            self.open_request(request_id, _parse_at(at))

    # -- wiring ------------------------------------------------------------------------
    def _filter_widgets(self) -> list[Any]:
        return [
            self.since,
            self.until,
            self.workspace,
            self.model,
            self.status,
            self.check,
            self.text,
            self.order,
        ]

    def _wire(self) -> None:
        for widget in self._filter_widgets():
            widget.param.watch(lambda _e: self.reload(page_number=1), "value")
        self.prev_button.on_click(lambda _e: self.reload(page_number=self.page_number - 1))
        self.next_button.on_click(lambda _e: self.reload(page_number=self.page_number + 1))
        self.page_input.param.watch(self._on_page_input, "value")

    def _on_page_input(self, event: Any) -> None:
        if event.new != self.page_number:
            self.reload(page_number=int(event.new))

    def _on_click(self, event: Any) -> None:
        frame = self.table.value
        if frame is None or event.row is None or event.row >= len(frame):
            return
        row = frame.iloc[event.row]
        self.open_request(str(row["request_id"]), row.get("received_at"))

    def _set_choices(self, opts: dict[str, list[str]]) -> None:
        """Fill the filter options (loaded after the first page, in the background)."""
        if self.ctx.workspaces is None:
            self.workspace.options = _all(opts["workspace"])
        self.model.options = _all(opts["model"])
        self.check.options = opts["check"]

    # -- state -------------------------------------------------------------------------
    def filters(self) -> ExplorerFilters:
        """The filter bar's current values."""
        return ExplorerFilters(
            since=(self.since.value or "").strip() or None,
            until=(self.until.value or "").strip() or None,
            workspace=self.workspace.value or None,
            model=self.model.value or None,
            status=self.status.value or None,
            check=self.check.value or None,
            text=self.text.value or None,
            order=self.order.value,
        )

    def _busy(self, flag: bool) -> None:
        self.table.loading = flag

    def _fail(self, exc: Exception) -> None:
        self.error.object = f"Could not load the log: {exc}"
        self.error.visible = True

    def reload(self, page_number: int = 1) -> None:
        """Load page ``page_number`` for the current filters (in the background when
        served)."""
        filters, number = self.filters(), max(1, page_number)
        launch(
            lambda: fetch_page(self.ctx, filters, number, PAGE_SIZE),
            lambda got: self._show(got, number),
            self._busy,
            self._fail,
        )

    def _show(self, got: Page, number: int) -> None:
        import pandas as pd

        self.page, self.page_number = got, number
        self.error.visible = False
        cols = [c for c in (*_SHOWN, *_MORE) if c in got.rows.columns]
        self.table.value = pd.DataFrame(got.rows.select(cols).to_dicts(), columns=cols)
        pages = page_count(got)
        first = got.offset + 1 if got.rows.height else 0
        self.total.object = (
            f"**{got.total_label}** matching requests · rows {first:,}–"
            f"{got.offset + got.rows.height:,} · page {number:,} of "
            f"{pages:,}{'' if got.exact else '+'}"
        )
        self.prev_button.disabled = number <= 1
        self.next_button.disabled = got.offset + got.rows.height >= got.total and got.exact
        if self.page_input.value != number:
            self.page_input.value = number

    def open_request(self, request_id: str, received_at: Any = None) -> None:
        """Show ``request_id``'s detail (a note when it is not in this session's scope);
        ``received_at`` (when known) narrows the lookup to that instant's hour file."""
        from workbench.dashboard._explorer_detail import detail_view

        def show(found: RequestDetail | None) -> None:
            import panel as pn

            self.detail = found
            if found is None:
                note = f"No request {request_id!r} in the log you may read."
                self.detail_panel.objects = [pn.pane.Alert(note, alert_type="warning")]
            else:
                self.detail_panel.objects = [detail_view(found)]

        launch(
            lambda: request_detail(self.ctx, request_id, *_instant(received_at)),
            show,
            lambda flag: setattr(self.detail_panel, "loading", flag),
            self._fail,
        )

    def layout(self) -> Any:
        """The page."""
        import panel as pn

        bar = pn.FlexBox(*self._filter_widgets(), name="Filters")
        pager = pn.Row(self.prev_button, self.page_input, self.next_button, self.total)
        return pn.Column(
            pn.pane.Markdown("## Log explorer"),
            bar,
            self.error,
            pager,
            self.table,
            self.detail_panel,
            name="Log explorer",
            sizing_mode="stretch_width",
        )


@page("explorer", "Log explorer", 50)
def build(ctx: DashboardContext) -> Any:
    """The log explorer page (``?request_id=ID`` opens that request's detail; adding
    ``&at=RECEIVED_AT`` (ISO) makes the lookup read only that hour)."""
    view = ExplorerView(ctx, request_id=url_arg("request_id"), at=url_arg("at"))
    return view.layout()
