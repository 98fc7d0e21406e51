"""Evaluate the ML heads on eval-only data (``workbench guardrails eval``): the driver.

Nothing here fits or tunes anything: every check runs with its committed weights and
the threshold chosen at training time. The sets, metrics and bootstrap intervals come
from :mod:`workbench.analytics.evaluation` (the project's one evaluation library, which
also evaluates whole policies: ``workbench guardrails eval --policy``); what is specific
here is scoring the heads directly (scores, AUC, cold per-text latency).

:func:`run` runs every set's evaluation (:mod:`workbench.guardrails.ml.eval_sets`:
prompt-injection test split, XSTest over-blocking, BIPIA indirect injection, Presidio
held-out PII, latency) and adds the host, weight and dataset hashes;
:mod:`workbench.guardrails.ml.eval_report` formats and writes the report. The names of
both are re-exported here.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.guardrails.ml import data
from workbench.guardrails.ml.eval_report import COLUMNS, table, write
from workbench.guardrails.ml.eval_sets import (
    BATCH,
    INPUT_CHECKS,
    PATTERN_ENTITIES,
    _limit,
    bipia_set,
    eval_bipia,
    eval_pattern_pii,
    eval_pii,
    eval_prompt_injection,
    eval_xstest,
    latency,
    xstest,
)
from workbench.guardrails.ml.heads import head_dir, read_manifest
from workbench.guardrails.ml.scorer import PII_NER, TEXT_CLASSIFIERS, LocalScorer


# ------------------------------------------------------------------ driver
def dataset_records() -> list[dict[str, str]]:
    """Name, path, sha256 and role of every set the eval reads."""
    names = [
        "prompt_injection_test",
        "xstest_prompts",
        "bipia_email_test",
        "bipia_text_attack_test",
        "bipia_code_attack_test",
        "pii_presidio_synth",
    ]
    return [data.file_record(n, "eval") for n in names]


def weights_records(weights_dir: Path | None) -> dict[str, Any]:
    """Threshold and weight-file hash of each head (None: each head where the scorer
    finds it, the user's trained one or the committed one)."""
    out: dict[str, Any] = {}
    for name in [*TEXT_CLASSIFIERS, PII_NER]:
        m = read_manifest(name, head_dir(name, weights_dir))
        out[name] = {"threshold": m["threshold"], "weights_sha256": m["weights"]["sha256"]}
    return out


def run(
    limit: int | None = None,
    scorer: LocalScorer | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the whole evaluation; returns the report (rows, details, dataset hashes)."""
    sc = scorer or LocalScorer()
    say = progress or (lambda _msg: None)
    sc.warmup()
    rows: list[dict[str, Any]] = []
    say("prompt_injection_test ...")
    rows += eval_prompt_injection(sc, limit)
    say("xstest ...")
    xs_rows, xs_info = eval_xstest(sc, limit)
    rows += xs_rows
    say("bipia ...")
    bi_rows, bi_info = eval_bipia(sc, limit)
    rows += bi_rows
    say("presidio held-out ...")
    pii_rows, pii_info = eval_pii(sc, limit)
    rows += pii_rows
    say("pattern PII (presidio held-out) ...")
    rows += eval_pattern_pii(limit)
    say("latency ...")
    lat_texts = _limit(xstest(None)[0], 64 if limit is None else max(limit, BATCH))
    lat_texts += data.texts_labels("prompt_injection_test", "eval")[0][:64]
    lat = latency(sc, lat_texts)
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "limit": limit,
        "host": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "torch_threads": _torch_threads(),
        },
        "weights": weights_records(sc.weights_dir),
        "datasets": dataset_records(),
        "rows": rows,
        "xstest": xs_info,
        "bipia": bi_info,
        "pii": pii_info,
        "latency": lat,
    }


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


__all__ = [
    "BATCH",
    "COLUMNS",
    "INPUT_CHECKS",
    "PATTERN_ENTITIES",
    "bipia_set",
    "dataset_records",
    "eval_bipia",
    "eval_pattern_pii",
    "eval_pii",
    "eval_prompt_injection",
    "eval_xstest",
    "latency",
    "run",
    "table",
    "weights_records",
    "write",
    "xstest",
]
