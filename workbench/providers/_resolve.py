"""Resolving and loading a local model: a model directory, a hub id, or the tiny test model.

Private to :mod:`workbench.providers.local`, which re-exports the public names.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import NotFoundError
from workbench.providers.tiny import build_tiny_model

#: Seconds to wait for the hub before treating it as unreachable.
HUB_PROBE_TIMEOUT_S = 2.0

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model spec resolved to.

    ``path_or_id`` is what ``from_pretrained`` gets; ``local_files_only`` says whether
    it must be loaded without the network (a directory, or a hub id found in the local
    cache while offline). ``is_fallback`` is true when the requested model could not be
    had and the tiny random model stands in; ``reason`` says why, for the start-up
    warning.
    """

    path_or_id: str
    is_fallback: bool = False
    reason: str = ""
    local_files_only: bool = True


class ModelUnavailableError(NotFoundError):
    """The requested local model can be found neither on disk, in the cache nor on the hub."""

    default_code = "model_not_found"


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network."""
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _looks_like_repo_id(spec: str) -> bool:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if spec.startswith((".", "/", "~")) or "\\" in spec:
        return False
    try:
        validate_repo_id(spec)
    except HFValidationError:
        return False
    return True


def _probe_hub(repo_id: str, timeout: float) -> str:
    """Ask the hub about ``repo_id``: ``"available"``, ``"missing"`` or ``"unreachable"``.

    Runs in a daemon thread joined with a deadline, so that a hanging DNS lookup or
    connect can never stall start-up for longer than about ``timeout`` seconds.
    """
    result: list[str] = []

    def probe() -> None:
        from huggingface_hub import model_info
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

        try:
            model_info(repo_id, timeout=timeout)
        except GatedRepoError:
            result.append("available")  # exists; loading needs a token and says so
        except RepositoryNotFoundError:
            result.append("missing")
        except Exception:  # noqa: BLE001 - any transport failure means "unreachable"
            result.append("unreachable")
        else:
            result.append("available")

    thread = threading.Thread(target=probe, name="hf-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0] if result else "unreachable"


def _cached_snapshot(repo_id: str) -> Path | None:
    """The local HF-cache snapshot of ``repo_id`` if it holds a config and weights."""
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError and friends: not cached
        return None
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
    if (path / "config.json").is_file() and has_weights:
        return path
    return None


def resolve_model(
    spec: str, *, fallback: str | None = "tiny", probe_timeout: float = HUB_PROBE_TIMEOUT_S
) -> ResolvedModel:
    """Resolve a model spec: a model directory, a hub id, or ``"tiny"``.

    A directory is used as is. A hub id is loaded from the hub when it is reachable, and
    from the local HF cache only (``local_files_only``) when ``HF_HUB_OFFLINE=1`` or the
    hub does not answer within ``probe_timeout`` seconds. When the model cannot be had,
    ``fallback="tiny"`` resolves to the built-in tiny random model with
    ``is_fallback=True`` and the reason (callers should warn loudly); ``fallback=None``
    raises :class:`ModelUnavailableError`.
    """
    if fallback not in ("tiny", None):
        raise ValueError(f"fallback must be 'tiny' or None, not {fallback!r}")
    if spec == "tiny":
        return ResolvedModel(str(build_tiny_model()), False, "built-in tiny random test model")
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            problem = f"{spec!r} is a directory without config.json, not a model directory"
        else:
            return ResolvedModel(str(path.resolve()), False, "local model directory")
    elif not _looks_like_repo_id(spec):
        problem = f"{spec!r} is neither an existing model directory nor a valid hub id"
    else:
        if hub_offline():
            where = "HF_HUB_OFFLINE is set"
        else:
            status = _probe_hub(spec, probe_timeout)
            if status == "available":
                return ResolvedModel(spec, False, "Hugging Face hub", local_files_only=False)
            where = (
                "it is not on the Hugging Face hub (or is private)"
                if status == "missing"
                else f"the Hugging Face hub did not answer within {probe_timeout:g} s"
            )
        cached = _cached_snapshot(spec)
        if cached is not None:
            return ResolvedModel(str(cached), False, f"local HF cache ({where})")
        problem = f"model {spec!r} is not in the local HF cache and {where}"
    if fallback is None:
        raise ModelUnavailableError(f"cannot load local model: {problem}")
    tiny = build_tiny_model()
    return ResolvedModel(
        str(tiny),
        True,
        f"{problem}; serving the built-in tiny RANDOM model instead (its output is noise)",
    )


# --------------------------------------------------------------------------- loading


def _load_pretrained(
    resolved: ResolvedModel, *, device: str | None, dtype: str | None
) -> tuple[Any, Any, str]:
    """Load the tokenizer and model of ``resolved``; return ``(model, tokenizer, device)``.

    See :meth:`workbench.providers.local.LocalModel.load` for ``device`` and ``dtype``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    on_gpu = device.startswith("cuda")
    if dtype is None:
        torch_dtype: Any = torch.bfloat16 if on_gpu else torch.float32
    elif dtype == "auto":
        torch_dtype = "auto"
    else:
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise ValueError(f"unknown dtype {dtype!r}")

    kwargs: dict[str, Any] = {
        "local_files_only": resolved.local_files_only,
        "dtype": torch_dtype,
    }
    tokenizer = AutoTokenizer.from_pretrained(
        resolved.path_or_id, local_files_only=resolved.local_files_only
    )
    model: Any
    if device == "cuda":
        model = AutoModelForCausalLM.from_pretrained(
            resolved.path_or_id, device_map="auto", **kwargs
        )
    else:
        model = AutoModelForCausalLM.from_pretrained(resolved.path_or_id, **kwargs)
        model.to(device)
    model.eval()
    return model, tokenizer, device
