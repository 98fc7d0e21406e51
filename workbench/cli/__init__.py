"""The ``workbench`` command line.

One module per command group: :mod:`workbench.cli.keys`, :mod:`workbench.cli.logs`, and the
gateway lifecycle commands (``up``, ``down``, ``status``) in :mod:`workbench.cli.gateway`.
Every option can also be given as a ``WORKBENCH_*`` environment variable (click's
``auto_envvar_prefix``: ``workbench keys list --workspace W`` reads
``WORKBENCH_KEYS_LIST_WORKSPACE``); ``--home`` is ``WORKBENCH_HOME``. Expected errors print
one line on stderr and exit with code 2.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from workbench.cli._common import WorkbenchGroup
from workbench.cli.gateway import down, status, up
from workbench.cli.guardrails import guardrails
from workbench.cli.keys import keys
from workbench.cli.logs import logs
from workbench.cli.policy import policy

__all__ = ["main"]


@click.group(
    cls=WorkbenchGroup,
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


main.add_command(up)
main.add_command(down)
main.add_command(status)
main.add_command(keys)
main.add_command(logs)
main.add_command(policy)
main.add_command(guardrails)
