"""Policies: edit a policy's YAML with live validation, diff it against the published
version, replay it over recent traffic, publish it, and browse history / roll back.

Validation runs (debounced) as the text changes and is ``workbench policy validate``'s,
errors naming ``candidate.yaml:LINE`` and marked in the editor's gutter. Publish and
rollback need ``publish_policy`` (the buttons are disabled without it and the handlers
re-check); the running gateway reloads published policies by polling the store.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench.dashboard import _policy_ops as ops
from workbench.dashboard._explorer_tasks import Debouncer
from workbench.dashboard._policy_panels import HistorySection, ReplaySection
from workbench.dashboard.pages import page
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.dashboard._context import DashboardContext
    from workbench.policy import Policy, Version

NEW_POLICY = "(new policy)"
TEMPLATE = """\
id: my-policy
description: A new policy
applies_to:
  workspaces: ["*"]
  models: ["*"]
input: []
output: []
"""


_LINE_STYLE = {"+": "background:#e6ffec", "-": "background:#ffebe9", "@": "color:#0550ae"}


def diff_html(text: str) -> str:
    """A diff as a self-contained HTML block (added lines green, removed lines red)."""
    lines = []
    for line in text.rstrip("\n").splitlines():
        style = _LINE_STYLE.get(line[:1], "")
        lines.append(f'<span style="{style}">{html.escape(line, quote=False) or " "}</span>')
    return (
        '<pre style="font-size:12px;line-height:1.35;white-space:pre-wrap;margin:0;'
        'padding:.5em;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa">'
        + "\n".join(lines)
        + "</pre>"
    )


class PoliciesView:
    """The widgets and state of one session's policies page."""

    def __init__(self, ctx: DashboardContext) -> None:
        import panel as pn

        self.ctx = ctx
        self.store = ops.store_for(ctx)
        self.known, self.known_note = ops.known_targets(ctx)
        self.validation: ops.Validation | None = None
        self.allowed = ctx.can("publish_policy")
        self.source = pn.widgets.Select(label="Start from", options=self._sources())
        self.editor = pn.widgets.CodeEditor(
            label="Policy YAML",
            language="yaml",
            sizing_mode="stretch_width",
            height=420,
        )
        self.problems = pn.pane.Alert("", alert_type="info", name="Validation")
        self.diff = pn.pane.HTML("", name="Diff", sizing_mode="stretch_width")
        self.message = pn.widgets.TextInput(
            label="Publish message", placeholder="what changed and why"
        )
        self.publish_button = pn.widgets.Button(
            label="Publish", button_type="success", disabled=True
        )
        self.publish_status = pn.pane.Markdown("", name="Publish status")
        self.replay = ReplaySection(ctx, self.candidate)
        self.history = HistorySection(ctx, self.store, self._refresh_sources)
        self._validate_soon = Debouncer(self.validate)
        self._loading = False
        self.editor.param.watch(self._on_input, "value_input")
        self.source.param.watch(lambda e: self.load(e.new), "value")
        self.publish_button.on_click(self._on_publish)
        self.load(self.source.value)

    # -- sources -----------------------------------------------------------------------
    def _sources(self) -> dict[str, str]:
        live = self.store.live_map()
        out = {f"live: {vid}": vid for vid in live.values()}
        for v in reversed(self.store.versions()):
            if v.version_id not in live.values():
                out[v.version_id] = v.version_id
        out[NEW_POLICY] = NEW_POLICY
        return out

    def _refresh_sources(self) -> None:
        current = self.source.value
        self.source.options = self._sources()
        if current in self.source.options.values():
            self.source.value = current
        self.validate()

    def load(self, ref: str | None) -> None:
        """Put ``ref`` (a version id, or :data:`NEW_POLICY`) in the editor."""
        if not ref or ref == NEW_POLICY:
            text = TEMPLATE
        else:
            text = self.store.get(ref).policy.canonical_yaml()
        self._loading = True
        try:
            self.editor.value = text
        finally:
            self._loading = False
        self.validate()

    def _on_input(self, _event: Any) -> None:
        if not self._loading:
            self._validate_soon()

    # -- validation and diff -------------------------------------------------------------
    def text(self) -> str:
        """The editor's current text."""
        return self.editor.value_input or self.editor.value or ""

    def candidate(self) -> Policy | None:
        """The editor's policy when it is valid."""
        v = self.validation
        return v.policy if v is not None and v.ok else None

    def validate(self) -> ops.Validation:
        """Validate the editor's text; show the errors (file:line), the diff and the
        publish button's state."""
        v = ops.validate_text(self.text(), self.known)
        self.validation = v
        self.editor.annotations = [
            {"row": (p.line or 1) - 1, "column": 0, "text": p.text, "type": "error"}
            for p in v.problems
        ]
        note = f"\n\n_Note: {self.known_note}_" if self.known_note else ""
        if v.ok:
            assert v.policy is not None
            from workbench.policy import policy_hash

            self.problems.alert_type = "success"
            self.problems.object = (
                f"Valid: policy `{v.policy.id}`, sha256 `{policy_hash(v.policy)[:12]}`{note}"
            )
            self.diff.object = diff_html(ops.diff_text(self.store, v.policy))
            self.history.show(v.policy.id)
        else:
            self.problems.alert_type = "danger"
            self.problems.object = "\n".join(f"- {html.escape(p.text)}" for p in v.problems) + note
            self.diff.object = "<p><i>The diff shows once the policy validates.</i></p>"
        self.publish_button.disabled = not (self.allowed and v.ok)
        return v

    # -- publish -----------------------------------------------------------------------
    def _on_publish(self, _event: Any) -> None:
        self.publish()

    def publish(self) -> Version | None:
        """Publish the editor's policy with the message (the handler re-checks the
        permission and the validation)."""
        try:
            version = ops.publish(self.ctx, self.store, self.text(), self.message.value or "")
        except (PermissionError, ValueError, WorkbenchError) as exc:
            self.publish_status.object = f"**Not published:** {html.escape(str(exc))}"
            return None
        if version.already_live:
            self.publish_status.object = (
                f"No change: **{version.version_id}** is already live with this content."
            )
        else:
            self.publish_status.object = (
                f"Published **{version.version_id}**; a running gateway loads it at its next "
                "poll of the policy store."
            )
            self.message.value = ""
        self._refresh_sources()
        return version

    def layout(self) -> Any:
        """The page."""
        import panel as pn

        publish_box = pn.Column(
            pn.pane.Markdown("### Publish"),
            pn.Row(self.message, self.publish_button),
            pn.pane.Markdown(
                "" if self.allowed else "_Your role may not publish policies (publish_policy)._"
            ),
            self.publish_status,
            name="Publish",
        )
        editor_box = pn.Column(
            self.source,
            self.editor,
            self.problems,
            name="Editor",
            sizing_mode="stretch_width",
        )
        diff_box = pn.Column(
            pn.pane.Markdown("### Diff against the published version"), self.diff, name="Diff"
        )
        return pn.Column(
            pn.pane.Markdown("## Policies"),
            pn.Row(editor_box, pn.Column(diff_box, publish_box), sizing_mode="stretch_width"),
            self.replay.box,
            self.history.box,
            name="Policies",
            sizing_mode="stretch_width",
        )


@page("policies", "Policies", 60)
def build(ctx: DashboardContext) -> Any:
    """The policies page."""
    return PoliciesView(ctx).layout()
