"""Time to first token of streamed chat completions whose text never ends a sentence.

With output guardrails on, the gateway checks a stream window by window (a sentence, or
N tokens). Text without a sentence end (code, lists, a model that never writes a
period) used to be held back until the end, so time to first token became total time;
windows are now also bounded in tokens, characters and milliseconds. This measures it.

The upstream must echo the prompt word by word with a gap between chunks, as
``python -m bench.fake_providers --format openai --chunk-delay-ms 20`` does: the prompt
is ``--words`` plain words with no punctuation, and ``max_tokens`` is the same number.
One stream at a time; time to first token is from sending the request to the first SSE
event carrying text (the role-only first chunk does not count).

``python -m bench.ttft --base-url http://127.0.0.1:8000/v1 --model m --api-key K``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from bench._proc import install_uvloop

_WORDS = "the river runs past green hills and old stone walls under a wide grey sky".split()


def prompt(words: int) -> str:
    """``words`` plain words, no sentence end anywhere."""
    return " ".join(_WORDS[i % len(_WORDS)] for i in range(words))


@dataclass
class TTFTResult:
    """Medians over the streams (milliseconds)."""

    streams: int
    ok: int
    ttft_p50_ms: float
    total_p50_ms: float
    text_events_p50: float  # SSE events carrying text: how many windows were released
    ttft_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _one(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    first: float | None = None
    events = 0
    done = False
    async with session.post(url, json=body, headers=headers) as resp:
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {(await resp.text())[:200]}")
        async for raw in resp.content:
            line = raw.decode().strip()
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                done = True
                continue
            obj = json.loads(data)
            if obj.get("error"):
                raise RuntimeError(f"SSE error: {obj['error'].get('code')}")
            text = "".join((c.get("delta") or {}).get("content") or "" for c in obj["choices"])
            if text:
                events += 1
                if first is None:
                    first = time.perf_counter()
    if not done or first is None:
        raise RuntimeError("the stream ended without [DONE] or without text")
    return (first - t0) * 1000.0, (time.perf_counter() - t0) * 1000.0, events


async def measure_ttft(
    base_url: str,
    *,
    model: str,
    api_key: str | None = None,
    streams: int = 8,
    words: int = 80,
    timeout_s: float = 60.0,
) -> TTFTResult:
    """Send ``streams`` streamed chats one after another; medians of what they took."""
    url = base_url.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt(words)}],
        "max_tokens": words,
        "stream": True,
    }
    ttft: list[float] = []
    total: list[float] = []
    events: list[int] = []
    errors: list[str] = []
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for _ in range(streams):
            try:
                a, b, n = await _one(session, url, body, headers)
            except (RuntimeError, ValueError, KeyError, aiohttp.ClientError, TimeoutError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            ttft.append(a)
            total.append(b)
            events.append(n)
    nan = float("nan")
    return TTFTResult(
        streams=streams,
        ok=len(ttft),
        ttft_p50_ms=statistics.median(ttft) if ttft else nan,
        total_p50_ms=statistics.median(total) if total else nan,
        text_events_p50=statistics.median(events) if events else nan,
        ttft_ms=[round(x, 2) for x in ttft],
        errors=errors[:5],
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ttft", description=__doc__)
    p.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", required=True)
    p.add_argument("--api-key", default=None)
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--words", type=int, default=80)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if not a.base_url.startswith(("http://127.0.0.1", "http://localhost")):
        p.error("only loopback targets (http://127.0.0.1:...) are allowed")
    install_uvloop()
    r = asyncio.run(
        measure_ttft(a.base_url, model=a.model, api_key=a.api_key, streams=a.streams, words=a.words)
    )
    if a.json:
        print(json.dumps(r.as_dict(), indent=2))
        return
    print(
        f"{r.ok}/{r.streams} streams: time to first token p50 {r.ttft_p50_ms:.1f} ms, "
        f"whole stream p50 {r.total_p50_ms:.1f} ms, {r.text_events_p50:g} text events"
    )
    for e in r.errors:
        print("  error:", e)


if __name__ == "__main__":
    main()
