"""Self-contained HTML for evaluation results and comparisons (jinja2, inline SVG)."""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING, Any, TypeGuard

from workbench.analytics.evaluation._result import records
from workbench.analytics.evaluation._tables import POLICY
from workbench.analytics.evaluation._templates import COMPARISON, CSS, RESULT

if TYPE_CHECKING:
    from workbench.analytics.evaluation._compare import Comparison
    from workbench.analytics.evaluation._result import EvalResult


def fmt(v: Any, digits: int = 3, signed: bool = False) -> str:
    """A number for a table cell: ``-`` for missing/NaN, fixed decimals for floats."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    return str(v)


@cache
def _env() -> Any:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.globals.update(fmt=fmt, css=CSS, policy_label=POLICY)
    return env


def _el(tag: str, body: str = "", **attrs: Any) -> str:
    """One SVG element (attribute names: ``_`` becomes ``-``)."""
    a = " ".join(f'{k.rstrip("_").replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f"<{tag} {a}>{body}</{tag}>" if body else f"<{tag} {a}/>"


def _finite(v: Any) -> TypeGuard[float]:
    return isinstance(v, float) and math.isfinite(v)


def ci_chart(rows: list[dict[str, Any]], metrics: tuple[str, ...] = ("recall", "fpr", "f1")) -> str:
    """Inline SVG: one group of bars per dataset (a bar per metric), 95% CI whiskers."""
    from markupsafe import Markup, escape

    colours = {"precision": "#5b8def", "recall": "#1a7f37", "f1": "#7c3aed", "fpr": "#b42318"}
    bar, gap, left, width = 12, 10, 190, 420
    height = len(rows) * (len(metrics) * bar + gap) + 30
    svg = 'xmlns="http://www.w3.org/2000/svg"'
    out = [f'<svg {svg} width="{left + width + 80}" height="{height}">']
    for k in (0, 0.25, 0.5, 0.75, 1.0):
        x = left + k * width
        out.append(_el("line", x1=x, y1=0, x2=x, y2=height - 20, stroke="#e5e8ec"))
        out.append(_el("text", f"{k:g}", x=x, y=height - 6, font_size=10, text_anchor="middle"))
    y = 0.0
    for r in rows:
        mid = y + bar * len(metrics) / 2 + 4
        label = str(escape(r["dataset"]))
        out.append(_el("text", label, x=left - 8, y=mid, font_size=11, text_anchor="end"))
        for m in metrics:
            v, lo, hi = r.get(m), r.get(f"{m}_low"), r.get(f"{m}_high")
            if _finite(v):
                tip = _el("title", f"{m} {v:.3f}")
                w = f"{v * width:.1f}"
                out.append(
                    _el("rect", tip, x=left, y=y + 1, width=w, height=bar - 2, fill=colours[m])
                )
                if _finite(lo) and _finite(hi):
                    x1, x2 = f"{left + lo * width:.1f}", f"{left + hi * width:.1f}"
                    cy = y + bar / 2
                    out.append(_el("line", x1=x1, y1=cy, x2=x2, y2=cy, stroke="#1d2733"))
                text = f"{m} {v:.2f}"
                out.append(_el("text", text, x=left + width + 4, y=y + bar - 2, font_size=10))
            y += bar
        y += gap
    out.append("</svg>")
    return Markup("".join(out))


def render_result(r: EvalResult, *, standalone: bool) -> str:
    """The report of one evaluation (a full page, or a fragment for ``_repr_html_``)."""
    import polars as pl

    m = records(r.metrics)
    policy_rows = [x for x in m if x["check"] == POLICY]
    sub = r.by_subgroup
    sub_rows = records(sub.filter(pl.col("check") == POLICY)) if sub.height else []
    examples = {k: r.examples(k, n=8).to_dicts() for k in ("fn", "fp")}
    return str(  # the templates start with a newline
        _env()
        .from_string(RESULT.lstrip())
        .render(
            r=r,
            standalone=standalone,
            chart=ci_chart(policy_rows),
            policy_rows=policy_rows,
            check_rows=[x for x in m if x["check"] != POLICY],
            sub_rows=sub_rows,
            lat_rows=records(r.latency),
            examples=examples,
        )
    )


def render_comparison(c: Comparison, *, standalone: bool, examples: int = 50) -> str:
    """The side-by-side report of two policies on the same items."""
    deltas = records(c.deltas)
    for x in deltas:
        better = (x["delta"] or 0) < 0 if x["metric"] == "fpr" else (x["delta"] or 0) > 0
        sig = x["low"] is not None and x["high"] is not None and (x["low"] > 0 or x["high"] < 0)
        x["tone"] = ("pos" if better else "neg") if sig else ""
    dis = c.disagreements
    return str(
        _env()
        .from_string(COMPARISON.lstrip())
        .render(
            c=c,
            standalone=standalone,
            delta_rows=deltas,
            dis_rows=dis.head(examples).to_dicts(),
            n_disagree=dis.height,
        )
    )


__all__ = ["ci_chart", "fmt", "render_comparison", "render_result"]
