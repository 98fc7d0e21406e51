"""Per-check latency of the cheap (non-ML) guardrail checks.

``python -m bench.guardrails_cheap [--n 1000] [--seed 0] [--checks pii,secrets]
[--min-chars 200] [--max-chars 2000]``

Builds every cheap check through the catalogue (as the engine does), warms it once, then
times ``validator.validate(text, metadata)`` on ``--n`` synthetic prompts of 200-2,000
characters (mostly plain English prose; some carry PII, secrets, URLs, code, JSON,
non-Latin or invisible characters, so every code path runs). Prints p50/p99/mean in
microseconds and the share of prompts each check failed, then the total of the cheap
checks of the default policy's input stage run one after the other. The webhook check is
left out (its cost is the HTTP round trip). Asserts nothing.

BLAS runs single-threaded here (``OPENBLAS_NUM_THREADS=1`` unless set), as in Ray
workers, which set ``OMP_NUM_THREADS`` to their CPU count (1 by default): with a thread
pool on a small machine, the language detector's tiny matrix products cost twice as much.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import random
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from workbench.guardrails import CheckRegistry  # noqa: E402
from workbench.guardrails.validators import CHEAP_CHECKS, register  # noqa: E402

PROSE = [
    "Could you summarise the attached quarterly report in three bullet points for my manager?",
    "The mitochondria is the powerhouse of the cell, and it produces most of the ATP.",
    "I am planning a trip to Lisbon in May and would like a three-day itinerary.",
    "Please rewrite this paragraph so that it sounds more formal and less repetitive.",
    "What are the main differences between a Roth IRA and a traditional IRA?",
    "My son is very interested in programming and would like to develop his own app.",
    "Explain the difference between supervised and unsupervised learning with examples.",
    "Write a short, friendly reminder email about tomorrow's team meeting at 10am.",
    "The committee reviewed the proposal and asked for a revised budget by Friday.",
    "How do I make a sourdough starter, and how long does it take to be ready?",
    "List five common causes of slow database queries and how to diagnose each one.",
    "Our customers keep asking about delivery times; draft an FAQ answer for the website.",
]
EXTRAS = [
    "You can reach me at jane.doe@example.com or call 541-714-1388 after six.",
    "My card number is 4111 1111 1111 1111 and it expires next month.",
    "Transfer it to IBAN DE89 3704 0044 0532 0130 00, reference 2291.",
    "The server at 192.168.10.24 keeps timing out since the last deploy.",
    "Here is the config: OPENAI_API_KEY=sk-proj-abc123DEF456ghi789JKL012mno345",
    "Use the token ghp_abcdefghijklmnopqrstuvwxyz0123456789 for the CI job.",
    "See https://docs.python.org/3/library/re.html and www.example.com/pricing for details.",
    "```python\ndef add(a, b):\n    return a + b\nprint(add(1, 2))\n```",
    "SELECT name, email FROM users WHERE created_at > '2024-01-01';",
    '{"name": "widget", "tags": ["a", "b"], "price": 12.5}',
    "Bonjour, pouvez-vous m'aider à écrire une lettre de motivation ?",
    "Please log in to p\u0430ypal.com and confirm the payment\u200b now.",
    "I was born on March 3, 1985 and live at 1668 Glyn St Apt. 4 in Springfield.",
    "You are HelpBot, the customer support assistant for Acme Corp.",
]
SYSTEM_PROMPT = (
    "You are HelpBot, the customer support assistant for Acme Corp. Never reveal internal "
    "discount codes such as ACME50. Always answer politely and escalate billing disputes to "
    "a human agent."
)
PARAMS: dict[str, dict[str, Any]] = {
    "regex_match": {"pattern": r"\b(?:please|could|how|what)\b", "flags": ["IGNORECASE"]},
    "regex_deny": {"patterns": [r"\bACC-\d{8}\b", r"\bproject\s+falcon\b"]},
    "banned_words": {
        "words": [
            "idiot",
            "stupid",
            "moron",
            "bitch",
            "bastard",
            "asshole",
            "dumbass",
            "kill yourself",
            "shut up",
            "loser",
            "jerk",
            "scumbag",
            "imbecile",
            "cretin",
            "wanker",
            "twat",
            "prick",
            "douche",
            "retard",
            "shit",
        ],
        "fuzzy": True,
    },  # fmt: skip
    "keyword_list": {"keywords": [f"Competitor{i}" for i in range(48)] + ["Acme", "Globex"]},
    "length": {"unit": "tokens", "max": 512},
    "valid_json": {},
    "json_schema": {"schema": {"type": "object", "required": ["name"]}},
    "contains": {"value": "please", "case_insensitive": True},
    "starts_with": {"values": ["Please", "Could"]},
    "ends_with": {"values": ["?", "."]},
    "case": {"mode": "sentence"},
    "code_presence": {},
    "urls": {"deny_domains": ["pastebin.com", "bit.ly"], "deny_ip_hosts": True},
    "unicode_safety": {},
    "language": {"allow": ["en"]},
    "gibberish": {},
    "secrets": {},
    "pii": {},
    "system_prompt_leak": {},
    "refusal": {},
    "required_metadata": {"keys": ["team"]},
    "model_allowlist": {"models": ["gpt-4o*", "tiny"]},
}
DEFAULT_INPUT = [("secrets", {}), ("pii", {}), ("unicode_safety", {}),
                 ("length", {"unit": "chars", "max": 32000})]  # fmt: skip


def prompts(n: int, seed: int, lo: int = 200, hi: int = 2000) -> list[str]:
    """``n`` prompts of ``lo``-``hi`` characters; about one in four carries an extra."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        target = rng.randint(lo, hi)
        parts: list[str] = []
        size = 0
        while size < target:
            s = rng.choice(EXTRAS) if rng.random() < 0.06 else rng.choice(PROSE)
            parts.append(s)
            size += len(s) + 1
        out.append(" ".join(parts)[:target])
    return out


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checks", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--min-chars", type=int, default=200)
    ap.add_argument("--max-chars", type=int, default=2000)
    args = ap.parse_args()

    reg = CheckRegistry()
    reg._loaded = True
    register(reg)
    texts = prompts(args.n, args.seed, args.min_chars, args.max_chars)
    meta = {
        "stage": "input",
        "request": {"model": "gpt-4o", "workspace": "bench", "user": "u", "metadata": {},
                    "system_prompt": SYSTEM_PROMPT},
        "scores": {},
    }  # fmt: skip
    names = [c for c in CHEAP_CHECKS if c in PARAMS]
    if args.checks:
        names = [c for c in names if c in args.checks.split(",")]
    lengths = [len(t) for t in texts]
    print(f"{len(texts)} prompts, {min(lengths)}-{max(lengths)} chars "
          f"(median {statistics.median(lengths):.0f}), seed {args.seed}")  # fmt: skip
    print(f"{'check':20s} {'p50 us':>8s} {'p99 us':>8s} {'mean us':>8s} {'failed':>7s}")
    for name in names:
        v = reg.get(name).make(PARAMS[name])
        v.validate(texts[0], meta)  # warm-up (lazy loads)
        times, fails = [], 0
        for t in texts:
            t0 = time.perf_counter_ns()
            res = v.validate(t, meta)
            times.append((time.perf_counter_ns() - t0) / 1000)
            fails += res.outcome == "fail"
        print(f"{name:20s} {_pct(times, 0.5):8.1f} {_pct(times, 0.99):8.1f} "
              f"{statistics.fmean(times):8.1f} {fails / len(texts):7.1%}")  # fmt: skip

    stage = [reg.get(n).make(p) for n, p in DEFAULT_INPUT]
    for v in stage:
        v.validate(texts[0], meta)
    totals = []
    for t in texts:
        t0 = time.perf_counter_ns()
        for v in stage:
            v.validate(t, meta)
        totals.append((time.perf_counter_ns() - t0) / 1000)
    label = "+".join(n for n, _ in DEFAULT_INPUT)
    print(f"\ndefault input policy, cheap checks ({label}):")
    print(f"  p50 {_pct(totals, 0.5):.1f} us   p99 {_pct(totals, 0.99):.1f} us")


if __name__ == "__main__":
    main()
