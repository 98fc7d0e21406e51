"""LogShipper.submit_acked: the acknowledgement a cluster gateway awaits before it sends a
non-streamed answer (workbench/gateway/shipping.py), and the pipeline's record-first order
through the real FastAPI adapter (workbench/gateway/app.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from workbench.gateway.shipping import LogShipper


class Sink:
    """A sink whose sends can be held, failed, or rejected."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.down = False
        self.reject: set[str] = set()

    async def send(self, batch: list[dict[str, Any]]) -> dict[str, int]:
        await self.gate.wait()
        if self.down:
            raise ConnectionError("sink down")
        if any(r["request_id"] in self.reject for r in batch):
            raise ValueError("bad record")
        self.batches.append([r["request_id"] for r in batch])
        return {"written": len(batch)}


def rec(i: int | str) -> dict[str, Any]:
    return {"request_id": f"r{i}"}


async def test_an_ack_resolves_once_the_sink_has_the_record_and_goes_out_at_once() -> None:
    sink = Sink()
    shipper = LogShipper(sink.send, interval_s=30.0)  # no batch would leave on its own
    sink.gate.clear()
    t0 = time.monotonic()
    ack = shipper.submit_acked(rec(1))
    await asyncio.sleep(0.05)
    assert not ack.done()  # the send is held: not acknowledged yet
    later = [shipper.submit_acked(rec(i)) for i in (2, 3)]  # arrive during the send
    sink.gate.set()
    await asyncio.wait_for(asyncio.gather(ack, *later), timeout=2)
    assert time.monotonic() - t0 < 5  # not after the 30 s interval
    assert sink.batches == [["r1"], ["r2", "r3"]]  # the next batch: a group commit
    assert shipper.backlog == 0 and shipper._waiters == 0


async def test_plain_submits_still_wait_for_a_batch() -> None:
    sink = Sink()
    shipper = LogShipper(sink.send, interval_s=0.3)
    shipper.submit(rec(1))
    await asyncio.sleep(0.1)
    assert sink.batches == []
    await asyncio.sleep(0.4)
    assert sink.batches == [["r1"]]


async def test_a_sink_that_is_down_bounds_the_wait_and_keeps_the_record() -> None:
    sink = Sink()
    sink.down = True
    shipper = LogShipper(sink.send, interval_s=0.05, ack_timeout_s=0.3)
    t0 = time.monotonic()
    await asyncio.wait_for(shipper.submit_acked(rec(1)), timeout=2)
    assert 0.25 <= time.monotonic() - t0 < 1.5  # released by the timeout
    assert shipper.backlog == 1  # still buffered, retried
    sink.down = False
    assert await shipper.drain(timeout=5)
    assert sink.batches == [["r1"]]


async def test_a_dead_lettered_record_releases_its_waiter(tmp_path: Path) -> None:
    sink = Sink()
    sink.reject = {"r1"}
    shipper = LogShipper(sink.send, interval_s=0.05, permanent_retries=1,
                         dead_letter_root=tmp_path, ack_timeout_s=30)  # fmt: skip
    acks = [shipper.submit_acked(rec(i)) for i in (1, 2)]
    await asyncio.wait_for(asyncio.gather(*acks), timeout=5)
    assert shipper.dead_lettered == 1 and ["r2"] in sink.batches and shipper._waiters == 0


async def test_a_full_buffer_releases_at_once() -> None:
    sink = Sink()
    shipper = LogShipper(sink.send, max_buffer=1, ack_timeout_s=30)
    sink.gate.clear()
    shipper.submit(rec(0))
    ack = shipper.submit_acked(rec(1))
    assert ack.done() and shipper.dropped == 1
    sink.gate.set()


class AckingGateway:
    """The production pipeline and FastAPI app over an in-process httpx client, whose
    records are kept and (``acked``) each given an acknowledgement the test resolves."""

    def __init__(self, acked: bool) -> None:
        from tests.pipeline.conftest import gateway_config
        from workbench.gateway.app import create_app
        from workbench.pipeline import build_pipeline

        self.acked = acked
        self.records: list[dict[str, Any]] = []
        self.acks: list[asyncio.Future[None]] = []
        gp = build_pipeline(gateway_config("http://127.0.0.1:9/v1"),
                            submit_record=self.submit, ack_records=acked)  # fmt: skip
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(gp)), base_url="http://gw"
        )

    def submit(self, record: dict[str, Any]) -> asyncio.Future[None] | None:
        self.records.append(record)
        if not self.acked:
            return None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks.append(fut)
        return fut


@pytest.mark.parametrize("acked", [True, False])
async def test_record_first_the_answer_waits_for_its_record(acked: bool) -> None:
    """Through the production pipeline and the FastAPI app: with ``ack_records`` the
    record is submitted before the reply is sent and the reply waits for its ack;
    without, the record is submitted after the reply went out."""
    gw = AckingGateway(acked)
    records, acks = gw.records, gw.acks
    async with gw.client as client:
        body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
        call = asyncio.ensure_future(client.post("/v1/chat/completions", json=body))
        await asyncio.sleep(0.3)
        if acked:
            assert len(records) == 1 and not call.done()  # recorded, answer held
            acks[0].set_result(None)
        resp = await asyncio.wait_for(call, timeout=5)
    assert resp.status_code == 200 and len(records) == 1
    assert records[0]["request_id"] == resp.headers["x-workbench-request-id"]
    assert records[0]["http_status"] == 200


async def test_record_first_a_stream_is_recorded_complete_before_its_done_line() -> None:
    """A streamed answer: the record (text, usage) is submitted and acknowledged before
    ``data: [DONE]`` goes out; the stream then ends normally."""
    gw = AckingGateway(acked=True)
    records, acks = gw.records, gw.acks
    async with gw.client as client:
        body = {"model": "echo", "stream": True, "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "hello there"}]}  # fmt: skip
        call = asyncio.ensure_future(client.post("/v1/chat/completions", json=body))
        await asyncio.sleep(0.3)
        assert len(records) == 1 and not call.done()  # recorded, [DONE] held back
        rec = records[0]
        assert rec["stream"] is True and rec["http_status"] == 200
        assert rec["response_body"] and rec["completion_tokens"]
        acks[0].set_result(None)
        resp = await asyncio.wait_for(call, timeout=5)
    assert resp.status_code == 200 and resp.text.rstrip().endswith("data: [DONE]")
    assert len(records) == 1
