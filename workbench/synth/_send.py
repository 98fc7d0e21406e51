"""Send the synthetic mix through a running gateway, which logs real records.

Same mix as :func:`~workbench.synth.generate` (questions with exact repeats and
paraphrases, PII, secrets, prompt injections, jailbreaks, streaming and not), but with
the raw text (the gateway's guardrails find and mask the PII and secrets themselves).
:func:`send` works in a notebook (it runs its own event loop in a worker thread);
:func:`send_async` is the coroutine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._texts import DOMAINS, FRAMES, INJECTIONS, JAILBREAKS, PII_KINDS, SECRETS

__all__ = ["SendReport", "build_requests", "send", "send_async"]

_MIX = (0.9, 0.05, 0.01, 0.025, 0.015)  # normal, pii, secret, injection, jailbreak


@dataclass
class SendReport:
    """What the gateway answered: counts by HTTP status, the ids it assigned."""

    sent: int
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    request_ids: list[str] = field(default_factory=list)


def _raw_text(rng: np.random.Generator, kind: int) -> str:
    if kind == 1:
        label, template, values = PII_KINDS[rng.integers(len(PII_KINDS))]
        return template.format(values[rng.integers(len(values))])
    if kind == 2:
        label, template, values = SECRETS[rng.integers(len(SECRETS))]
        return template.format(values[rng.integers(len(values))])
    if kind == 3:
        return INJECTIONS[rng.integers(len(INJECTIONS))]
    if kind == 4:
        return JAILBREAKS[rng.integers(len(JAILBREAKS))]
    subjects = DOMAINS["support"]
    subject = subjects[int(len(subjects) * rng.random() ** 2.2)]
    frame = 0 if rng.random() < 0.62 else int(rng.integers(1, len(FRAMES)))
    return FRAMES[frame].format(subject)


def build_requests(
    n: int, models: Sequence[str], seed: int = 0, stream_share: float = 0.4
) -> list[tuple[str, dict[str, Any]]]:
    """``n`` chat requests ``(kind, body)`` with the synthetic mix (reproducible)."""
    from ._rows import KINDS

    rng = np.random.default_rng(seed)
    kinds = rng.choice(len(_MIX), size=n, p=_MIX)
    out = []
    for i in range(n):
        body = {
            "model": models[int(rng.integers(len(models)))],
            "messages": [
                {"role": "system", "content": "You are the Acme support assistant."},
                {"role": "user", "content": _raw_text(rng, int(kinds[i]))},
            ],
            "max_tokens": 64,
            "stream": bool(rng.random() < stream_share),
            "user": f"synth-user-{int(rng.integers(50)):03d}",
        }
        out.append((KINDS[int(kinds[i])], body))
    return out


async def send_async(
    base_url: str,
    api_key: str,
    n: int = 100,
    concurrency: int = 8,
    *,
    models: Sequence[str] = ("echo",),
    seed: int = 0,
    timeout_s: float = 60.0,
) -> SendReport:
    """Send ``n`` requests of the mix to ``base_url`` (``http://host:port``) with at most
    ``concurrency`` in flight; read every answer (streams to their end)."""
    import aiohttp

    requests = build_requests(n, models, seed)
    report = SendReport(sent=n, seconds=0.0)
    gate = asyncio.Semaphore(concurrency)
    url = base_url.rstrip("/") + "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {api_key}"}
    t0 = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:

        async def one(kind: str, body: dict[str, Any]) -> None:
            async with gate, session.post(url, data=json.dumps(body)) as resp:
                await resp.read()
                report.statuses[resp.status] += 1
                report.kinds[kind] += 1
                rid = resp.headers.get("x-workbench-request-id")
                if rid:
                    report.request_ids.append(rid)

        await asyncio.gather(*(one(k, b) for k, b in requests))
    report.seconds = time.perf_counter() - t0
    return report


def send(
    base_url: str, api_key: str, n: int = 100, concurrency: int = 8, **kwargs: Any
) -> SendReport:
    """:func:`send_async` from synchronous code (safe inside a running event loop: the
    requests run on a private loop in a worker thread)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(asyncio.run, send_async(base_url, api_key, n, concurrency, **kwargs))
        return future.result()
