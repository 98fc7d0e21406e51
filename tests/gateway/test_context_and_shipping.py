"""The log record a request context builds (the shipper's tests are in test_shipping.py)."""

from __future__ import annotations

from workbench.errors import UpstreamError
from workbench.logstore import FIELD_NAMES, normalize_record
from workbench.pipeline.context import RequestContext


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
