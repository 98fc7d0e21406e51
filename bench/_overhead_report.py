"""Printing for ``bench.gateway_overhead``: per-level tables, ratios, before vs after."""

from __future__ import annotations

import argparse
import math
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bench._before import REPO
from bench._proc import load_average

#: The rule behind the before/after verdict: added p50 may grow by at most 10% (or by the
#: noise floor, whichever is larger) and throughput may drop by at most 10%.
MAX_REGRESSION = 0.10
NOISE_FLOOR_MS = 0.3


class CellLike(Protocol):
    target: str
    level: int
    p50: float
    p99: float
    rps: float
    errors: int
    proxy_cpu_ms: float
    proxy_net_cpu_ms: float
    upstream_cpu_ms: float
    loadgen_cpu_ms: float
    error_samples: list[str]


def f(x: float | None, fmt: str = "{:.1f}") -> str:
    """A number, or ``-`` for None/NaN."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(x)


def ratio(a: float, b: float) -> str:
    """``a / b`` as ``1.23x``; ``n/a`` when undefined."""
    if math.isnan(a) or math.isnan(b) or b <= 0:
        return "n/a"
    return f"{a / b:.2f}x"


def print_level(level: int, cells: Mapping[str, CellLike]) -> None:
    """Every target at one concurrency level (direct first)."""
    direct = cells.get("direct")
    w = max([9, *(len(n) + 1 for n in cells)])
    print(f"\nconcurrency {level}")
    print(
        f"{'target':<{w}}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>9}{'+p99 ms':>9}{'req/s':>9}"
        f"{'errors':>8}{'proxy CPU':>11}{'net of idle':>13}{'upstr CPU':>11}{'loadgen CPU':>13}"
    )
    print(f"{'':<{w + 63}}{'ms/req':>11}{'ms/req':>13}{'ms/req':>11}{'ms/req':>13}")
    order = ["direct", *(n for n in cells if n != "direct")]
    for name in order:
        c = cells.get(name)
        if c is None:
            continue
        add50 = c.p50 - direct.p50 if direct and name != "direct" else math.nan
        add99 = c.p99 - direct.p99 if direct and name != "direct" else math.nan
        print(
            f"{name:<{w}}{f(c.p50, '{:.2f}'):>9}{f(c.p99, '{:.2f}'):>9}"
            f"{f(add50, '{:+.2f}'):>9}{f(add99, '{:+.2f}'):>9}{f(c.rps):>9}"
            f"{c.errors:>8}{f(c.proxy_cpu_ms, '{:.2f}'):>11}{f(c.proxy_net_cpu_ms, '{:.2f}'):>13}"
            f"{f(c.upstream_cpu_ms, '{:.2f}'):>11}{f(c.loadgen_cpu_ms, '{:.2f}'):>13}"
        )
        for s in c.error_samples:
            print(f"{'':<{w}}error: {s}")


def print_ratios(levels: list[int], table: dict[int, dict[str, Any]], ours: list[str]) -> None:
    """Our gateway legs against LiteLLM and the floor."""
    rows = []
    for lv in levels:
        cells = table.get(lv, {})
        d = cells.get("direct")
        for name in ours:
            g = cells.get(name)
            if d is None or g is None:
                continue
            for other in ("litellm", "floor"):
                o = cells.get(other)
                if o is None:
                    continue
                rows.append(
                    f"  c={lv:<4} {name:<15} vs {other:<8} added p50 "
                    f"{ratio(g.p50 - d.p50, o.p50 - d.p50):>8}   req/s {ratio(g.rps, o.rps):>7}"
                )
    if rows:
        print(
            "\nour gateway relative to (added p50: ours / theirs, lower is better; "
            "req/s: ours / theirs, higher is better)"
        )
        print("\n".join(rows))


@dataclass
class Comparison:
    """Before vs after at one policy and level."""

    policy: str
    level: int
    before: CellLike
    after: CellLike
    direct_p50: float

    @property
    def added(self) -> tuple[float, float]:
        return self.before.p50 - self.direct_p50, self.after.p50 - self.direct_p50

    @property
    def regressed(self) -> bool:
        b, a = self.added
        slower = a - b > max(MAX_REGRESSION * max(b, 0.0), NOISE_FLOOR_MS)
        fewer = self.after.rps < (1 - MAX_REGRESSION) * self.before.rps
        return slower or fewer

    def as_dict(self) -> dict[str, Any]:
        b, a = self.added
        return {
            "policy": self.policy,
            "level": self.level,
            "p50_ms": [self.before.p50, self.after.p50],
            "added_p50_ms": [b, a],
            "rps": [self.before.rps, self.after.rps],
            "net_cpu_ms_per_req": [self.before.proxy_net_cpu_ms, self.after.proxy_net_cpu_ms],
            "regressed": self.regressed,
        }


def comparisons(
    levels: list[int], table: dict[int, dict[str, Any]], policies: list[str]
) -> list[Comparison]:
    """Every (policy, level) where both the before and the after leg ran."""
    out = []
    for pol in policies:
        for lv in levels:
            cells = table.get(lv, {})
            b, a, d = cells.get(f"before/{pol}"), cells.get(f"after/{pol}"), cells.get("direct")
            if b is not None and a is not None and d is not None:
                out.append(Comparison(pol, lv, b, a, d.p50))
    return out


def print_side_by_side(comps: list[Comparison], before_rev: str, after_rev: str) -> None:
    """The before/after table and its verdict."""
    if not comps:
        return
    print(f"\n=== before ({before_rev}) vs after ({after_rev}); ratio = after / before ===")
    print(
        f"{'policy':<9}{'c':>3} |{'p50 ms':>8}{'':>8}{'':>7} |{'+p50 ms':>8}{'':>8}{'':>7} |"
        f"{'req/s':>8}{'':>8}{'':>7} |{'CPU ms/req':>11}{'':>7}{'':>7} | verdict"
    )
    sub = f"{'before':>8}{'after':>8}{'ratio':>7} |"
    print(f"{'':<12} |{sub}{sub}{sub}{'before':>11}{'after':>7}{'ratio':>7} |")
    for c in comps:
        b_add, a_add = c.added
        bn, an = c.before.proxy_net_cpu_ms, c.after.proxy_net_cpu_ms
        print(
            f"{c.policy:<9}{c.level:>3} |{f(c.before.p50, '{:.2f}'):>8}"
            f"{f(c.after.p50, '{:.2f}'):>8}"
            f"{ratio(c.after.p50, c.before.p50):>7} |{f(b_add, '{:+.2f}'):>8}"
            f"{f(a_add, '{:+.2f}'):>8}{ratio(a_add, b_add):>7} |{f(c.before.rps):>8}"
            f"{f(c.after.rps):>8}{ratio(c.after.rps, c.before.rps):>7} |{f(bn, '{:.2f}'):>11}"
            f"{f(an, '{:.2f}'):>7}{ratio(an, bn):>7} | "
            f"{'REGRESSED' if c.regressed else 'ok'}"
        )
    print(
        f"(regressed: added p50 grew by more than {MAX_REGRESSION:.0%} of before's, and by "
        f"more than {NOISE_FLOOR_MS} ms, or req/s fell by more than {MAX_REGRESSION:.0%}; "
        "CPU is the gateway process tree's, net of its idle rate)"
    )


def print_ttft(rows: dict[str, dict[str, Any]]) -> None:
    """Time to first token per leg (streams with no sentence end)."""
    if not rows:
        return
    print("\n=== time to first token: one stream at a time, text with no sentence end ===")
    print(
        f"{'leg':<16}{'streams ok':>11}{'TTFT p50 ms':>13}{'whole p50 ms':>14}{'text events':>13}"
    )
    for name, r in rows.items():
        print(
            f"{name:<16}{str(r['ok']) + '/' + str(r['streams']):>11}"
            f"{f(r['ttft_p50_ms']):>13}{f(r['total_p50_ms']):>14}"
            f"{f(r['text_events_p50'], '{:g}'):>13}"
        )
        for e in r.get("errors", []):
            print(f"{'':<16}error: {e}")


def _after_rev(a: argparse.Namespace) -> str:
    if a.after:
        return subprocess.run(
            ["git", "rev-parse", "--short=12", a.after], capture_output=True, text=True, cwd=REPO
        ).stdout.strip()
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=REPO,
        ).stdout.strip()
    except OSError:
        return "this checkout"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def report(
    a: argparse.Namespace,
    table: dict[int, dict[str, Any]],
    ours: dict[str, Any],
    ttft: dict[str, Any],
    before_rev: str | None,
) -> list[Comparison]:
    """Print every table; the before/after comparisons."""
    levels = a.level_list
    print("\n=== results (medians) ===")
    for lv in levels:
        if table[lv]:
            print_level(lv, table[lv])
    print_ratios(levels, table, list(ours))
    comps = comparisons(levels, table, a.policies)
    if before_rev:
        print_side_by_side(comps, before_rev, _after_rev(a))
    print_ttft(ttft)
    for name, r in ours.items():
        extra = f"; {r['under_policy']} rows under policy 'default'" if "under_policy" in r else ""
        print(
            f"\nrequest log of {name}: {r['logged']} rows for {r['sent']} requests sent "
            f"(warm-up and TTFT streams included): {r['verdict']}{extra}"
        )
    print(f"\nload average after: {load_average()} (other work on the machine skews the figures)")
    print(
        "\nCPU columns: CPU time of the process tree during the counted phase / requests "
        "(the gateway's tree includes all of Ray's processes); 'net of idle' subtracts the "
        "tree's idle CPU rate (measured for 2 s before the load) x the phase's wall time."
    )
    return comps
