"""ONNX Runtime for the MiniLM encoder: export once from the loaded weights, reuse after.

:func:`load_onnx_encoder` turns a loaded BERT-style ``transformers`` model into an
:class:`OnnxEncoder` (``input_ids``, ``attention_mask``, ``token_type_ids`` in, the last
hidden state out, float32, on the CPU). The graph is exported from the weights the model
holds (nothing is downloaded) with the TorchScript exporter of ``torch.onnx`` (it needs
the ``onnx`` package), once, to ``$WORKBENCH_HOME/cache/onnx/<weights-hash>.onnx`` (or
``$WORKBENCH_ONNX_CACHE``):

- the hash covers the model class, its config and every tensor of its state dict (plus
  :data:`EXPORT_VERSION`), so other weights never reuse a stale graph;
- the export writes a private temporary file in the same directory and renames it over
  the target (atomic); an exclusive ``flock`` on ``<hash>.lock`` makes a second process
  that exports at the same time wait and then reuse the first one's file;
- sessions are memoised per process (per hash and thread count): a second
  ``Embedder.load()`` in the same process builds no new session.

The default graph is fp32: it gives the same vectors as torch (cosine >= 0.9999,
tested), which the trained guardrail heads and the semantic cache rely on. An int8 graph
(``precision="int8"``) is built from the fp32 one with ONNX Runtime's dynamic
quantisation (:func:`quantize_int8`: the MatMul weights, per output channel; the token
embeddings stay fp32), reproducibly, into the same cache (``<hash>.int8v<N>.onnx``, same
atomic write and lock). It is faster on the CPU but its vectors differ (cosine ~0.98 to
fp32 on short prompts): only callers that measured their accuracy with it use it (the ML
guardrails' :class:`~workbench.guardrails.ml.encoder.Featurizer`, ``precision="int8"``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: Bumped when the exported graph changes (inputs, opset, tracing example).
EXPORT_VERSION = 1
#: Bumped when the int8 quantisation recipe changes (:func:`quantize_int8`).
QUANT_VERSION = 1
#: Graph precisions: ``fp32`` (exported from the weights) and ``int8`` (quantised from it).
PRECISIONS = ("fp32", "int8")
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: ``WORKBENCH_ONNX_CACHE``: where exported graphs are kept (default: in the home).
CACHE_ENV = "WORKBENCH_ONNX_CACHE"
#: ``WORKBENCH_EMBED_THREADS``: intra-op threads of an ONNX session.
THREADS_ENV = "WORKBENCH_EMBED_THREADS"
#: Measured on the 2-core development machine under load (bench/encoder.py): one thread
#: per session is faster than two once other work competes for the cores.
DEFAULT_THREADS = 1

_memo: dict[tuple[str, int, str], OnnxEncoder] = {}
_memo_lock = threading.Lock()


def onnx_cache_dir() -> Path:
    """``$WORKBENCH_ONNX_CACHE`` if set, else ``$WORKBENCH_HOME/cache/onnx`` (created on
    first use). Graphs are named by their weights' hash, so one directory can serve many
    homes (the test suite points every home at one, so it exports once per run)."""
    from workbench.home import home

    override = os.environ.get(CACHE_ENV, "").strip()
    path = Path(override) if override else home() / "cache" / "onnx"
    path.mkdir(parents=True, exist_ok=True)
    return path


def embed_threads() -> int:
    """Intra-op threads: ``$WORKBENCH_EMBED_THREADS`` if set (>= 1), else the default."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return DEFAULT_THREADS
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}") from exc
    if value < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}")
    return value


def weights_hash(model: Any) -> str:
    """A hex digest of the model class, config and state dict (what the graph holds)."""
    digest = hashlib.sha256()
    digest.update(f"v{EXPORT_VERSION}/opset{OPSET}/{type(model).__name__}".encode())
    config = model.config.to_dict() if hasattr(model, "config") else {}
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{data.dtype}:{tuple(data.shape)}".encode())
        digest.update(data.numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()[:32]


class OnnxEncoder:
    """An ONNX Runtime session of the encoder: token ids in, last hidden state out."""

    def __init__(self, path: Path, threads: int) -> None:
        """Open ``path`` on the CPU with ``threads`` intra-op threads."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning workers burn the cores other work needs on a small shared machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> np.ndarray:
        """``(batch, tokens, dim)`` float32 last hidden state (thread-safe)."""
        feeds = {
            "input_ids": np.ascontiguousarray(input_ids, dtype=np.int64),
            "attention_mask": np.ascontiguousarray(attention_mask, dtype=np.int64),
            "token_type_ids": np.ascontiguousarray(token_type_ids, dtype=np.int64),
        }
        (hidden,) = self.session.run(["last_hidden_state"], feeds)
        return np.asarray(hidden, dtype=np.float32)


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``lock_path`` (blocks until held)."""
    import fcntl

    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def export_onnx(model: Any, target: Path) -> None:
    """Export ``model``'s last hidden state to ``target`` (temporary file, then rename).

    The tracing example is padded (one row shorter than the other), so no branch that
    skips the attention mask when nothing is padded is baked into the graph.
    """
    import warnings

    import torch

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]])
    mask = (ids != 0).to(torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    wrapper = _Hidden(model).eval()
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's and the legacy exporter's notices
            torch.onnx.export(
                wrapper,
                (ids, mask, torch.zeros_like(ids)),
                str(tmp),
                dynamo=False,
                input_names=list(INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                do_constant_folding=True,
            )
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def quantize_int8(source: Path, target: Path) -> None:
    """Quantise the fp32 graph ``source`` to int8 at ``target`` (temporary file, rename).

    ONNX Runtime's dynamic quantisation: MatMul weights as signed int8 per output channel
    (activations are quantised at run time); the embedding tables and everything else
    stay fp32. Deterministic: the same source gives the same file.
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f".{target.stem}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "consider pre-processing" notice on every build
    try:
        quantize_dynamic(
            str(source),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        root.setLevel(level)
        tmp.unlink(missing_ok=True)


def onnx_path(
    model: Any,
    directory: Path | None = None,
    digest: str | None = None,
    precision: str = "fp32",
) -> tuple[Path, bool]:
    """The cached graph for ``model``, built first if missing; (path, built now).

    ``digest`` is :func:`weights_hash` of ``model`` when the caller already has it.
    ``precision="int8"``: the quantised graph, made from the fp32 one (exported first
    when that is missing too).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    directory = directory or onnx_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    digest = digest or weights_hash(model)
    target = directory / f"{digest}.onnx"
    if precision == "int8":
        source, _ = onnx_path(model, directory, digest)
        target = directory / f"{digest}.int8v{QUANT_VERSION}.onnx"
    if target.is_file():
        return target, False
    with exclusive_lock(directory / f"{target.stem}.lock"):
        if target.is_file():  # another process built it while we waited
            return target, False
        if precision == "int8":
            quantize_int8(source, target)
        else:
            export_onnx(model, target)
        return target, True


def load_onnx_encoder(
    model: Any, threads: int | None = None, precision: str = "fp32"
) -> OnnxEncoder:
    """An :class:`OnnxEncoder` for ``model`` (a CPU ``transformers`` BERT-style model).

    Exports (and for ``precision="int8"`` quantises) on first use (see the module
    docstring); raises whatever the export or ONNX Runtime raises (``ImportError``
    without ``onnxruntime``/``onnx``).
    """
    import onnxruntime  # noqa: F401  (fail before exporting when it is missing)

    threads = threads or embed_threads()
    key = (weights_hash(model), threads, precision)
    with _memo_lock:
        cached = _memo.get(key)
        if cached is not None and cached.path.is_file():
            return cached
        path, _ = onnx_path(model, digest=key[0], precision=precision)
        encoder = OnnxEncoder(path, threads)
        _memo[key] = encoder
        return encoder


def clear_memo() -> None:
    """Forget the sessions this process opened (the next load opens the file again)."""
    with _memo_lock:
        _memo.clear()


__all__ = [
    "DEFAULT_THREADS",
    "EXPORT_VERSION",
    "PRECISIONS",
    "QUANT_VERSION",
    "THREADS_ENV",
    "OnnxEncoder",
    "clear_memo",
    "embed_threads",
    "exclusive_lock",
    "export_onnx",
    "load_onnx_encoder",
    "onnx_cache_dir",
    "onnx_path",
    "quantize_int8",
    "weights_hash",
]
