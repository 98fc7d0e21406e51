"""Where workbench state lives: ``$WORKBENCH_HOME`` (default ``./.workbench``)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The state directory, created on first use."""
    path = Path(os.environ.get("WORKBENCH_HOME", ".workbench")).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    """Root of the request-log lake (Parquet partitions + spool)."""
    override = os.environ.get("WORKBENCH_LOG_DIR")
    path = Path(override).expanduser().resolve() if override else home() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Models the project builds itself (the tiny test LM)."""
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def keys_db() -> Path:
    """The API-key store (SQLite)."""
    return home() / "keys.sqlite"
