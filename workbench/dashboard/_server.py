"""The dashboard's Bokeh/Panel server: one app per page at ``/<slug>``, ``/`` redirecting to
``/live``, the login hooks of :mod:`workbench.dashboard._auth` on every page and websocket,
Panel's JS/CSS served by this server (no CDN), websocket origins limited to the bind
address.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.dashboard._auth import (
    DEFAULT_NEXT,
    LOGIN_URL,
    DashboardAuthProvider,
    KeyAuth,
    cookie_secret,
)

if TYPE_CHECKING:
    from bokeh.server.server import Server

    from workbench.dashboard.pages import PageSpec

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
#: How often an open session checks that its key may still log in (ms).
RECHECK_MS = 10_000


@dataclass(frozen=True)
class DashboardSettings:
    """Where the dashboard listens and what it reads."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    log_dir: Path | None = None
    home: Path | None = None
    gateway_url: str | None = None

    def resolved(self) -> DashboardSettings:
        """These settings with ``home`` and ``log_dir`` filled in from the environment."""
        from workbench.home import home as home_dir
        from workbench.home import logs_dir

        home = Path(self.home) if self.home is not None else home_dir()
        log_dir = Path(self.log_dir) if self.log_dir is not None else logs_dir()
        return DashboardSettings(self.host, self.port, log_dir, home, self.gateway_url)

    @property
    def url(self) -> str:
        """The address people open."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{DEFAULT_NEXT}"


def load_pages() -> list[PageSpec]:
    """Every page module that exists, imported (one that exists but fails raises)."""
    from workbench.dashboard import pages as registry

    present = [
        name
        for name in registry.PAGE_MODULES
        if importlib.util.find_spec(f"{registry.__name__}.{name}") is not None
    ]
    if len(present) == len(registry.PAGE_MODULES):
        return registry.pages()
    for name in present:
        importlib.import_module(f"{registry.__name__}.{name}")
    return sorted(registry._REGISTRY.values(), key=lambda spec: spec.order)


def _page_app(
    spec: PageSpec, specs: list[PageSpec], settings: DashboardSettings, auth: KeyAuth
) -> Callable[[], Any]:
    """The per-session function Panel calls for ``/<slug>``."""

    def app() -> Any:
        import panel as pn

        from workbench.dashboard._app import shell
        from workbench.dashboard._context import DashboardContext

        principal = auth.principal(pn.state.user)
        if principal is None:  # the auth hook already refused; belt and braces
            return pn.pane.HTML('<a href="/login">Log in</a>')
        assert settings.log_dir is not None and settings.home is not None
        ctx = DashboardContext(principal, settings.log_dir, settings.home, settings.gateway_url)
        _end_on_revocation(auth, principal.key_id)
        return shell(ctx, spec, specs)

    return app


def _end_on_revocation(auth: KeyAuth, key_id: str) -> None:
    """Every :data:`RECHECK_MS`, check the session's key again; once it is revoked or
    expired, send the browser back to the login page (an open websocket is one request)."""
    import panel as pn

    if pn.state.curdoc is None or pn.state.curdoc.session_context is None:
        return

    def check() -> None:
        if auth.principal(key_id) is None and pn.state.location is not None:
            pn.state.location.reload = True
            pn.state.location.pathname = LOGIN_URL

    pn.state.add_periodic_callback(check, period=RECHECK_MS)


def build_server(settings: DashboardSettings) -> Server:
    """A started (not yet looping) server for ``settings`` (resolved first)."""
    import panel as pn
    from panel.io.server import get_server
    from tornado.web import RedirectHandler

    from workbench.keys import KeyStore

    settings = settings.resolved()
    assert settings.home is not None
    pn.extension("tabulator", notifications=True)
    auth = KeyAuth(KeyStore(settings.home / "keys.sqlite"))
    specs = load_pages()
    apps: dict[str, Any] = {spec.slug: _page_app(spec, specs, settings, auth) for spec in specs}
    titles = {spec.slug: spec.title for spec in specs}
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    server = get_server(
        apps,
        port=settings.port,
        address=settings.host,
        websocket_origin=[f"{host}:{settings.port}"],
        title=titles,
        show=False,
        start=False,
        cookie_secret=cookie_secret(settings.home),
        auth_provider=DashboardAuthProvider(auth),
        extra_patterns=[(r"/", RedirectHandler, {"url": DEFAULT_NEXT, "permanent": False})],
        check_unused_sessions=5_000,
        unused_session_lifetime=15_000,
    )
    server.start()
    threading.Thread(target=_warm, args=(str(settings.log_dir),), daemon=True).start()
    return server


def _warm(log_dir: str) -> None:
    """In the background: import the plotting stack (hvplot and HoloViews' Bokeh backend
    take ~10 s on a small CPU, which the first chart would otherwise wait for), then
    compute the slow whole-lake analyses (forecast, suggestions) once, so the first visit
    of the cost page finds them cached."""
    from workbench.dashboard import _data

    try:
        import holoviews.plotting.bokeh  # noqa: F401
        import hvplot.pandas  # noqa: F401
    except Exception:  # a page shows the error when it imports them itself
        logging.getLogger(__name__).exception("importing the plotting stack failed")
    try:
        _data.forecast(log_dir)
        _data.suggestions(log_dir, "30d")
    except Exception:  # a page shows the error when it asks again
        logging.getLogger(__name__).exception("warming the dashboard caches failed")


def serve(settings: DashboardSettings, on_ready: Callable[[str], None] | None = None) -> None:
    """Run the dashboard until SIGTERM or Ctrl-C."""
    server = build_server(settings)
    loop = server.io_loop

    def stop(*_: object) -> None:
        loop.add_callback_from_signal(loop.stop)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if on_ready is not None:
        on_ready(settings.url)
    try:
        loop.start()
    finally:
        server.stop()
