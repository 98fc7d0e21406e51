"""bench/log_scale.py in quick mode: it generates, reads back and prints every line."""

from __future__ import annotations

import pytest

from bench import log_scale


def test_quick_mode_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert log_scale.main(["--rows", "20000", "--days", "2", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("rows in the lake: "))
    assert int(line.split(": ")[1].split(";")[0].replace(",", "")) > 5000  # a weekend: < 20k
    for name in ("traffic over time", "latency p50/p95/p99", "spend by workspace", "top 10 keys",
                 "rates by workspace", "log page"):  # fmt: skip
        line = next(line for line in out.splitlines() if name in line)
        assert line.rstrip().endswith("x")
