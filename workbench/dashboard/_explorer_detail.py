"""The explorer's request-detail panel: identity, timings, cost, verdicts, routing attempts
and (with ``read_bodies``) the stored, masked bodies."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.dashboard._explorer_data import RequestDetail


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return str(value)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _kv_table(title: str, values: dict[str, Any]) -> str:
    lines = [f"**{title}**", "", "| field | value |", "|---|---|"]
    lines += [f"| {k} | {_escape(_fmt(v))} |" for k, v in values.items()]
    return "\n".join(lines)


def _pretty(text: str | None) -> str:
    if not text:
        return "(none)"
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _records_table(rows: list[dict[str, Any]], name: str) -> Any:
    import pandas as pd
    import panel as pn

    if not rows:
        return pn.pane.Markdown(f"*No {name.lower()}.*", name=name)
    frame = pd.DataFrame([{k: _cell(v) for k, v in r.items()} for r in rows])
    return pn.widgets.Tabulator(
        frame, label=name, disabled=True, show_index=False, sizing_mode="stretch_width"
    )


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def detail_view(detail: RequestDetail) -> Any:
    """A Panel column showing ``detail``."""
    import panel as pn

    head = pn.pane.Markdown(f"### Request `{detail.request_id}`", name="Request detail")
    facts = pn.Row(
        pn.pane.Markdown(_kv_table("Key and workspace", detail.identity)),
        pn.pane.Markdown(_kv_table("Timings", detail.timings)),
        pn.pane.Markdown(_kv_table("Tokens and cost", {**detail.cost, **detail.extra})),
    )
    parts: list[Any] = [
        head,
        facts,
        pn.pane.Markdown("**Guardrail verdicts**"),
        _records_table(detail.verdicts, "Guardrail verdicts"),
        pn.pane.Markdown("**Routing attempts**"),
        _records_table(detail.attempts, "Routing attempts"),
        pn.pane.Markdown("**Bodies** (stored masked)"),
    ]
    if detail.bodies_note:
        parts.append(pn.pane.Alert(detail.bodies_note, alert_type="info", name="Bodies note"))
    if detail.bodies is not None:
        for column, text in detail.bodies.items():
            if text:
                parts.append(
                    pn.pane.Markdown(f"`{column}`\n\n```json\n{_pretty(text)}\n```", name=column)
                )
    return pn.Column(*parts, name="Request detail", sizing_mode="stretch_width")
