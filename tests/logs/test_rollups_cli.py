"""``workbench logs rollups rebuild`` restores rollups the aggregates read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench import logs
from workbench.cli import main
from workbench.logstore import rollups

from .conftest import N

RANGE = dict(since="2024-05-01T10:00:00Z", until="2024-05-01T13:00:00Z")


def test_rebuild_restores_lost_rollups(lake: Path) -> None:
    before = logs.rates(**RANGE, by="workspace", root=lake)
    shutil.rmtree(rollups.rollup_dir(lake))
    assert logs.rates(**RANGE, root=lake)["requests"][0] == 0
    result = CliRunner().invoke(main, ["logs", "rollups", "rebuild"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.output
    assert logs.rates(**RANGE, root=lake)["requests"][0] == N
    after = logs.rates(**RANGE, by="workspace", root=lake)
    counts = ["workspace", "requests", "errors", "rejected", "blocks", "cache_hits"]
    after, before = after.sort("workspace"), before.sort("workspace")  # tied request counts
    assert after.select(counts).equals(before.select(counts))
    assert after["cost_usd"].to_list() == pytest.approx(before["cost_usd"].to_list())
