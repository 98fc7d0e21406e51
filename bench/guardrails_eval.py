"""ML guardrail evaluation: precision/recall/F1/FPR and latency on eval-only sets.

``python -m bench.guardrails_eval [--out FILE] [--limit N]``

The same run as ``workbench guardrails eval`` (see
:mod:`workbench.guardrails.ml.evaluate`): the prompt-injection test split, XSTest safe
prompts (over-blocking), BIPIA attacks inserted into emails, the Presidio held-out split,
and the latency of all ML checks for one text alone and per text in a batch of 32.
Prints a table and writes a JSON report (rows also as Parquet). Figures depend on the
machine and its load: the report records CPU count and load average.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print the table."""
    p = argparse.ArgumentParser(prog="python -m bench.guardrails_eval", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("guardrails_eval.json"))
    p.add_argument("--limit", type=int, default=None, help="at most N rows of each set")
    p.add_argument("--weights", type=Path, default=None, help="weights directory")
    a = p.parse_args(argv)
    if a.limit is not None and a.limit < 1:
        p.error("--limit must be positive")

    from workbench.guardrails.ml import evaluate
    from workbench.guardrails.ml.scorer import LocalScorer

    report = evaluate.run(
        limit=a.limit,
        scorer=LocalScorer(a.weights),
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    paths = evaluate.write(report, a.out)
    print(evaluate.table(report))
    print("\nwrote " + ", ".join(str(x) for x in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
