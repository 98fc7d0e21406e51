"""MiniLM encoder benchmark: torch vs ONNX Runtime side by side, in one run.

Legs (texts from ``datasets/paraphrases.jsonl``): one short sentence, a batch of 8, a
batch of 64 (``Embedder.encode``), and one long text of several windows
(``Featurizer.encode``: embeddings and token states, as the ML guardrails use it). Each
backend runs with 1 and 2 intra-op threads (torch: ``torch.set_num_threads``; ONNX:
``WORKBENCH_EMBED_THREADS``). Repetitions are interleaved round-robin over the
configurations, so a change of machine load hits all of them alike. Prints p50/p95 ms
per call and texts/s (from the p50), then the agreement of the two backends (cosine of
embeddings and token states).

Run: ``.venv/bin/python -m bench.encoder`` (``--reps 5`` for a quick look).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from workbench.guardrails.ml.encoder import Featurizer
from workbench.providers.embeddings import Embedder

DATA = Path(__file__).resolve().parents[1] / "datasets" / "paraphrases.jsonl"


@dataclass
class Config:
    """One backend with a thread count."""

    backend: str
    threads: int
    embedder: Embedder
    featurizer: Featurizer
    times: dict[str, list[float]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``onnx x1`` and the like."""
        return f"{self.backend} x{self.threads}"


def sentences() -> list[str]:
    """The paraphrase set's texts (both sides), in file order."""
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    return [text for row in rows for text in (row["a"], row["b"])]


def build(threads: list[int]) -> list[Config]:
    """A torch and an ONNX embedder per thread count, sharing one loaded model."""
    base = Embedder.load(device="cpu", backend="torch")
    configs = []
    for n in threads:
        for backend in ("torch", "onnx"):
            os.environ["WORKBENCH_EMBED_THREADS"] = str(n)
            emb = Embedder(base.model, base.tokenizer, device="cpu", backend=backend)
            configs.append(Config(backend, n, emb, Featurizer(emb)))
    return configs


def _timed(config: Config, fn: Callable[[], object]) -> float:
    import torch

    if config.backend == "torch":
        torch.set_num_threads(config.threads)
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def legs(texts: list[str]) -> dict[str, tuple[int, Callable[[Config], object]]]:
    """Leg name -> (texts per call, call)."""
    long_text = " ".join(texts[:160])
    return {
        "1 short sentence": (1, lambda c: c.embedder.encode(texts[:1])),
        "batch of 8": (8, lambda c: c.embedder.encode(texts[8:16])),
        "batch of 64": (64, lambda c: c.embedder.encode(texts[64:128])),
        "long text (featurizer)": (1, lambda c: c.featurizer.encode([long_text])),
    }


def run(configs: list[Config], reps: int, texts: list[str]) -> None:
    """Time every leg ``reps`` times per configuration (round-robin), one warm-up each."""
    for name, (_, call) in legs(texts).items():
        for config in configs:
            _timed(config, partial(call, config))
            config.times[name] = []
        for _ in range(reps):
            for config in configs:
                config.times[name].append(_timed(config, partial(call, config)))


def report(configs: list[Config], texts: list[str]) -> None:
    """The side-by-side table: p50 / p95 ms and texts/s per leg and configuration."""
    head = "".join(f"{c.label:>26}" for c in configs)
    print(f"{'leg (p50 / p95 ms, texts/s)':<26}{head}")
    for name, (n, _) in legs(texts).items():
        cells = []
        for c in configs:
            p50, p95 = np.percentile(c.times[name], [50, 95])
            cells.append(f"{p50:>8.1f} /{p95:>7.1f} {n * 1000.0 / p50:>7.1f}/s")
        print(f"{name:<26}" + "".join(f"{cell:>26}" for cell in cells))


def agreement(configs: list[Config], texts: list[str]) -> None:
    """Cosine of torch vs ONNX embeddings (short and multi-window) and token states."""
    torch_c = next(c for c in configs if c.backend == "torch")
    onnx_c = next(c for c in configs if c.backend == "onnx")
    batch = texts[:200] + [" ".join(texts[:160])]
    a, b = torch_c.embedder.encode(batch), onnx_c.embedder.encode(batch)
    print(f"embeddings, {len(batch)} texts: min cosine {float((a * b).sum(axis=1).min()):.7f}")
    ea = torch_c.featurizer.encode(batch[-3:])
    eb = onnx_c.featurizer.encode(batch[-3:])
    win = [
        (x, y)
        for p, q in zip(ea, eb, strict=True)
        for x, y in zip(p.windows, q.windows, strict=True)
    ]
    sa = np.concatenate([x.states for x, _ in win])
    sb = np.concatenate([y.states for _, y in win])
    cos = (sa * sb).sum(1) / (np.linalg.norm(sa, axis=1) * np.linalg.norm(sb, axis=1))
    emb = min(float(x.embedding @ y.embedding) for x, y in win)
    print(
        f"featurizer, {len(win)} windows: min window cosine {emb:.7f}, "
        f"min token-state cosine {float(cos.min()):.7f} over {len(sa)} tokens"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the legs, print the table and the agreement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30, help="timed calls per leg and config")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    args = parser.parse_args(argv)
    texts = sentences()
    configs = build([int(x) for x in args.threads.split(",")])
    print(f"load average at start: {os.getloadavg()[0]:.2f}, cores: {os.cpu_count()}")
    started = time.perf_counter()
    run(configs, args.reps, texts)
    report(configs, texts)
    agreement(configs, texts)
    print(
        f"{args.reps} reps per leg, {time.perf_counter() - started:.0f} s; "
        f"load average at end: {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
