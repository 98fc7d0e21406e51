"""An async load generator for OpenAI-compatible chat completions.

One aiohttp ``ClientSession`` with keep-alive (pool size = concurrency), N workers
pulling from one bounded request counter, non-streaming chat completions with a
small message and ``max_tokens`` 16 by default. Warm-up requests run first at the
same concurrency and are not counted. Each prompt carries its request number, so
a response cache in front of the upstream cannot serve repeats.

Per request it measures send-to-last-byte latency; a request is an error when the
status is not 200, the body is not a chat completion, or the call raises. Results:
p50, p99, mean (of the successful requests), req/s (successes / wall time of the
counted phase), errors, and the summed ``usage`` token counts.

As a function: ``await run_load(base_url, concurrency=8, requests=300)`` or
``run_load_sync(...)``. As a command:
``python -m bench.loadgen --base-url http://127.0.0.1:8900/v1 -c 8 -n 300``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from bench._proc import install_uvloop


@dataclass
class LoadResult:
    """What one load run measured (latencies in milliseconds)."""

    concurrency: int
    requests: int  # counted requests attempted
    ok: int
    errors: int
    wall_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    rps: float
    warmup: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def sent_total(self) -> int:
        """Requests sent including warm-up."""
        return self.requests + self.warmup

    @property
    def completion_tokens_per_s(self) -> float:
        return self.completion_tokens / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]) of an already sorted list."""
    if not sorted_values:
        return math.nan
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _payload_parts(
    model: str, max_tokens: int, temperature: float | None, extra: dict[str, Any] | None
) -> tuple[bytes, bytes]:
    """JSON body split around the request number, so each body costs one join."""
    marker = "\u0000REQ\u0000"
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": f"Request {marker}: say hello in five words."},
        ],
        "max_tokens": max_tokens,
    }
    if temperature is not None:
        body["temperature"] = temperature
    body.update(extra or {})
    text = json.dumps(body, separators=(",", ":"))
    esc = json.dumps(marker)[1:-1]
    pre, post = text.split(esc)
    return pre.encode(), post.encode()


async def run_load(
    base_url: str,
    *,
    concurrency: int,
    requests: int,
    warmup: int | None = None,
    model: str = "fake-model",
    api_key: str | None = None,
    max_tokens: int = 16,
    temperature: float | None = None,
    extra_body: dict[str, Any] | None = None,
    timeout_s: float = 60.0,
    before_measure: Callable[[], Any] | None = None,
) -> LoadResult:
    """Send ``warmup`` (default 2 x concurrency, at least 10) then ``requests`` requests.

    ``base_url`` ends in ``/v1``. ``before_measure`` (sync or async) is called between
    the warm-up and the counted phase, e.g. to sample a server's CPU time.
    """
    if concurrency < 1 or requests < 1:
        raise ValueError("concurrency and requests must be >= 1")
    warm = max(10, 2 * concurrency) if warmup is None else max(0, warmup)
    url = base_url.rstrip("/") + "/chat/completions"
    pre, post = _payload_parts(model, max_tokens, temperature, extra_body)
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"

    latencies: list[float] = []
    errors = 0
    samples: list[str] = []
    tokens = [0, 0]
    seq = 0

    def note_error(msg: str) -> None:
        nonlocal errors
        errors += 1
        if len(samples) < 5 and msg not in samples:
            samples.append(msg)

    async def one(session: aiohttp.ClientSession, record: bool) -> None:
        nonlocal seq
        seq += 1
        data = pre + str(seq).encode() + post
        t0 = time.perf_counter()
        try:
            async with session.post(url, data=data, headers=headers) as resp:
                raw = await resp.read()
                dt = time.perf_counter() - t0
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if record:
                note_error(f"{type(exc).__name__}: {exc}"[:200])
            return
        if not record:
            return
        if status != 200:
            note_error(f"HTTP {status}: {raw[:160].decode(errors='replace')}")
            return
        try:
            obj = json.loads(raw)
            if not obj.get("choices"):
                raise ValueError("no choices")
        except (ValueError, AttributeError) as exc:
            note_error(f"bad body ({exc}): {raw[:120].decode(errors='replace')}")
            return
        latencies.append(dt)
        usage = obj.get("usage") or {}
        tokens[0] += int(usage.get("prompt_tokens") or 0)
        tokens[1] += int(usage.get("completion_tokens") or 0)

    async def phase(session: aiohttp.ClientSession, n: int, record: bool) -> None:
        remaining = n

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await one(session, record)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))

    connector = aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if warm:
            await phase(session, warm, record=False)
        if before_measure is not None:
            r = before_measure()
            if isinstance(r, Awaitable):
                await r
        t_start = time.perf_counter()
        await phase(session, requests, record=True)
        wall = time.perf_counter() - t_start

    lat_ms = sorted(x * 1000.0 for x in latencies)
    ok = len(lat_ms)
    return LoadResult(
        concurrency=concurrency,
        requests=requests,
        ok=ok,
        errors=errors,
        wall_s=wall,
        p50_ms=percentile(lat_ms, 50),
        p99_ms=percentile(lat_ms, 99),
        mean_ms=sum(lat_ms) / ok if ok else math.nan,
        rps=ok / wall if wall > 0 else 0.0,
        warmup=warm,
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        error_samples=samples,
    )


def run_load_sync(base_url: str, **kwargs: Any) -> LoadResult:
    """``run_load`` in a fresh event loop (not from inside a running loop)."""
    return asyncio.run(run_load(base_url, **kwargs))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen", description="chat load generator")
    p.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8900/v1")
    p.add_argument("-c", "--concurrency", type=int, default=8)
    p.add_argument("-n", "--requests", type=int, default=300)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--model", default="fake-model")
    p.add_argument("--api-key", default=None)
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    a = p.parse_args(argv)
    if not a.base_url.startswith(("http://127.0.0.1", "http://localhost")):
        p.error("only loopback targets (http://127.0.0.1:...) are allowed")
    install_uvloop()
    r = run_load_sync(
        a.base_url,
        concurrency=a.concurrency,
        requests=a.requests,
        warmup=a.warmup,
        model=a.model,
        api_key=a.api_key,
        max_tokens=a.max_tokens,
    )
    if a.json:
        print(json.dumps(r.as_dict(), indent=2))
        return
    print(
        f"c={r.concurrency} n={r.requests} (+{r.warmup} warm-up): p50 {r.p50_ms:.2f} ms, "
        f"p99 {r.p99_ms:.2f} ms, {r.rps:.1f} req/s, errors {r.errors}"
    )
    for s in r.error_samples:
        print("  error:", s)


if __name__ == "__main__":
    main()
