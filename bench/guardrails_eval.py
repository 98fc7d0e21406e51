"""Guardrail evaluation bench: OLD vs NEW heads in one table, the heads' report, or a
policy against a keyword baseline.

``python -m bench.guardrails_eval [--out FILE] [--limit N] [--skip-ray] [--md FILE]
[--jailbreak-sample N]``
  Issue 11's guardrail-quality table (:mod:`bench._guardrails_compare`): the heads
  committed at 579899a (OLD, read with ``git show`` into a temporary directory) and the
  working tree's heads (NEW) on the MiniLM fp32 graph, and NEW on the int8 graph, side
  by side, same code (``LocalScorer(weights_dir=...)``), each row with its target and
  MET/MISSED: prompt injection on the deepset test split; indirect injection (BIPIA test
  e-mails with test attacks, spikee documents) and clean contexts flagged; held-out
  jailbreak recall; over-blocking of ``policies/default.yaml``'s input stage (XSTest
  safe, NotInject, WildGuard benign; denied and touched); latency in-process, through the
  GuardrailScorer deployment's Ray Serve hop (``--skip-ray`` leaves it out), batched
  throughput and the cache-hit cost. Writes JSON, the entries as Parquet and the
  markdown table.

``python -m bench.guardrails_eval --heads [--out FILE] [--limit N] [--weights DIR]``
  The same run as ``workbench guardrails eval`` (see
  :mod:`workbench.guardrails.ml.evaluate`): the prompt-injection test split, XSTest safe
  prompts (over-blocking), BIPIA attacks inserted into emails, the Presidio held-out
  split, and the latency of all ML checks for one text alone and per text in a batch
  of 32. Prints a table and writes a JSON report (rows also as Parquet).

``python -m bench.guardrails_eval --policy policies/default.yaml [--limit N] [--dataset D ...]``
  The policy and a keyword baseline policy (:data:`BASELINE`: regex phrases of the usual
  injection/jailbreak openings) on the same items of the eval-only sets, through the
  guardrail engine (:func:`workbench.analytics.evaluation.compare`), printed side by
  side: P/R/F1/FPR with 95% bootstrap CIs per dataset, the paired B - A deltas, and
  seconds per item of each. ``--html`` writes the comparison report.

Figures depend on the machine and its load: the ML report records CPU count and load
average.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: A naive baseline: deny the usual injection/jailbreak phrases (what a team writes first).
BASELINE: dict[str, Any] = {
    "id": "keyword-baseline",
    "description": "regex phrases of common prompt-injection and jailbreak openings",
    "input": [
        {
            "name": "injection-phrases",
            "validator": "regex_deny",
            "on_fail": "deny",
            "params": {
                "flags": ["IGNORECASE"],
                "patterns": [
                    r"\b(ignore|disregard|forget)\b.{0,40}\b(instructions|rules|prompt|above|previous)",
                    r"\byou are now\b",
                    r"\b(DAN|do anything now|developer mode|jailbreak)\b",
                    r"\bsystem prompt\b",
                    r"\b(vergiss|ignoriere)\b",
                ],
            },
        }
    ],
}


def _heads(a: argparse.Namespace) -> int:
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


def _policy(a: argparse.Namespace) -> int:
    from workbench.analytics.evaluation import compare
    from workbench.analytics.evaluation._text import comparison_text, result_text
    from workbench.policy import parse_policy

    opts: dict[str, Any] = {"limit": a.limit, "progress": True}
    if a.weights is not None:
        from workbench.guardrails.ml.scorer import LocalScorer

        opts["scorer"] = LocalScorer(a.weights)
    base = parse_policy(BASELINE, path="<bench baseline>")
    cmp = compare(base, a.policy, a.dataset or None, **opts)
    print("A (baseline)\n" + result_text(cmp.a, checks=False))
    print("\nB (policy)\n" + result_text(cmp.b, checks=False))
    print("\n" + comparison_text(cmp))
    cmp.to_json(a.out)
    written = [a.out]
    if a.html is not None:
        cmp.to_html(a.html)
        written.append(a.html)
    print("\nwrote " + ", ".join(str(x) for x in written))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print the table(s)."""
    p = argparse.ArgumentParser(prog="python -m bench.guardrails_eval", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("guardrails_eval.json"))
    p.add_argument("--heads", action="store_true", help="the heads' report (one weights dir)")
    p.add_argument("--skip-ray", action="store_true", help="leave out the Ray Serve hop")
    p.add_argument("--md", type=Path, default=None, help="markdown table (default: --out .md)")
    p.add_argument(
        "--jailbreak-sample",
        type=int,
        default=None,
        help="score a seeded random sample of N held-out jailbreaks (default: all 791)",
    )
    p.add_argument("--old-weights", type=Path, default=None, help="OLD weights dir (not git)")
    p.add_argument("--limit", type=int, default=None, help="at most N rows of each set")
    p.add_argument("--weights", type=Path, default=None, help="weights directory")
    p.add_argument("--policy", type=Path, default=None, help="evaluate this policy file")
    p.add_argument("--dataset", action="append", help="labelled set (repeatable; --policy)")
    p.add_argument("--html", type=Path, default=None, help="comparison report (--policy)")
    a = p.parse_args(argv)
    if a.limit is not None and a.limit < 1:
        p.error("--limit must be positive")
    if a.policy is None and (a.dataset or a.html):
        p.error("--dataset and --html need --policy")
    if a.policy is not None:
        return _policy(a)
    if a.heads:
        return _heads(a)
    from bench._guardrails_compare import run

    return run(a)


if __name__ == "__main__":
    raise SystemExit(main())
