"""``workbench guardrails``: train the ML checks' heads and evaluate them.

``train`` rebuilds heads from their recipes (train-role data only) and writes weights and
manifests; ``eval`` measures the committed heads on the eval-only sets and writes a JSON
report (plus its rows as Parquet).
"""

from __future__ import annotations

from pathlib import Path

import click

from workbench.cli._common import WorkbenchGroup

CHECK_CHOICES = ["all", "prompt_injection", "jailbreak", "toxicity", "pii_ner"]


@click.group(cls=WorkbenchGroup)
def guardrails() -> None:
    """Train and evaluate the ML guardrail checks."""


@guardrails.command()
@click.option(
    "--check",
    "checks",
    multiple=True,
    type=click.Choice(CHECK_CHOICES),
    default=("all",),
    show_default=True,
    help="Head to train (repeatable).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for weights + manifests (default: $WORKBENCH_HOME/guardrails/weights; "
    "the committed heads in the package are only rewritten when named here).",
)
def train(checks: tuple[str, ...], out: Path | None) -> None:
    """Retrain heads from their recipes; writes <name>.npz and <name>.json."""
    from workbench.guardrails.ml.train import train as run_train

    written = run_train(list(checks), out, progress=lambda m: click.echo(m, err=True))
    for name, path in written.items():
        click.echo(f"{name}\t{path}")


@guardrails.command("eval")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Report file (JSON; rows also as .parquet beside it). "
    "Default: $WORKBENCH_HOME/guardrails/eval.json.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Use at most N rows of each set (quick runs).",
)
@click.option(
    "--weights",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Weights directory (default: the committed weights).",
)
def eval_(out: Path | None, limit: int | None, weights: Path | None) -> None:
    """Evaluate the ML checks on the eval-only sets and print a table."""
    from workbench.guardrails.ml import evaluate
    from workbench.guardrails.ml.scorer import LocalScorer
    from workbench.home import home

    report = evaluate.run(
        limit=limit,
        scorer=LocalScorer(weights),
        progress=lambda m: click.echo(m, err=True),
    )
    target = out or home() / "guardrails" / "eval.json"
    paths = evaluate.write(report, target)
    click.echo(evaluate.table(report))
    click.echo("\nwrote " + ", ".join(str(p) for p in paths))


__all__ = ["guardrails"]
