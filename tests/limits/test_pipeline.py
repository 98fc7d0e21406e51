"""The limits stage in the real pipeline and FastAPI app (in process): headers, the 429s,
workspace isolation, streams charged in their finally, errors released."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx

from tests.limits.rig import COST, PRICES, chat_body, config, incoming
from workbench.config.gateway import parse_config
from workbench.gateway.app import create_app
from workbench.keys import KeyStore
from workbench.limits import Limiter, LimitsStore, LocalAuthority, Rule
from workbench.pipeline import build_pipeline


def gateway(store: LimitsStore, cfg=None, auth=None):  # type: ignore[no-untyped-def]
    records: list[dict] = []
    lim = Limiter(LocalAuthority(store=store), store=store, deny_cache_s=0.0)
    gp = build_pipeline(cfg or config(), submit_record=records.append, prices=PRICES,
                        limiter=lim, auth=auth, observe_metrics=False)  # fmt: skip
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(gp)),
                               base_url="http://gw")  # fmt: skip
    return gp, lim, client, records


async def test_headers_and_openai_shaped_429(wb_home: Path) -> None:
    store = LimitsStore()
    store.put(Rule("rpm", "requests", "workspace", "default", 2))
    store.put(Rule("tpm", "tokens", "workspace", "default", 100_000))
    _, lim, client, records = gateway(store)
    async with client:
        first = await client.post("/v1/chat/completions", content=chat_body())
        second = await client.post("/v1/chat/completions", content=chat_body())
        third = await client.post("/v1/chat/completions", content=chat_body())
    await lim.close()
    assert first.status_code == second.status_code == 200
    h = first.headers
    assert h["x-ratelimit-limit-requests"] == "2"
    assert int(h["x-ratelimit-remaining-requests"]) <= 1
    assert h["x-ratelimit-reset-requests"].endswith("s")
    assert h["x-ratelimit-limit-tokens"] == "100000"
    assert third.status_code == 429
    err = third.json()["error"]
    assert (err["type"], err["code"], err["param"]) == ("rate_limit_error", "rate_limit_exceeded",
                                                        "rpm")  # fmt: skip
    assert "rpm" in err["message"]
    assert 1 <= int(third.headers["retry-after"]) <= 60
    assert third.headers["x-ratelimit-limit-requests"] == "2"  # with the 429 too, as OpenAI
    assert third.headers["x-ratelimit-remaining-requests"] == "0"
    assert third.headers["x-ratelimit-reset-requests"].endswith("s")
    assert [r["http_status"] for r in records] == [200, 200, 429]
    assert records[2]["error_code"] == "rate_limit_exceeded"


async def test_workspace_isolation_of_budgets(wb_home: Path) -> None:
    keys = KeyStore()
    key_a = keys.create("team-a", "app-a")[1]
    key_b = keys.create("team-b", "app-b")[1]
    store = LimitsStore()
    store.put(Rule("ws", "budget", "workspace", "*", COST * 3, period="day"))
    store.put(Rule("b-only", "budget", "workspace", "team-b", 1.0, period="day"))
    _, lim, client, records = gateway(store, config(require_auth=True), keys)
    async with client:
        a = [
            (await client.post("/v1/chat/completions", content=chat_body(max_tokens=4),
                               headers={"Authorization": f"Bearer {key_a}"})).status_code
            for _ in range(6)
        ]  # fmt: skip
        b = await client.post("/v1/chat/completions", content=chat_body(max_tokens=4),
                              headers={"Authorization": f"Bearer {key_b}"})  # fmt: skip
    await lim.close()
    assert a[0] == 200 and a[-1] == 429  # team-a spent its own budget
    assert b.status_code == 200  # team-b's is untouched by team-a's spending
    spend: dict[str, float] = {}
    for r in records:
        if r["status"] == "ok":
            spend[r["workspace"]] = spend.get(r["workspace"], 0) + r["cost_usd"]
    used = {(u["rule"], u["subject"]): u["used"] for u in lim.authority.core.usage()}  # type: ignore[attr-defined]
    assert math.isclose(used[("ws", "team-a")], spend["team-a"])
    assert math.isclose(used[("ws", "team-b")], COST)
    assert math.isclose(used[("b-only", "team-b")], COST)  # and nothing of team-a's
    denied = [r for r in records if r["http_status"] == 429]
    assert {r["error_code"] for r in denied} == {"budget_exceeded"}
    assert all(r["workspace"] == "team-a" for r in denied)


async def test_a_cut_stream_is_charged_for_what_it_produced(wb_home: Path) -> None:
    store = LimitsStore()
    store.put(Rule("usd", "budget", "workspace", "default", 1.0, period="day"))
    cfg = parse_config(
        {
            "gateway": {"require_auth": False},
            "models": [{"name": "echo", "provider": "echo", "delay_ms": 400}],
        }
    )
    gp, lim, _, records = gateway(store, cfg)
    words = " ".join(f"w{i}" for i in range(20))
    body = json.dumps({"model": "echo", "stream": True, "max_tokens": 40,
                       "messages": [{"role": "user", "content": words}]}).encode()  # fmt: skip
    reply = await gp.handle(incoming(body))
    assert reply.stream is not None
    got = [await reply.stream.__anext__() for _ in range(4)]  # role chunk + 3 words
    assert got
    await reply.stream.aclose()  # type: ignore[attr-defined]  # the client went away
    await lim.close()
    (rec,) = records
    assert rec["http_status"] == 499 and rec["cost_usd"] is None  # client went away
    raw = json.loads(rec["upstream_outputs"])[0]["text"]
    produced = math.ceil(len(raw) / 4)
    prompt = 8 + math.ceil(len(words) / 3) + 8
    charged = (prompt * 1000.0 + produced * 2000.0) / 1e6
    (u,) = lim.authority.core.usage()  # type: ignore[attr-defined]
    assert produced >= 1 and math.isclose(u["used"], charged, rel_tol=1e-6)


async def test_a_whole_stream_is_charged_its_usage(wb_home: Path) -> None:
    store = LimitsStore()
    store.put(Rule("usd", "budget", "workspace", "default", 1.0, period="day"))
    _, lim, client, records = gateway(store)
    async with client:
        r = await client.post("/v1/chat/completions", content=chat_body(stream=True))
        assert r.status_code == 200 and "[DONE]" in r.text
    await lim.close()
    (u,) = lim.authority.core.usage()  # type: ignore[attr-defined]
    assert math.isclose(records[0]["cost_usd"], COST)
    assert math.isclose(u["used"], COST)


async def test_an_upstream_error_releases_the_reservation(wb_home: Path) -> None:
    store = LimitsStore()
    store.put(Rule("usd", "budget", "workspace", "default", 1.0, period="day"))
    store.put(Rule("tpm", "tokens", "workspace", "default", 10_000))
    cfg = parse_config({"gateway": {"require_auth": False}, "models": [
        {"name": "down", "provider": "openai-compatible", "model": "echo",
         "base_url": "http://127.0.0.1:9/v1", "timeouts": {"connect": 1, "read": 1}}]})  # fmt: skip
    gp, lim, _, records = gateway(store, cfg)
    reply = await gp.handle(incoming(chat_body(model="down")))
    await lim.close()
    assert reply.status >= 500 and records[0]["status"] == "error"
    used = {u["rule"]: (u["used"], u["leased"]) for u in lim.authority.core.usage()}  # type: ignore[attr-defined]
    assert used == {"usd": (0.0, 0.0), "tpm": (0, 0)}
