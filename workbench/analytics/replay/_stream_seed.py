"""Verdict reuse for a streamed answer's whole-text check.

A streamed answer's output checks run window by window, then once more on the whole
released text (:meth:`StreamGuard.finish`, for checks that need it whole). That last
run logs only its failures, so the memo seeded from the logged verdicts holds no result
for it and a replay would recompute it: one ML text per streamed answer (the model
loaded in every worker for it), although nothing about it changed.

The log says enough to know its result exactly when the logged stream ran to its end
untouched: the answer was streamed to the end (status ``ok``, a finish reason), what the
client received is the raw upstream text (so every window was released as it came and
the whole text checked was that raw text), no output window check failed, and no
whole-text failure was logged. Then every enforcing output check that ran on the windows
passed on the whole raw text: :func:`whole_text_seeds` gives those (config hash, text
hash) pairs, for the checks whose result depends on the text only (not on the request).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from workbench.guardrails._memo import reuse_key, text_digest


def eligible_checks(engine: Any) -> frozenset[str]:
    """Config hashes of ``engine``'s enforcing output checks whose result depends on the
    text only (not the request; io-bound checks are never reused)."""
    return frozenset(
        c.config_hash
        for c in engine.stages.get("output", [])
        if c.mode != "log_only"
        and not c.reads_request
        and not getattr(c.validator, "io_bound", False)
    )


def used_checks(engine: Any) -> frozenset[str]:
    """Config hashes of the checks of ``engine`` whose results a memo may serve (every
    stage, log-only ones included; io-bound checks are never reused): a logged verdict
    of any other configuration is never looked up, so not worth seeding."""
    return frozenset(
        c.config_hash
        for checks in engine.stages.values()
        for c in checks
        if not getattr(c.validator, "io_bound", False)
    )


def _raw_answer(row: Mapping[str, Any], outputs: list[Any]) -> str | None:
    """The streamed raw answer, when the client received exactly it."""
    answers = [o for o in outputs if isinstance(o, dict)]
    if len(answers) != 1:
        return None
    text = answers[0].get("text")
    if not isinstance(text, str) or not text or row.get("response_body") != text:
        return None
    return text


def whole_text_seeds(
    row: Mapping[str, Any],
    verdicts: list[Any],
    outputs: list[Any],
    eligible: Collection[str],
) -> list[tuple[str, str]]:
    """``(config hash, text hash)`` of the whole-text output checks that passed on this
    logged stream (empty unless the stream ran to its end untouched, see the module)."""
    if not eligible or not row.get("stream") or row.get("status") != "ok":
        return []
    if not row.get("finish_reason") or row.get("output_masked"):
        return []
    windowed = [
        v
        for v in verdicts
        if isinstance(v, dict) and v.get("stage") == "output" and isinstance(v.get("window"), int)
    ]
    if not windowed or not all(v.get("passed") for v in windowed):
        return []  # a failure on a window or on the whole text: nothing to infer
    text = _raw_answer(row, outputs)
    if text is None:
        return []
    key = reuse_key([text_digest(text)], [0], None)
    ran = {v.get("config_hash") for v in windowed if v["window"] >= 0}
    return [(cfg, key) for cfg in sorted(c for c in ran if isinstance(c, str) and c in eligible)]
