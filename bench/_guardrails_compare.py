"""The guardrail-quality run: OLD vs NEW heads (fp32) and NEW on int8, one table.

``python -m bench.guardrails_eval`` calls :func:`run`. Configurations (same code, only
the weights directory and the encoder graph differ):

* ``OLD``: the heads committed at :data:`bench._guardrails_old.OLD_REV` (before issue
  11's retraining), extracted with git into a temporary directory, fp32 MiniLM;
* ``NEW fp32``: the working tree's ``workbench/guardrails/ml/weights``, fp32 MiniLM;
* ``NEW int8``: the same heads on the int8 MiniLM graph.

Accuracy rows come from :mod:`bench._guardrails_quality` (eval-only sets, read for
evaluation), speed rows from :mod:`bench._guardrails_latency`; :mod:`bench._guardrails_rows`
lays them side by side with targets. Output: the table on stdout, JSON at ``--out``, the
entries as Parquet beside it, the markdown table at ``--md`` (default ``--out`` with
``.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import _guardrails_rows as rows
from bench._guardrails_old import OLD_REV, extract_weights

ROOT = Path(__file__).resolve().parents[1]
NEW_WEIGHTS = ROOT / "workbench" / "guardrails" / "ml" / "weights"
POLICY = ROOT / "policies" / "default.yaml"
POLICY_FILES = ("xstest_prompts", "notinject_one", "notinject_two", "notinject_three")


def latency_texts(n: int = 64) -> list[str]:
    """Prompts to time one at a time: XSTest safe and deepset test (eval-only) in turn."""
    from workbench.analytics.evaluation._builtin import xstest
    from workbench.guardrails.ml import data

    safe = xstest(None)[0]
    deepset = data.texts_labels("prompt_injection_test", "eval")[0]
    mixed = [t for pair in zip(safe, deepset, strict=False) for t in pair]
    return mixed[:n]


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _scorers(old: Path, memo: bool) -> tuple[dict[str, Any], Any]:
    """The three configurations' scorers and a function that drops the encoding memo."""
    from bench._guardrails_quality import SharedFeaturizer
    from workbench.guardrails.ml.encoder import Featurizer
    from workbench.guardrails.ml.scorer import LocalScorer
    from workbench.providers.embeddings import Embedder

    base = Embedder.load(device="cpu", backend="onnx")
    fp32: Featurizer
    int8: Featurizer
    if memo:
        fp32, int8 = SharedFeaturizer(base), SharedFeaturizer(base, precision="int8")
    else:
        fp32, int8 = Featurizer(base), Featurizer(base, precision="int8")
    scorers = {
        "OLD": LocalScorer(old, featurizer=fp32),
        "NEW fp32": LocalScorer(NEW_WEIGHTS, featurizer=fp32),
        "NEW int8": LocalScorer(NEW_WEIGHTS, featurizer=int8),
    }

    def forget() -> None:
        for f in (fp32, int8):
            if isinstance(f, SharedFeaturizer):
                f.forget()

    return scorers, forget


def measure(a: argparse.Namespace, old: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every entry of the table, and the provenance of the data read."""
    from bench import _guardrails_latency as lat
    from bench import _guardrails_quality as q
    from bench._guardrails_sets import load
    from workbench.guardrails.ml import data

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    scorers, forget = _scorers(old, memo=True)
    for s in scorers.values():
        s.warmup()
    sets = load(a.limit, a.jailbreak_sample)
    entries = q.ml_entries(scorers, sets, forget, _say)
    timings["heads_s"] = time.perf_counter() - t0
    for c, s in scorers.items():
        _say(f"default input policy, {c} ...")
        entries += q.policy_entries(c, q.policy_decisions(POLICY, s, a.limit))
        forget()
        s.clear_cache()
    timings["policy_s"] = time.perf_counter() - t0 - timings["heads_s"]
    del scorers
    forget()
    _say("latency in-process ...")
    texts = latency_texts(64 if a.limit is None else max(32, min(a.limit, 64)))
    fresh, _ = _scorers(old, memo=False)
    entries += lat.local_entries(fresh, POLICY, texts)
    if not a.skip_ray:
        _say("latency through the GuardrailScorer hop (Ray, under /tmp/ray.lock) ...")
        kw = {"OLD": (old, "fp32"), "NEW fp32": (NEW_WEIGHTS, "fp32")}
        kw["NEW int8"] = (NEW_WEIGHTS, "int8")
        deps = {c: {"weights_dir": str(d), "precision": p} for c, (d, p) in kw.items()}
        try:
            entries += lat.hop_entries(deps, POLICY, texts)
        except Exception as exc:  # the rest of the run is still worth writing
            _say(f"WARNING: the Serve hop was not measured: {type(exc).__name__}: {exc}")
            timings["hop_failed"] = 1.0
    timings["total_s"] = time.perf_counter() - t0
    files = sets.files + [data.file_record(n, "eval") for n in POLICY_FILES]
    files.append(data.file_record("wildguard_benign", "eval"))
    return entries, {"datasets": files, "timings": timings, "latency_texts": len(texts)}


def _weights(old: Path) -> dict[str, Any]:
    from workbench.guardrails.ml.evaluate import weights_records

    return {"OLD": {"rev": OLD_REV, **weights_records(old)}, "NEW": weights_records(NEW_WEIGHTS)}


def write(report: dict[str, Any], out: Path, md: Path) -> list[Path]:
    """JSON (strict: NaN as null), the entries as Parquet, the markdown table."""
    import polars as pl

    from workbench.analytics.evaluation._result import finite

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(finite(report), indent=2, allow_nan=False) + "\n")
    pq = out.with_suffix(".parquet")
    pl.DataFrame(report["entries"], infer_schema_length=None).write_parquet(pq)
    md.write_text(report["markdown"] + "\n")
    return [out, pq, md]


def run(a: argparse.Namespace) -> int:
    """Measure, print the table, write the files."""
    load0 = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="wb-old-weights-") as tmp:
        old = a.old_weights
        if old is None:
            old = Path(tmp)
            extract_weights(old)
        entries, info = measure(a, old)
        weights = _weights(old)
    table = rows.pivot(entries)
    md = rows.markdown(table)
    ok, why = rows.holds(entries)
    verdict = "int8 holds fp32's accuracy" if ok else "int8 does NOT hold fp32's accuracy: "
    verdict += "; ".join(why)
    report = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "limit": a.limit,
        "ray_hop": not a.skip_ray,
        "jailbreak_sample": a.jailbreak_sample,
        "host": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg_start": load0,
            "load_avg_end": list(os.getloadavg()),
        },
        "weights": weights,
        **info,
        "entries": entries,
        "table": table,
        "markdown": md,
        "int8_holds": {"verdict": ok, "failing_rows": why},
    }
    print(rows.text(table))
    print(f"\n{verdict} (every accuracy figure inside NEW fp32's 95% interval, no target lost)")
    paths = write(report, a.out, a.md or a.out.with_suffix(".md"))
    print(
        f"\nload average {load0[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
        f"{info['timings']['total_s']:.0f} s\nwrote " + ", ".join(str(p) for p in paths)
    )
    return 0


__all__ = ["NEW_WEIGHTS", "POLICY", "latency_texts", "measure", "run", "write"]
