"""The policies page's replay preview (flip matrix with drill-down) and history (versions,
audit trail, rollback) sections."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.dashboard import _policy_ops as ops
from workbench.dashboard._explorer_tasks import launch
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.analytics.replay import ReplayResult
    from workbench.dashboard._context import DashboardContext
    from workbench.policy import Policy, PolicyStore

EXPLORER_URL = "/explorer?request_id="


class ReplaySection:
    """Replay the editor's candidate over recent traffic; flip matrix and drill-down."""

    def __init__(self, ctx: DashboardContext, candidate: Callable[[], Policy | None]) -> None:
        import panel as pn

        self.ctx = ctx
        self.candidate = candidate
        self.result: ReplayResult | None = None
        self.preview: ops.Preview | None = None
        self.drill: list[dict[str, Any]] = []
        self.since = pn.widgets.TextInput(label="Replay window", value=ops.REPLAY_SINCE)
        self.limit = pn.widgets.IntInput(
            label="Max rows", value=ops.REPLAY_LIMIT, start=1, end=100_000
        )
        self.run_button = pn.widgets.Button(label="Run replay preview", button_type="primary")
        self.run_button.on_click(lambda _e: self.run())
        self.status = pn.pane.Markdown("", name="Replay status")
        self.matrix = pn.widgets.Tabulator(
            label="Flip matrix", disabled=True, show_index=False, selectable=False, visible=False
        )
        self.matrix.on_click(self._on_click)
        self.examples = pn.pane.HTML("", name="Flip examples", sizing_mode="stretch_width")
        self.box = pn.Column(
            pn.pane.Markdown("### Replay preview"),
            pn.Row(self.since, self.limit, self.run_button),
            self.status,
            self.matrix,
            self.examples,
            name="Replay preview",
            sizing_mode="stretch_width",
        )

    def _busy(self, flag: bool) -> None:
        self.box.loading = flag
        self.run_button.disabled = flag
        if flag:
            self.status.object = "Replaying the candidate over recent traffic…"

    def _fail(self, exc: Exception) -> None:
        self.status.object = f"**Replay failed:** {html.escape(str(exc))}"

    def run(self) -> None:
        """Replay the current candidate (refused while the editor's text is invalid)."""
        policy = self.candidate()
        if policy is None:
            self.status.object = "**Fix the validation errors first.**"
            return
        since, limit = self.since.value or ops.REPLAY_SINCE, int(self.limit.value or 1)
        launch(
            lambda: ops.replay_preview(self.ctx, policy, since=since, limit=limit),
            self._show,
            self._busy,
            self._fail,
        )

    def _show(self, preview: ops.Preview) -> None:
        import pandas as pd

        from workbench.analytics.replay import KINDS

        self.preview, self.result = preview, preview.result
        result = preview.result
        s = result.summary()
        self.status.object = (
            f"Replayed **{s['replayed']:,}** requests in {s['seconds']} s; "
            f"**{s['changed']:,}** changed outcome; not replayable {s['not_replayable']:,}; "
            f"approximate {s['approximate']:,}. Rows are the logged outcome, columns the "
            "candidate's; click a cell for examples."
        )
        m = result.matrix()
        self.matrix.visible = True
        self.matrix.value = pd.DataFrame(
            [{"before \\ after": old, **{new: m[old][new] for new in KINDS}} for old in KINDS]
        )
        self.examples.object = ""

    def _on_click(self, event: Any) -> None:
        frame = self.matrix.value
        if frame is None or event.row is None or event.column not in frame.columns[1:]:
            return
        self.drill_down(str(frame.iloc[event.row, 0]), str(event.column))

    def drill_down(self, old: str, new: str) -> list[dict[str, Any]]:
        """List example requests of the ``old -> new`` cell (ids link to the explorer;
        masked snippets with ``read_bodies``)."""
        if self.preview is None:
            return []
        ids = ops.cell_requests(self.preview.result, old, new)
        texts = ops.snippets(self.ctx, self.preview.rows, ids)
        self.drill = [{"request_id": rid, "snippet": texts[rid]} for rid in ids]
        items = "".join(
            f'<li><a href="{EXPLORER_URL}{html.escape(d["request_id"])}">'
            f"{html.escape(d['request_id'])}</a>"
            + (f" — <code>{html.escape(d['snippet'])}</code>" if d["snippet"] else "")
            + "</li>"
            for d in self.drill
        )
        head = f"<b>{html.escape(old)} → {html.escape(new)}</b>: {len(ids)} example(s)"
        self.examples.object = f"<div>{head}<ul>{items}</ul></div>"
        return self.drill


class HistorySection:
    """Versions and audit events of one policy, and rollback to a chosen version."""

    def __init__(
        self, ctx: DashboardContext, store: PolicyStore, on_change: Callable[[], None]
    ) -> None:
        import panel as pn

        self.ctx = ctx
        self.store = store
        self.on_change = on_change
        self.policy_id: str | None = None
        allowed = ctx.can("publish_policy")
        self.versions = pn.widgets.Tabulator(label="Versions", disabled=True, show_index=False)
        self.events = pn.widgets.Tabulator(label="Audit events", disabled=True, show_index=False)
        self.target = pn.widgets.Select(label="Roll back to", options=[])
        self.message = pn.widgets.TextInput(label="Rollback message", placeholder="why")
        self.button = pn.widgets.Button(
            label="Roll back", button_type="warning", disabled=not allowed
        )
        self.button.on_click(lambda _e: self.rollback())
        self.status = pn.pane.Markdown("", name="Rollback status")
        self.box = pn.Column(
            pn.pane.Markdown("### History"),
            self.versions,
            self.events,
            pn.Row(self.target, self.message, self.button),
            self.status,
            name="History",
            sizing_mode="stretch_width",
        )

    def show(self, policy_id: str | None) -> None:
        """Show ``policy_id``'s history (nothing for None)."""
        import pandas as pd

        self.policy_id = policy_id
        if policy_id is None:
            self.versions.value, self.events.value = pd.DataFrame(), pd.DataFrame()
            self.target.options = []
            return
        versions, events = ops.history(self.store, policy_id)
        live = self.store.live_map().get(policy_id)
        self.versions.value = pd.DataFrame(
            [
                {
                    "version": v.version_id,
                    "live": v.version_id == live,
                    "author": v.author,
                    "created_at": v.to_dict()["created_at"],
                    "message": v.message,
                }
                for v in reversed(versions)
            ]
        )
        self.events.value = pd.DataFrame(
            [
                {k: e.to_dict()[k] for k in ("at", "event", "from", "to", "by", "message")}
                for e in reversed(events)
            ]
        )
        self.target.options = [v.version_id for v in reversed(versions) if v.version_id != live]
        self.versions.visible, self.events.visible = bool(versions), bool(events)
        empty = f"_{policy_id!r} has no published versions yet._"
        if not versions:
            self.status.object = empty
        elif self.status.object.startswith("_") and "no published versions" in self.status.object:
            self.status.object = ""  # the note of an earlier, empty history

    def rollback(self) -> None:
        """Make the chosen version live (the handler re-checks ``publish_policy``)."""
        if self.policy_id is None or not self.target.value:
            self.status.object = "**Choose a version to roll back to.**"
            return
        try:
            version = ops.rollback(
                self.ctx, self.store, self.policy_id, self.target.value, self.message.value or ""
            )
        except (PermissionError, ValueError, WorkbenchError) as exc:
            self.status.object = f"**Rollback refused:** {html.escape(str(exc))}"
            return
        self.show(self.policy_id)
        self.status.object = f"Rolled back: **{version.version_id}** is live."
        self.on_change()
