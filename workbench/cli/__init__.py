"""The ``workbench`` command line.

One module per command group: :mod:`workbench.cli.keys`, :mod:`workbench.cli.logs`,
:mod:`workbench.cli.policy`, :mod:`workbench.cli.guardrails`, and the gateway lifecycle
commands (``up``, ``down``, ``status``) in :mod:`workbench.cli.gateway`.
Every option can also be given as a ``WORKBENCH_*`` environment variable (click's
``auto_envvar_prefix``: ``workbench keys list --workspace W`` reads
``WORKBENCH_KEYS_LIST_WORKSPACE``); ``--home`` is ``WORKBENCH_HOME``. Expected errors print
one line on stderr and exit with code 2.

Start-up stays light: a command group's module is imported only when that group runs (or
when ``--help`` lists it), and each module imports its heavy dependencies (DuckDB, Ray,
torch, guardrails-ai) inside the commands that need them.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from workbench.cli._common import LazyGroup

__all__ = ["main"]

COMMANDS = {
    "up": "workbench.cli.gateway:up",
    "down": "workbench.cli.gateway:down",
    "status": "workbench.cli.gateway:status",
    "deploy": "workbench.cli.deploy:deploy",
    "keys": "workbench.cli.keys:keys",
    "workspaces": "workbench.cli.workspaces:workspaces",
    "members": "workbench.cli.members:members",
    "logs": "workbench.cli.logs:logs",
    "policy": "workbench.cli.policy:policy",
    "guardrails": "workbench.cli.guardrails:guardrails",
    "cost": "workbench.cli.cost:cost",
    "anomalies": "workbench.cli.anomalies:anomalies",
    "demo": "workbench.cli.demo:demo",
    "replay": "workbench.cli.replay:replay",
    "report": "workbench.cli.report:report",
    "dashboard": "workbench.cli.dashboard:dashboard",
    "cache": "workbench.cli.cache:cache",
    "audit": "workbench.cli.audit:audit",
    "data": "workbench.cli.data:data",
    "credentials": "workbench.cli.credentials:credentials",
    "budgets": "workbench.cli.budgets:budgets",
    "limits": "workbench.cli.limits:limits",
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"auto_envvar_prefix": "WORKBENCH", "help_option_names": ["-h", "--help"]},
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="WORKBENCH_HOME",
    help="State directory (default ./.workbench). Env: WORKBENCH_HOME.",
)
@click.version_option(package_name="llm-workbench", prog_name="workbench")
def main(home: Path | None) -> None:
    """LLM gateway and governance workbench."""
    if home is not None:
        os.environ["WORKBENCH_HOME"] = str(home.expanduser().resolve())
