"""Dashboard login: a key that may read logs, exchanged for a signed cookie.

The contract (the browser tests rely on it):

- ``GET /login`` serves a form with one password input ``name="token"`` and a submit
  button "Log in"; ``POST /login`` checks the key with the key store (revoked and expired
  keys are refused, and so is any key without ``logs:read`` in the governance role table
  (:mod:`workbench.governance.permissions`), e.g. plain ``app`` keys). Success sets the
  cookie :data:`COOKIE_NAME` and redirects (303) to ``next`` (a local page path) or
  ``/live``; failure answers 401 with the form and one generic error line.
- What a logged-in key may do (its :class:`Principal`) follows the same role table and
  per-key grants as the gateway and the admin API: bodies only with ``logs:bodies``
  (admins, or a key granted it), publishing with ``policies:write``.
- The cookie is Tornado-signed with the secret in ``$WORKBENCH_HOME/dashboard/cookie_secret``
  (generated once, mode 0600), HttpOnly, ``SameSite=Strict``, ``Secure`` when served over
  https. It holds the key id only, never the secret. Its name is Panel's (``user``), so
  ``pn.state.user`` is the key id inside a session.
- Every page request and websocket asks :meth:`KeyAuth.principal` again, so a revoked or
  expired key loses access at its next request. ``GET /logout`` clears the cookie.
"""

from __future__ import annotations

import html
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler

from workbench.dashboard._context import Principal
from workbench.governance.permissions import (
    READ_LOGS,
    principal_for_key,
)

if TYPE_CHECKING:
    from workbench.keys import KeyRecord, KeyStore

COOKIE_NAME = "user"
LOGIN_URL = "/login"
LOGOUT_URL = "/logout"
DEFAULT_NEXT = "/live"
LOGIN_ERROR = "Log-in failed: the key is not valid for the dashboard."

_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Workbench dashboard: log in</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f4f6f8; display: flex;
  justify-content: center; margin-top: 12vh; }}
form {{ background: #fff; padding: 2em 2.5em; border-radius: 8px;
  box-shadow: 0 1px 4px rgba(0,0,0,.15); width: 24em; }}
input[type=password] {{ width: 100%; padding: .5em; margin: .6em 0 1em; box-sizing: border-box; }}
button {{ padding: .5em 1.5em; }}
.error {{ color: #b00020; }}
</style></head><body>
<form method="post" action="{action}" autocomplete="off">
<h2>Workbench dashboard</h2>
<p>Use a key that may read logs (role admin, policy-author or analyst).</p>
{error}<label for="token">Key</label>
<input type="password" id="token" name="token" required autofocus>
<input type="hidden" name="next" value="{next}">
<button type="submit">Log in</button>
</form></body></html>
"""


def cookie_secret(home: Path) -> str:
    """The cookie-signing secret in ``home/dashboard/cookie_secret`` (made once, mode 0600)."""
    path = home / "dashboard" / "cookie_secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _allowed(record: KeyRecord) -> bool:
    return record.status() == "active" and principal_for_key(record).can(READ_LOGS)


def _principal(record: KeyRecord) -> Principal:
    return Principal(record.key_id, record.workspace, record.role, record.name, record.grants)


class KeyAuth:
    """Who may log in: an active key of a dashboard role in ``store``."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def principal(self, key_id: str | None) -> Principal | None:
        """The principal of a logged-in key id, or None when it no longer may log in."""
        if not key_id:
            return None
        record = self.store.db.effective(key_id)  # capped by the key's member
        if record is None or not _allowed(record):
            return None
        return _principal(record)

    async def login(self, token: str) -> Principal | None:
        """The principal of a presented key (verified off the event loop), or None."""
        from workbench.errors import WorkbenchError

        try:
            record = await self.store.averify(token.strip() or None)
        except WorkbenchError:
            return None
        return _principal(record) if _allowed(record) else None


def safe_next(target: str | None) -> str:
    """``target`` if it is a local path on this server, else :data:`DEFAULT_NEXT`."""
    if not target:
        return DEFAULT_NEXT
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return DEFAULT_NEXT
    if target.rstrip("/") in ("", LOGIN_URL, LOGOUT_URL):
        return DEFAULT_NEXT
    return target


def login_form(next_url: str, error: str | None = None) -> str:
    """The login page (``error``: one line shown above the field)."""
    err = f'<p class="error" role="alert">{html.escape(error)}</p>\n' if error else ""
    return _FORM.format(action=LOGIN_URL, error=err, next=html.escape(safe_next(next_url)))


def _handlers(auth: KeyAuth) -> tuple[type[RequestHandler], type[RequestHandler]]:
    """The login and logout handler classes bound to ``auth``."""

    class LoginHandler(RequestHandler):
        """``GET``: the form; ``POST``: check the key, set the cookie."""

        def get(self) -> None:
            self.set_header("Cache-Control", "no-store")
            self.write(login_form(self.get_argument("next", DEFAULT_NEXT)))

        async def post(self) -> None:
            self.set_header("Cache-Control", "no-store")
            target = safe_next(self.get_body_argument("next", DEFAULT_NEXT))
            principal = await auth.login(self.get_body_argument("token", ""))
            if principal is None:
                self.set_status(401)
                self.write(login_form(target, LOGIN_ERROR))
                return
            self.set_signed_cookie(
                COOKIE_NAME,
                principal.key_id,
                expires_days=None,
                httponly=True,
                samesite="Strict",
                secure=self.request.protocol == "https",
            )
            self.redirect(target, status=303)

    class LogoutHandler(RequestHandler):
        """Clear the cookie and go back to the form."""

        def get(self) -> None:
            self.clear_cookie(COOKIE_NAME)
            self.redirect(LOGIN_URL)

    return LoginHandler, LogoutHandler


class DashboardAuthProvider(AuthProvider):
    """Bokeh's auth hooks: the cookie's key id, re-checked against the key store."""

    def __init__(self, auth: KeyAuth) -> None:
        self.auth = auth
        self._login, self._logout = _handlers(auth)
        super().__init__()

    @property
    def get_user(self) -> Any:
        """The key id of a valid cookie whose key may still log in, else None."""

        def user(handler: RequestHandler) -> str | None:
            raw = handler.get_signed_cookie(COOKIE_NAME)
            key_id = raw.decode() if raw else None
            return key_id if self.auth.principal(key_id) is not None else None

        return user

    @property
    def login_url(self) -> str:
        """Where unauthenticated requests are sent."""
        return LOGIN_URL

    @property
    def login_handler(self) -> type[RequestHandler]:
        """The form and its POST."""
        return self._login

    @property
    def logout_url(self) -> str:
        """Where the logout link points."""
        return LOGOUT_URL

    @property
    def logout_handler(self) -> type[RequestHandler]:
        """Clears the cookie."""
        return self._logout
