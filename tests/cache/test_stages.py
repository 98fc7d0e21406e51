"""The cache stages through the real pipeline (in-process, real SQLite store): hits,
isolation, opt-outs, what is never stored, streams from cache, restart, semantic path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cache.cache_rig import CACHE_ON, FakeBackend, TinyIndex, rig
from workbench.cache.match import exact_key
from workbench.cache.store import SqliteEntryStore

Q = {"messages": [{"role": "user", "content": "what is the capital of France"}]}


async def test_exact_hit_serves_the_stored_answer(tmp_path: Path) -> None:
    r = await rig(tmp_path, CACHE_ON)
    first = await r.post(Q)
    miss = r.last
    second = await r.post(Q)
    hit = r.last
    assert first.headers["x-workbench-cache"] == "miss"
    assert second.headers["x-workbench-cache"] == "hit"
    assert "x-workbench-cache-similarity" not in second.headers
    assert r.backends["main"].calls == 1
    a, b = first.json(), second.json()
    assert a["choices"] == b["choices"] and a["usage"] == b["usage"]
    assert b["id"] == "chatcmpl-" + hit["request_id"] != a["id"]
    assert miss["cache_status"] == "miss" and miss["cache_key"] is not None
    assert miss["cost_usd"] == pytest.approx(a["usage"]["total_tokens"] / 1e6)
    assert hit["cache_status"] == "hit" and hit["cache_key"] == miss["cache_key"]
    assert hit["cost_usd"] == 0.0 and hit["cost_saved_usd"] == miss["cost_usd"]
    assert hit["cache_similarity"] is None
    assert (hit["prompt_tokens"], hit["completion_tokens"]) == (7, 6)
    assert hit["model_served"] == miss["model_served"] and hit["provider"] == "echo"
    assert hit["attempt_count"] == 0 and hit["status"] == "ok"
    await r.close()


async def test_workspaces_never_share(tmp_path: Path) -> None:
    r = await rig(tmp_path, CACHE_ON)
    await r.post(Q, key="ws1-a")
    other = await r.post(Q, key="ws2-a")
    assert other.headers["x-workbench-cache"] == "miss"
    assert (await r.post(Q, key="ws2-b")).headers["x-workbench-cache"] == "hit"
    assert (await r.post(Q, key="ws1-b")).headers["x-workbench-cache"] == "hit"
    assert r.backends["main"].calls == 2
    await r.close()


@pytest.mark.parametrize(
    ("param", "a", "b"),
    [
        ("temperature", 0.0, 0.7),
        ("seed", 1, 2),
        ("stop", ["x"], ["y"]),
        ("max_tokens", 10, 11),
        ("response_format", {"type": "text"}, {"type": "json_object"}),
        (
            "tools",
            [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            [{"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}}],
        ),
    ],
)
async def test_any_answer_changing_parameter_misses(
    tmp_path: Path, param: str, a: Any, b: Any
) -> None:
    r = await rig(tmp_path, CACHE_ON)
    await r.post({**Q, param: a})
    assert (await r.post({**Q, param: b})).headers["x-workbench-cache"] == "miss"
    assert (await r.post({**Q, param: a})).headers["x-workbench-cache"] == "hit"
    assert (await r.post(Q)).headers["x-workbench-cache"] == "miss"  # absent != set
    await r.close()


async def test_parameters_that_cannot_change_the_answer_still_hit(tmp_path: Path) -> None:
    r = await rig(tmp_path, CACHE_ON)
    await r.post(Q)
    again = await r.post({**Q, "user": "u2", "metadata": {"team": "x"}})
    assert again.headers["x-workbench-cache"] == "hit"
    await r.close()


@pytest.mark.parametrize(
    ("how", "stores"),
    [
        ({"headers": {"cache-control": "no-cache"}}, True),
        ({"headers": {"cache-control": "no-store"}}, False),
        ({"headers": {"cache-control": "No-Cache, no-store"}}, False),
        ({"metadata": "no-cache"}, True),
        ({"metadata": "no-store"}, False),
        ({"metadata": "off"}, False),
    ],
)
async def test_client_opt_out(tmp_path: Path, how: dict[str, Any], stores: bool) -> None:
    """no-cache: never read, may store; no-store / off: neither read nor store."""
    r = await rig(tmp_path, CACHE_ON)
    body = {**Q, "metadata": {"cache": how["metadata"]}} if "metadata" in how else Q
    await r.post(Q)  # an entry exists
    out = await r.post(body, **how.get("headers", {}))
    assert out.headers["x-workbench-cache"] == "bypass" and r.last["cache_status"] == "bypass"
    assert r.backends["main"].calls == 2  # not read
    await r.store.clear()
    await r.post(body, **how.get("headers", {}))
    assert (r.last["cache_key"] is not None) is stores
    follow = await r.post(Q)
    assert follow.headers["x-workbench-cache"] == ("hit" if stores else "miss")
    await r.close()


async def test_policy_switch_off(tmp_path: Path) -> None:
    r = await rig(tmp_path, {"cache": {"enabled": False}})
    await r.post(Q)
    out = await r.post(Q)
    assert out.headers["x-workbench-cache"] == "disabled"
    assert r.last["cache_status"] == "disabled" and r.last["cache_key"] is None
    assert r.backends["main"].calls == 2
    assert not r.store.path.exists()  # never even opened
    await r.close()


async def test_a_denied_request_is_denied_even_when_cached(tmp_path: Path) -> None:
    deny = {"name": "no-france", "validator": "regex_deny",
            "params": {"patterns": ["France"]}, "on_fail": "deny"}  # fmt: skip
    r = await rig(tmp_path, {**CACHE_ON, "input": [deny]})
    # plant an entry under the exact key this request would have
    engine = r.pipeline.policies.engine
    body = {"model": "main", **Q}
    key = exact_key(body, model="main", workspace="ws1", policy_hash=engine.policy_hash,
                    endpoint="/v1/chat/completions")  # fmt: skip
    from tests.cache.test_store import entry

    await r.store.put(entry(key, workspace="ws1"))
    out = await r.post(Q)
    assert out.status_code == 400 and r.last["status"] == "rejected"
    assert r.last["cache_status"] == "bypass" and r.last["cache_key"] is None
    assert r.backends["main"].calls == 0
    await r.close()


def _out(validator: str, on_fail: str, **kw: Any) -> dict[str, Any]:
    return {"name": "o", "validator": validator, "on_fail": on_fail, **kw}


SECRET = "the key is AKIAIOSFODNN7EXAMPLE ok"


@pytest.mark.parametrize(
    ("check", "served"),
    [
        (_out("secrets", "flag"), 200),
        (_out("secrets", "flag", mode="log_only"), 200),
        (_out("secrets", "deny"), 400),
        (_out("secrets", "fallback"), 200),
    ],
)
async def test_flagged_denied_or_fallback_answers_are_not_stored(
    tmp_path: Path, check: dict[str, Any], served: int
) -> None:
    policy = {**CACHE_ON, "output": [check], "fallback": {"message": "sorry"}}
    backends = {"main": FakeBackend(SECRET), "alt": FakeBackend(), "emb": FakeBackend()}
    r = await rig(tmp_path, policy, backends=backends)
    first = await r.post(Q)
    assert first.status_code == served and r.last["cache_key"] is None
    assert (await r.post(Q)).headers["x-workbench-cache"] == "miss"
    assert (await r.store.stats())["entries"] == 0
    await r.close()


async def test_a_redacted_answer_is_stored_redacted(tmp_path: Path) -> None:
    policy = {**CACHE_ON, "output": [_out("secrets", "redact")]}
    backends = {"main": FakeBackend(SECRET), "alt": FakeBackend(), "emb": FakeBackend()}
    r = await rig(tmp_path, policy, backends=backends)
    first = await r.post(Q)
    text = first.json()["choices"][0]["message"]["content"]
    assert "AKIA" not in text and r.last["cache_key"] is not None
    second = await r.post(Q)
    assert second.headers["x-workbench-cache"] == "hit"
    assert second.json()["choices"][0]["message"]["content"] == text
    await r.close()


async def test_errors_and_failovers_are_not_stored(tmp_path: Path) -> None:
    routes = {"routing": {"routes": {"main": {"mode": "fallback", "targets": ["main", "alt"]}},
                          "retry": {"attempts": 0}}}  # fmt: skip
    backends = {"main": FakeBackend(fail=True), "alt": FakeBackend(), "emb": FakeBackend()}
    r = await rig(tmp_path, {**CACHE_ON, **routes}, backends=backends)
    ok = await r.post(Q)
    assert ok.status_code == 200 and r.last["attempt_count"] == 2
    assert r.last["cache_key"] is None
    r.backends["alt"].fail = True
    failed = await r.post(Q)
    assert failed.status_code >= 500 and r.last["cache_key"] is None
    assert (await r.store.stats())["entries"] == 0
    await r.close()


def _sse(text: str) -> list[Any]:
    out = []
    for line in text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def _streamed_text(events: list[Any]) -> str:
    return "".join(
        e["choices"][0]["delta"].get("content") or ""
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


async def test_a_stream_is_stored_and_replayed_as_sse(tmp_path: Path) -> None:
    r = await rig(tmp_path, CACHE_ON)
    body = {**Q, "stream": True, "stream_options": {"include_usage": True}}
    live = _sse((await r.post(body)).text)
    stored = r.last
    again = await r.post(body)
    replay = _sse(again.text)
    assert again.headers["x-workbench-cache"] == "hit"
    assert again.headers["content-type"].startswith("text/event-stream")
    assert r.backends["main"].calls == 1 and stored["cache_key"] == r.last["cache_key"]
    assert _streamed_text(replay) == _streamed_text(live) == Q["messages"][0]["content"]
    # same chunk shapes: role chunk first, finish chunk, usage chunk, [DONE]
    assert replay[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [e["choices"][0]["finish_reason"] for e in replay[1:-2]][-1] == "stop"
    assert replay[-2]["usage"] == live[-2]["usage"] and replay[-2]["choices"] == []
    assert replay[-1] == "[DONE]"
    assert {k for e in replay[:-1] for k in e} == {k for e in live[:-1] for k in e}
    # a non-streaming request hits the same entry
    plain = await r.post(Q)
    assert plain.json()["choices"][0]["message"]["content"] == Q["messages"][0]["content"]
    no_usage = _sse((await r.post({**Q, "stream": True})).text)
    assert "usage" not in no_usage[-2]
    await r.close()


async def test_a_stream_cut_midway_is_not_stored(tmp_path: Path) -> None:
    r = await rig(tmp_path, CACHE_ON)
    r.backends["main"].cut_stream = True
    events = _sse((await r.post({**Q, "stream": True})).text)
    assert "error" in events[-1] and r.last["status"] == "error"
    assert r.last["cache_key"] is None
    r.backends["main"].cut_stream = False
    assert (await r.post(Q)).headers["x-workbench-cache"] == "miss"
    await r.close()


async def test_embeddings_are_cached_exactly(tmp_path: Path) -> None:
    r = await rig(tmp_path, CACHE_ON)
    body = {"model": "emb", "input": ["a", "bb"]}
    first = await r.post(body, path="/v1/embeddings")
    second = await r.post(body, path="/v1/embeddings")
    assert second.headers["x-workbench-cache"] == "hit" and r.backends["emb"].calls == 1
    assert first.json() == second.json()
    other = await r.post({**body, "input": ["a"]}, path="/v1/embeddings")
    assert other.headers["x-workbench-cache"] == "miss"
    await r.close()


async def test_a_restart_keeps_the_entries(tmp_path: Path) -> None:
    r = await rig(tmp_path, CACHE_ON)
    await r.post(Q)
    await r.close()  # closes the store too
    again = await rig(tmp_path, CACHE_ON, store=SqliteEntryStore(tmp_path / "entries.db"))
    out = await again.post(Q)
    assert out.headers["x-workbench-cache"] == "hit" and again.backends["main"].calls == 0
    await again.close()


async def test_ttl_expiry_through_the_pipeline(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = SqliteEntryStore(tmp_path / "entries.db", clock=lambda: now[0])
    r = await rig(tmp_path, {"cache": {"enabled": True, "ttl_s": 60}}, store=store)
    await r.post(Q)
    # the stage stamps expires_at from the wall clock: move the store's clock past it
    entry = await store.get(r.last["cache_key"])
    assert entry is not None
    now[0] = entry.expires_at
    assert (await r.post(Q)).headers["x-workbench-cache"] == "miss"
    await r.close()


async def test_eviction_at_the_policy_bound(tmp_path: Path) -> None:
    r = await rig(tmp_path, {"cache": {"enabled": True, "max_entries": 2}})
    for word in ("one", "two", "three"):
        await r.post({"messages": [{"role": "user", "content": word}]})
    stats = await r.store.stats()
    assert stats["entries"] == 2 and stats["evictions"] == 1
    first = await r.post({"messages": [{"role": "user", "content": "one"}]})
    assert first.headers["x-workbench-cache"] == "miss"
    await r.close()


# ---------------------------------------------------------------- semantic path

SEM = {"cache": {"enabled": True, "semantic": {"enabled": True}}}


def _ask(text: str, **kw: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], "temperature": 0, **kw}


async def test_semantic_hit_on_a_paraphrase(tmp_path: Path) -> None:
    index = TinyIndex()
    r = await rig(tmp_path, SEM, index=index)
    await r.post(_ask("Please tell me the capital city of France"))
    stored = r.last
    assert list(index.rows) == [stored["cache_key"]]
    out = await r.post(_ask("please tell me the capital city of france now"))
    assert out.headers["x-workbench-cache"] == "semantic_hit"
    sim = float(out.headers["x-workbench-cache-similarity"])
    assert 0.82 <= sim < 1.0 and r.last["cache_similarity"] == pytest.approx(sim, abs=1e-4)
    assert r.last["cache_key"] == stored["cache_key"] and r.backends["main"].calls == 1
    await r.close()


async def test_second_stage_blocks_a_different_number(tmp_path: Path) -> None:
    index = TinyIndex()
    r = await rig(tmp_path, SEM, index=index)
    await r.post(_ask("please refund order 1234 on my account today"))
    out = await r.post(_ask("please refund order 1235 on my account today"))
    assert out.headers["x-workbench-cache"] == "miss"  # cosine 0.875, numbers differ
    off = {"cache": {"enabled": True, "semantic": {"enabled": True, "second_stage": False}}}
    loose = await rig(tmp_path / "b", off, index=TinyIndex())
    await loose.post(_ask("please refund order 1234 on my account today"))
    wrong = await loose.post(_ask("please refund order 1235 on my account today"))
    assert wrong.headers["x-workbench-cache"] == "semantic_hit"  # what the check prevents
    await r.close()
    await loose.close()


async def test_semantic_only_for_eligible_requests(tmp_path: Path) -> None:
    index = TinyIndex()
    r = await rig(tmp_path, SEM, index=index)
    await r.post(_ask("please tell me the capital city of France", temperature=1.0))
    assert index.rows == {} and index.lookups == 0  # too random: neither filled nor asked
    out = await r.post(_ask("please tell me the capital city of France now", temperature=1.0))
    assert out.headers["x-workbench-cache"] == "miss" and index.lookups == 0
    await r.close()


async def test_semantic_scope_and_stale_candidates(tmp_path: Path) -> None:
    index = TinyIndex()
    r = await rig(tmp_path, SEM, index=index)
    await r.post(_ask("please tell me the capital city of France"))
    other_ws = await r.post(_ask("please tell me the capital city of France now"), key="ws2-k")
    assert other_ws.headers["x-workbench-cache"] == "miss"  # another scope
    await r.store.clear()  # the index still lists the entries: never served
    out = await r.post(_ask("please tell me the capital city of France today"))
    assert out.headers["x-workbench-cache"] == "miss"
    await r.close()


async def test_no_index_means_no_semantic_cache(tmp_path: Path) -> None:
    r = await rig(tmp_path, SEM, index=None)
    await r.post(_ask("please tell me the capital city of France"))
    out = await r.post(_ask("please tell me the capital city of France now"))
    assert out.headers["x-workbench-cache"] == "miss"
    assert (await r.post(_ask("please tell me the capital city of France"))).headers[
        "x-workbench-cache"
    ] == "hit"
    await r.close()
