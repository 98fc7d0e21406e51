"""Dashboard login through the real server (``workbench dashboard`` in a subprocess on a
loopback port), driven with httpx and tornado's websocket client: who may log in, the
cookie, revocation, and that the key never shows up in a URL, a page or the server log."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from workbench.dashboard._auth import COOKIE_NAME, LOGIN_ERROR
from workbench.keys import KeyStore


@dataclass
class Dash:
    """A running dashboard and the keys made for it."""

    url: str
    home: Path
    log: Path
    keys: dict[str, str]
    ids: dict[str, str]

    def client(self, cookie: str | None = None) -> httpx.Client:
        cookies = {COOKIE_NAME: cookie} if cookie else None
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=60, cookies=cookies)

    def login(self, token: str) -> httpx.Response:
        with self.client() as c:
            return c.post("/login", data={"token": token, "next": "/cost"})


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    home = tmp_path_factory.mktemp("dash") / "home"
    home.mkdir()
    keys, ids = {}, {}
    with KeyStore(home / "keys.sqlite") as store:
        for name, role in [
            ("admin", "admin"), ("analyst", "analyst"), ("author", "policy-author"),
            ("app", "app"), ("revoked", "admin"), ("expired", "admin"), ("later", "analyst"),
        ]:  # fmt: skip
            record, key = store.create("acme", name, role=role)
            keys[name], ids[name] = key, record.key_id
        store.revoke(ids["revoked"])
    with sqlite3.connect(home / "keys.sqlite") as db:
        db.execute(
            "UPDATE api_keys SET expires_at = '2001-01-01T00:00:00+00:00' WHERE key_id = ?",
            (ids["expired"],),
        )
    port = free_port()
    log = home / "dashboard.log"
    env = {**os.environ, "WORKBENCH_HOME": str(home), "NO_PROXY": "*"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", "dashboard", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(url + "/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "dashboard did not start"
            time.sleep(0.3)
        yield Dash(url, home, log, keys, ids)
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0, log.read_text()


def _cookie(resp: httpx.Response) -> str:
    header = resp.headers["set-cookie"]
    match = re.match(rf"{COOKIE_NAME}=([^;]+)", header)
    assert match, header
    return match.group(1)


def test_login_form(dash: Dash) -> None:
    with dash.client() as c:
        body = c.get("/login").text
    assert re.search(r'<input type="password" id="token" name="token"', body)
    assert len(re.findall(r"<input[^>]*type=\"password\"", body)) == 1
    assert '<button type="submit">Log in</button>' in body


@pytest.mark.parametrize("who", ["admin", "analyst", "author"])
def test_dashboard_roles_log_in(dash: Dash, who: str) -> None:
    resp = dash.login(dash.keys[who])
    assert resp.status_code == 303
    assert resp.headers["location"] == "/cost"
    header = resp.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=Strict" in header
    secret = dash.keys[who].split("-", 2)[2]  # the whole secret (it may hold "-")
    assert secret not in header
    with dash.client(_cookie(resp)) as c:
        page = c.get("/cost")
    assert page.status_code == 200
    assert "LLM Workbench · Cost explorer" in page.text
    assert secret not in page.text


@pytest.mark.parametrize("who", ["app", "revoked", "expired", "wrong", "malformed", "empty"])
def test_refused_keys_get_the_form_again(dash: Dash, who: str) -> None:
    made = {"wrong": dash.keys["admin"][:-4] + "AAAA", "malformed": "not-a-key", "empty": ""}
    token = made[who] if who in made else dash.keys[who]
    resp = dash.login(token)
    assert resp.status_code == 401
    assert "set-cookie" not in resp.headers
    assert LOGIN_ERROR in resp.text and 'name="token"' in resp.text
    # one answer for every refusal: nothing says why
    assert resp.text == dash.login("wb-000000000000-" + "A" * 43).text
    for word in ("revoked", "expired", "unknown", dash.ids["admin"]):
        assert word not in resp.text


@pytest.mark.parametrize("slug", ["live", "cost", "anomalies", "guardrails"])
def test_pages_need_the_cookie(dash: Dash, slug: str) -> None:
    with dash.client() as c:
        resp = c.get(f"/{slug}")
    with dash.client(dash.ids["admin"]) as c:
        forged = c.get(f"/{slug}")
    assert resp.status_code == 302
    assert resp.headers["location"].endswith(f"/login?next=%2F{slug}")
    assert forged.status_code == 302  # an unsigned key id is not a login


def test_root_redirects_to_live(dash: Dash) -> None:
    with dash.client() as c:
        resp = c.get("/")
    assert resp.status_code == 302 and resp.headers["location"] == "/live"


def test_revocation_takes_effect_on_the_next_request(dash: Dash) -> None:
    cookie = _cookie(dash.login(dash.keys["later"]))
    with dash.client(cookie) as c:
        assert c.get("/live").status_code == 200
        with KeyStore(dash.home / "keys.sqlite") as store:
            store.revoke(dash.ids["later"])
        assert c.get("/live").status_code == 302


def test_logout_clears_the_cookie(dash: Dash) -> None:
    with dash.client() as c:
        resp = c.get("/logout")
    assert resp.status_code == 302 and resp.headers["location"] == "/login"
    assert re.search(rf"{COOKIE_NAME}=\"?\"?;.*expires=", resp.headers["set-cookie"], re.I)


async def _ws_open(dash: Dash, cookie: str | None) -> bool:
    """Open the live page's websocket with the page's session token; True if it stays."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    admin = _cookie(dash.login(dash.keys["admin"]))
    with dash.client(admin) as c:
        html = c.get("/live").text
    token = re.search(r'"token":\s*"([^"]+)"', html) or re.search(r"token=([\w.-]+)", html)
    assert token, "no session token in the page"
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}"} if cookie else {}
    ws_url = dash.url.replace("http", "ws") + "/live/ws"
    host = dash.url.split("//")[1]
    headers["Origin"] = f"http://{host}"
    request = HTTPRequest(ws_url, headers=headers)
    try:
        conn = await websocket_connect(request, subprotocols=["bokeh", token.group(1)])
    except Exception:
        return False
    message = await conn.read_message()
    conn.close()
    return message is not None


def test_websocket_needs_the_cookie(dash: Dash) -> None:
    admin = _cookie(dash.login(dash.keys["admin"]))
    assert asyncio.run(_ws_open(dash, admin)) is True
    assert asyncio.run(_ws_open(dash, None)) is False


def test_key_never_in_the_log(dash: Dash) -> None:
    for who in ("admin", "app", "revoked"):
        dash.login(dash.keys[who])
    text = dash.log.read_text()
    assert "POST /login" in text or "Dashboard:" in text
    for key in dash.keys.values():
        assert key.split("-", 2)[2] not in text  # the whole secret


def test_cookie_secret_file_is_private(dash: Dash) -> None:
    path = dash.home / "dashboard" / "cookie_secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(path.read_text().strip()) >= 32


def test_a_session_is_capped_by_the_keys_member(wb_home: Path) -> None:
    """A logged-in session re-checks its key as verification does: a disabled member's
    key loses the session, a downgraded membership caps the session's role."""
    from workbench.dashboard._auth import KeyAuth
    from workbench.governance import (
        create_key,
        create_member,
        create_workspace,
        disable_member,
        enable_member,
        set_membership,
    )
    from workbench.governance.permissions import cli_principal

    me = cli_principal()
    with KeyStore(recheck_interval=0.0) as store:
        create_workspace(me, "team-a", store=store)
        mid = create_member(me, "bob@example.com", "Bob", store=store).member_id
        set_membership(me, mid, "team-a", "policy-author", store=store)
        record, _ = create_key(me, "team-a", role="policy-author", member_id=mid, store=store)
        auth = KeyAuth(store)
        first = auth.principal(record.key_id)
        assert first is not None and first.role == "policy-author"
        set_membership(me, mid, "team-a", "analyst", store=store)
        capped = auth.principal(record.key_id)
        assert capped is not None and capped.role == "analyst"
        disable_member(me, mid, store=store)
        assert auth.principal(record.key_id) is None
        enable_member(me, mid, store=store)
        assert auth.principal(record.key_id) is not None
