"""The policy flow end to end with the REAL gateway (the session ``gateway`` fixture: Ray
Serve, real HTTP, real log lake): a request passes; in the browser a policy is typed with a
mistake, the validation error names ``candidate.yaml:LINE``, the fix validates, the replay
preview's flip matrix shows the logged request flipping from allow to deny (with the
request among the drill-down examples), the policy is published with a message; then the
same request through the ``openai`` client is denied by the running gateway.

The dashboard runs on the gateway's home (``WORKBENCH_HOME``), so both use one policy
store. The policy applies only to a workspace of its own, so no other test's traffic is
affected.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from bench._dashboard import Dashboard, create_key, login, start_dashboard
from bench._page_timing import PageState, wait_until
from tests.dashboard.browser.conftest import open_page

pytestmark = pytest.mark.slow

WORKSPACE = "dash-e2e"
WORD = "xylophonist"
PROMPT = f"Tell me about the {WORD} in the band."
VALID = f"""\
id: dash-e2e
description: Deny one code word (dashboard end-to-end test)
applies_to:
  workspaces: ["{WORKSPACE}"]
  models: ["echo"]
input:
  - name: no-code-word
    validator: regex_deny
    params: {{patterns: ["(?i){WORD}"]}}
    on_fail: deny
    message: "That word is not allowed here."
output: []
"""
INVALID = VALID.replace("    on_fail: deny", "    on_fial: deny")
BAD_LINE = INVALID.splitlines().index("    on_fial: deny") + 1
RELOAD_S = 15.0  # the gateway polls the store every 0.25 s; generous on a loaded machine


@pytest.fixture(scope="module")
def gw_dashboard(gateway: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """``workbench dashboard`` on the session gateway's home (same policy store, same lake)."""
    run_dir = tmp_path_factory.mktemp("gw-dash-run")
    dash = start_dashboard(
        gateway.home,
        gateway.home / "logs",
        run_dir=run_dir,
        timeout_s=300,
        extra_args=("--gateway-url", gateway.base_url),
    )
    try:
        yield dash
    finally:
        dash.stop()


@pytest.fixture(scope="module")
def client(gateway: Any) -> Iterator[openai.OpenAI]:
    """An app key of the test's own workspace, through the official SDK."""
    key = json.loads(gateway.cli("keys", "create", "--workspace", WORKSPACE, "--json").stdout)
    http = openai.DefaultHttpxClient(trust_env=False, timeout=30)
    c = openai.OpenAI(
        base_url=gateway.base_url + "/v1", api_key=key["key"], http_client=http, max_retries=0
    )
    try:
        yield c
    finally:
        c.close()


def _ask(client: openai.OpenAI) -> Any:
    return client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": PROMPT}]
    )


def _type_into_editor(page: Any, text: str) -> None:
    """Replace the Ace editor's text the way a person does: focus, select all, type."""
    page.locator(".ace_content").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def _input(page: Any, label: str) -> Any:
    return page.locator(".bk-input-group", has_text=label).locator("input").first


def _changed(state: PageState) -> int | None:
    found = re.search(r"([\d,]+)\s*changed outcome", state.text)
    return int(found.group(1).replace(",", "")) if found else None


def _edit_and_validate(page: Any) -> None:
    _type_into_editor(page, INVALID)
    _, state = wait_until(page, lambda s: f"candidate.yaml:{BAD_LINE}" in s.text, timeout_s=60)
    assert "on_fial" in state.text
    assert page.get_by_role("button", name="Publish", exact=True).is_disabled()
    _type_into_editor(page, VALID)
    _, state = wait_until(
        page, lambda s: "Valid: policy" in s.text and "candidate.yaml:" not in s.text
    )
    assert "dash-e2e" in state.text


def _replay_preview(page: Any, request_id: str) -> None:
    page.get_by_role("button", name="Run replay preview").click()
    _, state = wait_until(page, lambda s: _changed(s) is not None, quiet_ms=800, timeout_s=240)
    assert (_changed(state) or 0) >= 1, state.text[-600:]
    allow_row = page.locator(".tabulator-row", has_text="allow").first
    cell = allow_row.locator(".tabulator-cell[tabulator-field='deny']")
    assert int(cell.inner_text().strip()) >= 1
    cell.click()
    _, state = wait_until(page, lambda s: "allow → deny" in s.text, timeout_s=60)
    assert request_id in state.text


def _publish(page: Any) -> None:
    box = _input(page, "Publish message")
    box.fill("deny the code word (browser test)")
    box.press("Enter")
    publish = page.get_by_role("button", name="Publish", exact=True)
    publish.wait_for()
    assert publish.is_enabled()
    publish.click()
    _, state = wait_until(page, lambda s: "Published" in s.text, timeout_s=60)
    assert "dash-e2e@" in state.text


def _denied_within(client: openai.OpenAI, seconds: float) -> openai.BadRequestError:
    deadline = time.monotonic() + seconds
    while True:
        try:
            _ask(client)
        except openai.BadRequestError as exc:
            return exc
        if time.monotonic() > deadline:
            raise AssertionError(f"the gateway still answers after {seconds} s")
        time.sleep(0.5)


def test_edit_validate_replay_publish_then_the_gateway_denies(
    gateway: Any, gw_dashboard: Dashboard, client: openai.OpenAI, context: Any
) -> None:
    before = _ask(client)
    assert WORD in (before.choices[0].message.content or "")
    rid = before.id.split("-", 1)[1]
    assert gateway.wait_logged({rid}), "the passing request was not logged"

    page = context.new_page()
    login(page, gw_dashboard.url, create_key(gateway.home, "ops", "admin", name="e2e-admin"))
    open_page(page, gw_dashboard.url, "policies")
    _edit_and_validate(page)
    _replay_preview(page, rid)
    _publish(page)

    denied = _denied_within(client, RELOAD_S)
    body: Any = denied.body
    assert body["code"] == "guardrail_denied" and body["param"] == "input.no-code-word"
    shown = json.loads(gateway.cli("policy", "show", "dash-e2e", "--json").stdout)
    assert shown["message"] == "deny the code word (browser test)"
    assert "via dashboard" in (shown.get("author") or "")
