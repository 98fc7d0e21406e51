"""Execute a report notebook with papermill (parameters injected after its ``parameters``
cell); a failing cell becomes a :class:`ReportError` naming the cell and its error."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

REPORTS = {"compliance": "compliance.ipynb"}
"""Report name -> the notebook shipped in this package."""


class ReportError(WorkbenchError):
    """A report notebook failed (the message names the cell and its error)."""


@dataclass(frozen=True)
class Executed:
    """An executed notebook and the JSON summary it wrote (empty when it wrote none)."""

    notebook: Path
    summary: dict[str, Any]


def notebook_path(name: str) -> Path:
    """The packaged notebook of report ``name`` (a real file: the package is on disk)."""
    if name not in REPORTS:
        raise ValueError(f"unknown report {name!r}; choose from {', '.join(REPORTS)}")
    path = Path(str(resources.files("workbench.reports") / REPORTS[name]))
    if not path.is_file():
        raise ReportError(f"the {name} report notebook is missing from the installed package")
    return path


def execute(
    name_or_path: str | Path,
    parameters: dict[str, Any],
    workdir: Path | None = None,
    *,
    kernel: str = "python3",
    timeout: float | None = 1800,
) -> Executed:
    """Run the report notebook (a packaged report name or a path) in ``workdir`` (default:
    a new temporary directory) with ``parameters``; returns the executed notebook.

    The notebook is given ``summary_path`` (a JSON file in ``workdir``) to write its
    summary figures into."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    src = Path(name_or_path) if Path(str(name_or_path)).suffix == ".ipynb" else None
    source = src if src is not None else notebook_path(str(name_or_path))
    work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="wb-report-"))
    work.mkdir(parents=True, exist_ok=True)
    out = work / source.name
    summary_path = work / "summary.json"
    params = {**parameters, "summary_path": str(summary_path)}
    try:
        pm.execute_notebook(
            str(source), str(out), parameters=params, kernel_name=kernel, progress_bar=False,
            cwd=str(work), execution_timeout=timeout, log_output=False,
        )  # fmt: skip
    except PapermillExecutionError as exc:
        raise ReportError(
            f"report cell {exc.exec_count} failed: {exc.ename}: {exc.evalue} "
            f"(executed notebook kept at {out})"
        ) from exc
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return Executed(out, summary)
