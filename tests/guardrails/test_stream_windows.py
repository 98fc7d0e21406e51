"""Bounded stream windows: text without a sentence end still streams (characters,
whitespace tokens, milliseconds from the first pending character), cut at whitespace;
the time bound works with an injected clock and, through ``paced``, with no new delta."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from workbench.errors import GuardrailDeniedError
from workbench.guardrails import CheckRegistry
from workbench.guardrails._stream import StreamGuard, paced
from workbench.guardrails.engine import GuardrailEngine
from workbench.policy import parse_policy

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance_ms(self, ms: float) -> None:
        self.now += ms / 1000.0


@pytest.fixture(scope="module")
def cheap() -> CheckRegistry:
    from workbench.guardrails.validators import register

    reg = CheckRegistry()
    reg._loaded = True  # only the built-in cheap checks
    register(reg)
    return reg


def _engine(reg: CheckRegistry, output: list[dict[str, Any]]) -> GuardrailEngine:
    return GuardrailEngine(parse_policy({"id": "s", "output": output}, registry=reg), registry=reg)


@pytest.fixture
def plain(cheap: CheckRegistry) -> GuardrailEngine:
    """An output stage that never fails on ordinary text (secrets: deny)."""
    return _engine(cheap, [{"name": "no-secrets", "validator": "secrets", "on_fail": "deny"}])


async def test_char_bound_releases_text_without_a_sentence_end(plain: GuardrailEngine) -> None:
    sg = StreamGuard(plain, max_chars=50, max_tokens=1000, max_ms=10_000, clock=Clock())
    words = [f"word{i} " for i in range(40)]  # ~280 characters, no period, no newline
    out: list[str] = []
    for w in words:
        out += await sg.feed(w)
    assert len(out) >= 4  # released while streaming, not in one piece at the end
    assert all(len(p) <= 50 for p in out)
    assert all(p.endswith(" ") for p in out)  # cut after whitespace, never inside a word
    out += await sg.finish()
    assert "".join(out) == "".join(words)


async def test_token_bound_in_sentence_mode(plain: GuardrailEngine) -> None:
    sg = StreamGuard(plain, max_chars=10_000, max_tokens=5, max_ms=10_000, clock=Clock())
    out: list[str] = []
    for i in range(12):
        out += await sg.feed(f"w{i} ")
    assert out == ["w0 w1 w2 w3 w4 ", "w5 w6 w7 w8 w9 "]
    assert sg.pending == "w10 w11 "


async def test_tokens_mode_uses_the_smaller_of_its_window_and_the_bound(
    plain: GuardrailEngine,
) -> None:
    sg = StreamGuard(plain, window="tokens", window_tokens=32, max_tokens=3, clock=Clock())
    out = await sg.feed("a b c d e f g ")
    assert out == ["a b c ", "d e f "]


async def test_one_unbroken_run_is_cut_hard_at_the_char_bound(plain: GuardrailEngine) -> None:
    sg = StreamGuard(plain, max_chars=64, max_ms=10_000, clock=Clock())
    blob = "x" * 200
    out = await sg.feed(blob)
    assert out == ["x" * 64, "x" * 64, "x" * 64]
    assert sg.pending == "x" * 8


async def test_sentence_ends_still_cut_first(plain: GuardrailEngine) -> None:
    sg = StreamGuard(plain, max_chars=400, max_tokens=64, clock=Clock())
    assert await sg.feed("One. Two") == ["One. "]
    assert sg.pending == "Two"


async def test_time_bound_with_an_injected_clock(plain: GuardrailEngine) -> None:
    clock = Clock()
    sg = StreamGuard(plain, max_chars=400, max_tokens=64, max_ms=250, clock=clock)
    assert sg.due_in() is None  # nothing pending
    assert await sg.feed("def handler(event") == []
    assert sg.due_in() == pytest.approx(0.25)
    clock.advance_ms(100)
    assert await sg.feed(", context") == []  # not due yet: 100 ms since the first character
    assert await sg.poll() == []
    assert sg.due_in() == pytest.approx(0.15)
    clock.advance_ms(150)
    assert sg.due_in() == 0.0
    # due: whole words go, the partial word at the end waits for its end
    assert await sg.poll() == ["def handler(event, "]
    assert sg.pending == "context"
    # the rest is one partial word: overdue at once, yet nothing to release without a delta
    clock.advance_ms(300)
    assert sg.due_in() is None and await sg.poll() == []
    assert await sg.feed("):\n") == ["context):\n"]  # the newline ends the window


async def test_time_bound_is_checked_when_a_delta_arrives(plain: GuardrailEngine) -> None:
    clock = Clock()
    sg = StreamGuard(plain, max_ms=250, clock=clock)
    assert await sg.feed("- item one") == []
    clock.advance_ms(260)
    assert await sg.feed(" and") == ["- item one "]
    assert sg.pending == "and"
    assert sg.due_in() == pytest.approx(0.25)  # the remainder starts a new window


async def test_a_secret_streamed_in_pieces_is_not_released_by_the_bounds(
    plain: GuardrailEngine,
) -> None:
    clock = Clock()
    sg = StreamGuard(plain, max_chars=400, max_tokens=64, max_ms=250, clock=clock)
    sent: list[str] = []
    deltas = ["Your key is ", AWS_KEY[:6], AWS_KEY[6:13], AWS_KEY[13:], " and then more"]
    with pytest.raises(GuardrailDeniedError) as info:
        for d in deltas:
            clock.advance_ms(300)  # every delta arrives after the time bound
            sent += await sg.feed(d)
            sent += await sg.poll()
    assert "".join(sent) == "Your key is "
    assert info.value.param == "output.no-secrets" and AWS_KEY not in info.value.message


async def test_flagged_secret_in_a_window_becomes_a_mask_not_log_text(
    cheap: CheckRegistry,
) -> None:
    eng = _engine(cheap, [{"name": "flag-secrets", "validator": "secrets", "on_fail": "flag"}])
    sg = StreamGuard(eng, max_chars=40, clock=Clock())
    out = await sg.feed(f"the key {AWS_KEY} is here ")
    out += await sg.finish()
    flagged = [v for v in sg.verdicts if not v.passed]
    assert flagged and all((AWS_KEY, "SECRET") in v.masks for v in flagged)
    assert AWS_KEY not in repr(flagged) and AWS_KEY not in str([v.to_dict() for v in flagged])
    assert AWS_KEY in "".join(out)  # flag delivers the text; only the log masks it


async def _source(items: list[str], gate: asyncio.Event, after: int) -> AsyncIterator[str]:
    for i, item in enumerate(items):
        if i == after:
            await gate.wait()  # the stream stalls here until the test opens the gate
        yield item


async def test_paced_releases_on_time_while_the_stream_stalls(plain: GuardrailEngine) -> None:
    sg = StreamGuard(plain, max_ms=5)
    gate = asyncio.Event()
    events: list[tuple[str | None, list[str]]] = []

    async def consume() -> None:
        async for item, pieces in paced(sg, _source(["no period here", " ever"], gate, 1), str):
            events.append((item, pieces))
            if item is None:
                gate.set()  # only a timed release (no delta) can open the gate

    await asyncio.wait_for(consume(), timeout=30)  # guards against a hang, not a timing
    assert events[0] == ("no period here", [])
    assert events[1] == (None, ["no period "])
    assert events[2][0] == " ever"
    assert "".join(p for _, ps in events for p in ps) + "".join(await sg.finish()) == (
        "no period here ever"
    )


async def test_paced_cancels_the_pending_read_when_the_consumer_stops(
    plain: GuardrailEngine,
) -> None:
    sg = StreamGuard(plain, max_ms=10_000)
    gate = asyncio.Event()
    closed = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            yield "first. "
            await gate.wait()
            yield "never"
        finally:
            closed.set()

    agen = paced(sg, source(), str)
    assert await agen.__anext__() == ("first. ", ["first. "])
    pending = asyncio.ensure_future(agen.__anext__())
    await asyncio.sleep(0)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    await asyncio.wait_for(closed.wait(), timeout=30)
    assert closed.is_set()
