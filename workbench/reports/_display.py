"""Static output for report notebooks: HTML tables (escaped, no JavaScript) and
matplotlib bar charts (rendered as PNG images, embedded by nbconvert)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

_STYLE = (
    "<style>.wb-table{border-collapse:collapse;margin:.4em 0 1em;font-size:13px}"
    "table.wb-table th,table.wb-table td{border:1px solid #ccd;padding:3px 8px;"
    "text-align:left !important;vertical-align:top}.wb-table th{background:#eef}"
    ".wb-note{color:#555;font-size:13px}"
    "</style>"
)


class Html:
    """A piece of HTML that Jupyter displays as ``text/html``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return html.escape(str(value))


def _rows(data: Any) -> list[dict[str, Any]]:
    if hasattr(data, "to_dicts"):
        return list(data.to_dicts())
    if isinstance(data, Mapping):
        return [{"item": k, "value": v} for k, v in data.items()]
    return [dict(r) for r in data]


def table(
    data: Any,
    columns: Sequence[str] | None = None,
    *,
    empty: str = "None in this period.",
    caption: str | None = None,
) -> Html:
    """An HTML table of a polars frame, a list of dicts, or a mapping (item/value rows)."""
    rows = _rows(data)
    if not rows:
        return Html(f"{_STYLE}<p class='wb-note'>{html.escape(empty)}</p>")
    cols = list(columns) if columns is not None else list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return Html(f"{_STYLE}<table class='wb-table'>{cap}<thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")  # fmt: skip


def note(text: str) -> Html:
    """A short paragraph of plain text (escaped)."""
    return Html(f"{_STYLE}<p class='wb-note'>{html.escape(text)}</p>")


def bar_chart(
    labels: Sequence[str], values: Sequence[float], title: str, xlabel: str = "requests"
) -> Any:
    """A horizontal bar chart as a PNG image (``IPython.display.Image``; static in the
    rendered report, whatever matplotlib backend the kernel has); None when there is
    nothing to draw."""
    if not labels:
        return None
    import io

    from IPython.display import Image
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 0.35 * len(labels) + 1.0), dpi=90)
    ax = fig.add_subplot()
    ax.barh(list(labels)[::-1], list(values)[::-1], color="#4c72b0")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return Image(data=buf.getvalue(), format="png")
