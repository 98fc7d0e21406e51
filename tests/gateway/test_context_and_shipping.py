"""Ray-free parts of the gateway: the log record and the batching shipper."""

from __future__ import annotations

import asyncio

from workbench.errors import UpstreamError
from workbench.pipeline.context import RequestContext
from workbench.gateway.shipping import LogShipper
from workbench.logstore import FIELD_NAMES, normalize_record


def test_record_matches_schema_and_bodies_switch():
    ctx = RequestContext(endpoint="/v1/chat/completions", store_bodies=False)
    ctx.request_body, ctx.response_body = '{"secret": 1}', "answer"
    ctx.prompt_tokens, ctx.completion_tokens = 3, 4
    rec = ctx.to_record()
    assert set(rec) <= set(FIELD_NAMES)
    assert len(rec) >= 40
    norm = normalize_record(rec)
    assert norm["request_body"] is None and norm["response_body"] is None
    assert norm["bodies_stored"] is False and norm["total_tokens"] == 7
    assert norm["status"] == "ok"


def test_status_of_failures():
    ctx = RequestContext(endpoint="/v1/chat/completions")
    ctx.fail(UpstreamError("boom"))
    assert ctx.to_record()["status"] == "error"
    mid_stream = RequestContext(endpoint="/v1/chat/completions")
    mid_stream.error = UpstreamError("broke")  # HTTP status already 200
    assert mid_stream.to_record()["status"] == "error"


async def test_shipper_retries_until_acknowledged():
    got: list[dict] = []
    fail = {"n": 3}

    async def send(batch):
        if fail["n"]:
            fail["n"] -= 1
            raise ConnectionError("sink restarting")
        got.extend(batch)

    sh = LogShipper(send, batch_max=10, interval_s=0.01)
    for i in range(25):
        sh.submit({"request_id": str(i)})
    assert await sh.drain(timeout=10)
    assert [r["request_id"] for r in got] == [str(i) for i in range(25)]
    assert sh.failures == 3 and sh.backlog == 0
    await asyncio.sleep(0)
