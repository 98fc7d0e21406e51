"""Run an older commit of this project ("before") next to the current tree ("after").

:func:`before_tree` extracts the commit with ``git archive`` into a temp dir (no
worktree, no change to the repository's state, nothing to clean up in ``.git`` if the
run is killed) and makes a throwaway virtual environment whose ``workbench`` command
runs that tree with the current environment's installed packages:

- ``venv --without-pip`` on the same base interpreter;
- ``00-before-tree.pth`` puts the old tree first on ``sys.path`` (its ``workbench`` and
  ``serve`` packages);
- ``zz-deps.pth`` appends the current environment's site-packages (every dependency).
  Its ``.pth`` files are *not* processed there, so the current tree's editable-install
  finder stays inactive;
- an ``llm_workbench`` dist-info built from the old ``pyproject.toml``: entry points
  (providers, validators) are read from it, not from the current tree's metadata, which
  names modules the old tree does not have;
- ``bin/workbench``: the old ``[project.scripts]`` entry.

Ray's worker processes are started with the same interpreter, so they import the same
old tree. :func:`check_tree` proves it before any figure is taken.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import site
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench._proc import BenchError

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Tree:
    """An extracted commit and the environment that runs it."""

    rev: str  # the full commit id
    root: Path
    python: Path
    workbench: Path  # the CLI


def _git(*args: str) -> bytes:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, check=True, capture_output=True, timeout=120
        ).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        err = getattr(exc, "stderr", b"") or b""
        raise BenchError(f"git {' '.join(args)} failed: {err.decode(errors='replace')}") from exc


def extract(rev: str, dest: Path) -> str:
    """``git archive rev`` into ``dest``; the full commit id."""
    full = _git("rev-parse", "--verify", f"{rev}^{{commit}}").decode().strip()
    data = _git("archive", "--format=tar", full)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return full


def _entry_points(pyproject: dict[str, object]) -> str:
    project = pyproject.get("project")
    if not isinstance(project, dict):
        raise BenchError("the old pyproject.toml has no [project] table")
    groups: dict[str, dict[str, str]] = {}
    if isinstance(project.get("scripts"), dict):
        groups["console_scripts"] = project["scripts"]
    eps = project.get("entry-points")
    if isinstance(eps, dict):
        groups.update({g: v for g, v in eps.items() if isinstance(v, dict)})
    lines = []
    for group, entries in groups.items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in entries.items()]
        lines.append("")
    return "\n".join(lines)


def make_env(root: Path, venv: Path) -> tuple[Path, Path]:
    """The throwaway venv for ``root``; (python, workbench CLI)."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    py = venv / "bin" / "python"
    sp = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    )
    (sp / "00-before-tree.pth").write_text(f"{root}\n")
    (sp / "zz-deps.pth").write_text("".join(f"{p}\n" for p in site.getsitepackages()))
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    project = pyproject.get("project", {})
    name = str(project.get("name", "llm-workbench")) if isinstance(project, dict) else "x"
    version = str(project.get("version", "0")) if isinstance(project, dict) else "0"
    dist = sp / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(_entry_points(pyproject))
    (dist / "RECORD").write_text("")
    cli = venv / "bin" / "workbench"
    cli.write_text(f"#!{py}\nimport sys\nfrom workbench.cli import main\nsys.exit(main())\n")
    cli.chmod(0o755)
    return py, cli


def check_tree(tree: Tree) -> str:
    """Prove that the environment imports the old tree; a one-line description."""
    code = (
        "import importlib.metadata as m, workbench, serve; "
        "print(workbench.__file__); print(serve.__file__); "
        "print(sorted(e.name for e in m.entry_points(group='workbench.providers')))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(tree.python), "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tree.root.parent,  # not the repository: "-c" puts the cwd first on sys.path
    )
    if out.returncode != 0:
        raise BenchError(f"the before-tree environment does not import: {out.stderr[-800:]}")
    wb_file, serve_file, providers = out.stdout.strip().splitlines()
    for f in (wb_file, serve_file):
        if not Path(f).resolve().is_relative_to(tree.root.resolve()):
            raise BenchError(f"the before-tree environment imports {f}, not {tree.root}")
    return f"{tree.rev[:12]} from {tree.root} (providers {providers})"


@contextlib.contextmanager
def before_tree(rev: str, workdir: Path, label: str = "before") -> Iterator[Tree]:
    """Commit ``rev`` extracted under ``workdir/label`` with its own ``workbench`` command."""
    base = workdir / label
    try:
        full = extract(rev, base / "tree")
        py, cli = make_env(base / "tree", base / "venv")
        yield Tree(full, base / "tree", py, cli)
    finally:
        shutil.rmtree(base, ignore_errors=True)
