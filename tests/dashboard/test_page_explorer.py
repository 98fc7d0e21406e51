"""The log explorer page in-process (no browser), on a hand-made lake of known rows: paging,
totals, each filter, scoping and the request detail (verdicts, attempts, bodies)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.logs.conftest import RECORDS, write_log
from workbench.dashboard._context import DashboardContext, Principal
from workbench.dashboard._explorer_data import ExplorerFilters, ScopeError, fetch_page
from workbench.dashboard.pages import _REGISTRY
from workbench.dashboard.pages.explorer import ExplorerView

SINCE, UNTIL = "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"


def _rows() -> list[dict[str, Any]]:
    out = []
    for i, rec in enumerate(RECORDS):
        rec = dict(rec)
        verdicts = json.loads(rec["guardrail_verdicts"])
        if i % 7 == 0:
            verdicts[-1]["stage"] = "input"
            verdicts[-1]["score"] = 0.91
            verdicts[-1]["spans"] = [{"start": 3, "end": 9, "reason": "jb", "message": None}]
        rec["guardrail_verdicts"] = json.dumps(verdicts)
        rec["routing_attempts"] = json.dumps(
            [{"target": "down", "status": "timeout", "ms": 12.5}, {"target": "small", "ms": 40}]
        )
        rec["bodies_stored"] = True
        out.append(rec)
    return out


ROWS = _rows()


@pytest.fixture
def lake(wb_home: Path) -> Path:
    root = wb_home / "logs"
    write_log(root, ROWS)
    return root


def _ctx(
    wb_home: Path, lake: Path, role: str = "admin", workspace: str = "acme",
    grants: tuple[str, ...] = (),
) -> Any:  # fmt: skip
    return DashboardContext(Principal("key-x", workspace, role, "tester", grants), lake, wb_home)


def _view(ctx: DashboardContext) -> ExplorerView:
    view = ExplorerView(ctx)
    view.since.value, view.until.value = SINCE, UNTIL
    return view


def _ids(view: ExplorerView) -> list[str]:
    return list(view.table.value["request_id"])


def _newest(match: Any) -> list[str]:
    rows = sorted((r for r in ROWS if match(r)), key=lambda r: r["received_at"], reverse=True)
    return [r["request_id"] for r in rows]


def test_registered_as_the_explorer_page() -> None:
    spec = _REGISTRY["explorer"]
    assert (spec.title, spec.order) == ("Log explorer", 50)


def test_paging_and_total(wb_home: Path, lake: Path) -> None:
    view = _view(_ctx(wb_home, lake))
    want = _newest(lambda r: True)
    assert view.page is not None and view.page.total == len(ROWS) == 830
    assert _ids(view) == want[:50] and len(view.table.value) == 50
    assert "830" in view.total.object and "of 17" in view.total.object
    assert view.prev_button.disabled and not view.next_button.disabled
    view.next_button.clicks += 1
    assert view.page_number == 2 and _ids(view) == want[50:100]
    view.page_input.value = 17
    assert _ids(view) == want[800:] and view.next_button.disabled
    view.order.value = "asc"  # a filter change goes back to page 1
    assert view.page_number == 1 and _ids(view) == want[::-1][:50]


@pytest.mark.parametrize(
    ("widget", "value", "match"),
    [
        ("workspace", "globex", lambda r: r["workspace"] == "globex"),
        ("model", "large", lambda r: r["model_served"] == "large"),
        ("status", "rejected", lambda r: r["status"] == "rejected"),
        ("check", "jailbreak", lambda r: "jailbreak" in r["guardrail_verdicts"]),
        ("text", "REFUND", lambda r: "refund" in r["response_body"]),
        ("until", "2024-05-01T11:00:00Z", lambda r: r["received_at"].hour < 11),
    ],
)
def test_each_filter_narrows(
    wb_home: Path, lake: Path, widget: str, value: str, match: Any
) -> None:
    view = _view(_ctx(wb_home, lake))
    view.page_input.value = 2
    getattr(view, widget).value = value
    want = _newest(match)
    assert 0 < len(want) < len(ROWS)
    assert view.page_number == 1 and view.page is not None
    assert view.page.total == len(want) and _ids(view) == want[:50]


def test_since_filter(wb_home: Path, lake: Path) -> None:
    view = _view(_ctx(wb_home, lake))
    view.since.value = "2024-05-01T12:00:00Z"
    want = _newest(lambda r: r["received_at"].hour >= 12)
    assert view.page is not None and view.page.total == len(want) and _ids(view) == want[:50]


def test_analyst_is_held_to_its_workspace(wb_home: Path, lake: Path) -> None:
    ctx = _ctx(wb_home, lake, role="analyst", workspace="acme")
    view = _view(ctx)
    assert view.workspace.disabled and view.workspace.options == ["acme"]
    want = _newest(lambda r: r["workspace"] == "acme")
    assert view.page is not None and view.page.total == len(want) and _ids(view) == want[:50]
    with pytest.raises(ScopeError):
        fetch_page(ctx, ExplorerFilters(since=SINCE, workspace="globex"))
    other = next(r["request_id"] for r in ROWS if r["workspace"] == "globex")
    view.open_request(other)
    assert view.detail is None and "No request" in view.detail_panel.objects[0].object


def test_detail_shows_verdicts_attempts_and_bodies(wb_home: Path, lake: Path) -> None:
    view = _view(_ctx(wb_home, lake, role="policy-author", grants=("logs:bodies",)))
    view.status.value = "rejected"
    row = next(i for i, rid in enumerate(_ids(view)) if int(rid[4:]) % 7 == 0)
    rid = _ids(view)[row]

    class Click:
        column = "request_id"

    click = Click()
    click.row = row  # type: ignore[attr-defined]
    view._on_click(click)
    detail = view.detail
    assert detail is not None and detail.request_id == rid
    checks = {v["check"]: v for v in detail.verdicts}
    assert checks["jailbreak"]["action"] == "flag" and checks["jailbreak"]["score"] == 0.91
    assert checks["jailbreak"]["spans"] == "3-9 jb" and checks["jailbreak"]["stage"] == "input"
    assert [a["target"] for a in detail.attempts] == ["down", "small"]
    assert detail.identity["workspace"] == ROWS[int(rid[4:])]["workspace"]
    assert detail.timings["latency_ms"] == ROWS[int(rid[4:])]["latency_ms"]
    assert detail.bodies is not None
    assert detail.bodies["response_body"] == ROWS[int(rid[4:])]["response_body"]
    shown = repr(view.detail_panel)
    assert "Guardrail verdicts" in shown and "Routing attempts" in shown


def test_detail_hides_bodies_without_read_bodies(wb_home: Path, lake: Path) -> None:
    rec = next(r for r in ROWS if r["workspace"] == "acme")
    view = ExplorerView(_ctx(wb_home, lake, role="analyst"), request_id=rec["request_id"])
    detail = view.detail
    assert detail is not None and detail.bodies is None
    assert detail.bodies_note is not None and "read_bodies" in detail.bodies_note
    assert len(detail.verdicts) == len(json.loads(rec["guardrail_verdicts"]))
    body_text = json.loads(rec["request_body"])["messages"][0]["content"]
    assert body_text not in repr(view.detail_panel.objects[0])


def test_url_time_hint_narrows_the_lookup(wb_home: Path, lake: Path) -> None:
    rec = ROWS[400]
    ctx = _ctx(wb_home, lake)
    at = rec["received_at"].isoformat()
    found = ExplorerView(ctx, request_id=rec["request_id"], at=at).detail
    assert found is not None and found.request_id == rec["request_id"]
    elsewhere = (rec["received_at"] - timedelta(hours=2)).isoformat()  # not where it is
    assert ExplorerView(ctx, request_id=rec["request_id"], at=elsewhere).detail is None
