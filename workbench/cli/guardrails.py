"""``workbench guardrails``: train the ML checks' heads and evaluate them.

``train`` rebuilds heads from their recipes (train-role data only) and writes weights and
manifests; ``eval`` measures the committed heads on the eval-only sets and writes a JSON
report (plus its rows as Parquet); ``eval --policy FILE`` evaluates a whole policy through
the guardrail engine on labelled sets (``--dataset``), ``--compare FILE`` puts a second
policy beside it, ``--html`` writes a self-contained report
(:mod:`workbench.analytics.evaluation`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    help="Report file (JSON; rows also as .parquet beside it). Default: "
    "$WORKBENCH_HOME/guardrails/eval.json (policy-eval.json / policy-compare.json "
    "with --policy / --compare).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Use at most N rows of each set (quick runs; with --policy a seeded sample "
    "stratified by label).",
)
@click.option(
    "--weights",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Weights directory (default: the committed weights).",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Evaluate this policy (its input stage; output stage for output sets) through "
    "the guardrail engine instead of the ML heads alone.",
)
@click.option(
    "--compare",
    "compare_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A second policy, compared with --policy on the same items (B - A deltas with "
    "paired bootstrap CIs, and the items they disagree on).",
)
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    help="Labelled set to evaluate --policy on (repeatable; default: the eval-only "
    "injection and over-blocking sets). Names: see the docs/evaluation.md table.",
)
@click.option(
    "--html",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a self-contained HTML report here (with --policy).",
)
@click.option(
    "--positive",
    type=click.Choice(["flagged", "blocked", "any"]),
    default="flagged",
    show_default=True,
    help="Policy decisions that count as catching an item: flagged = deny, fallback, "
    "retry or flag; blocked = without flag; any = also redact/fix.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling/bootstrap seed.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def eval_(
    out: Path | None,
    limit: int | None,
    weights: Path | None,
    policy_file: Path | None,
    compare_file: Path | None,
    datasets: tuple[str, ...],
    html: Path | None,
    positive: str,
    seed: int,
    progress: bool,
) -> None:
    """Evaluate the ML checks on the eval-only sets, or a policy (--policy) on labelled
    sets, and print a table."""
    from workbench.home import home

    if policy_file is None:
        for flag, given in (("--compare", compare_file), ("--dataset", datasets), ("--html", html)):
            if given:
                raise click.UsageError(f"{flag} needs --policy")
        _eval_heads(out or home() / "guardrails" / "eval.json", limit, weights)
        return
    opts = {"limit": limit, "positive": positive, "seed": seed, "progress": progress}
    default = "policy-compare.json" if compare_file else "policy-eval.json"
    _eval_policy(
        policy_file,
        compare_file,
        list(datasets) or None,
        out or home() / "guardrails" / default,
        html,
        weights,
        opts,
    )


def _eval_heads(out: Path, limit: int | None, weights: Path | None) -> None:
    """The ML heads on the eval-only sets (the command's default)."""
    from workbench.guardrails.ml import evaluate
    from workbench.guardrails.ml.scorer import LocalScorer

    report = evaluate.run(
        limit=limit,
        scorer=LocalScorer(weights),
        progress=lambda m: click.echo(m, err=True),
    )
    paths = evaluate.write(report, out)
    click.echo(evaluate.table(report))
    click.echo("\nwrote " + ", ".join(str(p) for p in paths))


def _eval_policy(
    policy_file: Path,
    compare_file: Path | None,
    datasets: list[str] | None,
    out: Path,
    html: Path | None,
    weights: Path | None,
    opts: dict[str, Any],
) -> None:
    """A policy (or two, compared) on labelled sets through the engine."""
    from workbench.analytics import evaluation as ev
    from workbench.analytics.evaluation._text import comparison_text, result_text

    unknown = [d for d in datasets or [] if d not in ev.available()]
    if unknown:
        raise click.BadParameter(
            f"unknown {', '.join(unknown)}; known: {', '.join(ev.available())}",
            param_hint="--dataset",
        )
    if weights is not None:
        from workbench.guardrails.ml.scorer import LocalScorer

        opts["scorer"] = LocalScorer(weights)
    written = [out]
    if compare_file is None:
        res = ev.evaluate(policy_file, datasets, **opts)
        res.to_json(out)
        res.metrics.write_parquet(out.with_suffix(".parquet"))
        written.append(out.with_suffix(".parquet"))
        click.echo(result_text(res))
        report: Any = res
    else:
        cmp = ev.compare(policy_file, compare_file, datasets, **opts)
        cmp.to_json(out)
        click.echo(result_text(cmp.a, checks=False) + "\n\n" + result_text(cmp.b, checks=False))
        click.echo("\n" + comparison_text(cmp))
        report = cmp
    if html is not None:
        report.to_html(html)
        written.append(html)
    click.echo("\nwrote " + ", ".join(str(p) for p in written))


__all__ = ["guardrails"]
