"""The page template: title, a sidebar linking every page, who is logged in, a logout link,
and the one loading-indicator convention every page uses.

Loading convention: a page's slow parts are functions handed to :func:`deferred`, which
Panel evaluates after the page has been sent (``defer_load``) and re-evaluates when a
widget they are bound to changes; while one runs, its area shows Panel's loading spinner
(``loading_indicator``). Callbacks that fetch data on their own set ``.loading`` on the
component they update, never on the whole page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.dashboard._auth import LOGOUT_URL

if TYPE_CHECKING:
    from workbench.dashboard._context import DashboardContext
    from workbench.dashboard.pages import PageSpec

TITLE = "LLM Workbench"
ACCENT = "#1f5f8b"


def deferred(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn`` (plain or ``pn.bind``-bound) as a pane loaded after the page is shown, with
    the loading spinner while it runs (the dashboard's one loading convention)."""
    import panel as pn

    return pn.panel(fn, defer_load=True, loading_indicator=True, **kwargs)


def nav_html(specs: Sequence[PageSpec], current: str) -> str:
    """The sidebar's links, the current page marked."""
    items = []
    for spec in specs:
        mark = ' aria-current="page" style="font-weight:bold"' if spec.slug == current else ""
        items.append(f'<li><a href="/{spec.slug}"{mark}>{spec.title}</a></li>')
    return (
        '<ul class="wb-nav" style="list-style:none;padding-left:0;line-height:2">'
        + "".join(items)
        + "</ul>"
    )


def who_html(ctx: DashboardContext) -> str:
    """The logged-in principal (key id, role, workspace scope) and the logout link."""
    import html

    p = ctx.principal
    scope = "all workspaces" if ctx.workspaces is None else f"workspace {p.workspace}"
    label = f"{p.name} " if p.name else ""
    return (
        f'<div class="wb-who">{html.escape(label)}<code>{p.key_id}</code> · {p.role} · '
        f'{html.escape(scope)} · <a href="{LOGOUT_URL}">Log out</a></div>'
    )


def shell(ctx: DashboardContext, spec: PageSpec, specs: Sequence[PageSpec]) -> Any:
    """The template around one page's content."""
    import panel as pn

    pn.config.loading_spinner = "dots"
    pn.config.loading_color = ACCENT
    template = pn.template.BootstrapTemplate(
        title=f"{TITLE} · {spec.title}", header_background=ACCENT, sidebar_width=220
    )
    sidebar, main = template.sidebar, template.main
    assert sidebar is not None and main is not None
    sidebar.append(pn.pane.HTML(nav_html(specs, spec.slug), sizing_mode="stretch_width"))
    sidebar.append(pn.pane.HTML(who_html(ctx), sizing_mode="stretch_width"))
    main.append(spec.build(ctx))
    return template


def kpi_card(name: str, value: float | None, fmt: str = "{value:,.0f}") -> str:
    """One KPI card's HTML (an ``—`` when there is no value)."""
    import html

    text = "—" if value is None else fmt.format(value=value)
    return (
        '<div class="wb-kpi" style="padding:.4em .8em;border:1px solid #ddd;border-radius:6px;'
        f'min-width:9em"><div style="color:#666;font-size:.85em">{html.escape(name)}</div>'
        f'<div style="font-size:1.5em;font-weight:600">{html.escape(text)}</div></div>'
    )


def kpi(name: str, value: float | None, fmt: str = "{value:,.0f}") -> Any:
    """One KPI card as a pane."""
    import panel as pn

    return pn.pane.HTML(kpi_card(name, value, fmt), margin=(4, 6))


def table(frame: Any, **kwargs: Any) -> Any:
    """A read-only Tabulator of a (small) polars frame."""
    import panel as pn

    data = frame.to_pandas() if hasattr(frame, "to_pandas") else frame
    opts: dict[str, Any] = {"disabled": True, "show_index": False, "sizing_mode": "stretch_width"}
    opts.update(kwargs)
    return pn.widgets.Tabulator(data, **opts)


def line(frame: Any, x: str, y: list[str], title: str, **kwargs: Any) -> Any:
    """A HoloViews line chart of polars ``frame`` columns ``y`` over ``x``."""
    import hvplot.pandas  # noqa: F401  (registers .hvplot)

    data = frame.select([x, *y]).to_pandas()
    opts: dict[str, Any] = {"height": 260, "responsive": True, "shared_axes": False}
    opts.update(kwargs)
    return data.hvplot.line(x=x, y=y if len(y) > 1 else y[0], title=title, **opts)


def bars(frame: Any, x: str, y: list[str], title: str, **kwargs: Any) -> Any:
    """A HoloViews grouped bar chart of polars ``frame`` columns ``y`` per ``x``."""
    import hvplot.pandas  # noqa: F401

    data = frame.select([x, *y]).to_pandas()
    data[x] = data[x].astype(str)
    opts: dict[str, Any] = {"height": 280, "responsive": True, "rot": 30, "shared_axes": False}
    opts.update(kwargs)
    return data.hvplot.bar(x=x, y=y if len(y) > 1 else y[0], title=title, **opts)
