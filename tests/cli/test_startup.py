"""The CLI starts light: everyday commands never import the heavy stacks.

Each command runs in a fresh interpreter (``python -c``) that imports the CLI, invokes it
and then reports which heavy top-level packages ended up in ``sys.modules``. No timings:
what is imported is what costs the seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from workbench.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "ray", "transformers", "guardrails", "sklearn")

PROBE = """
import json, sys
from workbench.cli import main
try:
    main(sys.argv[1:], prog_name="workbench")
    code = 0
except SystemExit as exc:
    code = exc.code or 0
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("\\n" + json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def probe(args: list[str], home: Path) -> tuple[dict[str, object], str]:
    env = {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    last = proc.stderr.strip().splitlines()[-1]
    return json.loads(last), proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["keys", "list"],
        ["keys", "--help"],
        ["policy", "list"],
        ["policy", "audit"],
        ["logs", "schema"],
        ["logs", "--help"],
        ["guardrails", "--help"],
        ["status", "--json"],
    ],
    ids=" ".join,
)
def test_light_commands_import_no_heavy_stack(args: list[str], wb_home: Path) -> None:
    report, _ = probe(args, wb_home)
    assert report["heavy"] == [], f"`workbench {' '.join(args)}` imported {report['heavy']}"
    expected = 3 if args[0] == "status" else 0  # no gateway runs: status says so with 3
    assert report["code"] == expected


def test_help_lists_every_command_group(wb_home: Path) -> None:
    report, out = probe(["--help"], wb_home)
    assert report["code"] == 0
    for name in COMMANDS:
        assert f"  {name} " in out, out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_lazy_command_loads_and_has_help(name: str) -> None:
    command = main.get_command(click_context(), name)
    assert command is not None and command.name == name
    result = CliRunner().invoke(main, [name, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Usage: main " + name in result.output or f"Usage: workbench {name}" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["nope"])
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.output


def click_context() -> click.Context:
    return click.Context(main)
