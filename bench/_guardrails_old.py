"""The guardrail heads' weights as committed at an earlier revision (the bench's OLD side).

:func:`extract_weights` copies every file of ``workbench/guardrails/ml/weights/`` at a
git revision into a directory, with ``git ls-tree`` and ``git show`` (no checkout: the
working tree is left alone), so that ``LocalScorer(weights_dir=...)`` runs the same code
with the old heads. Without git, or at a revision git does not know, it raises
:class:`OldWeightsError` with a message that says which.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = "workbench/guardrails/ml/weights"
#: The commit whose weights are the bench's OLD side (before issue 11's retraining).
OLD_REV = "579899a"


class OldWeightsError(RuntimeError):
    """The old weights could not be read from git."""


def _git(args: list[str], repo: Path) -> bytes:
    git = shutil.which("git")
    if git is None:
        raise OldWeightsError(
            "git is not installed: the OLD weights are read with `git show "
            f"{OLD_REV}:{WEIGHTS}/<file>`; install git or pass --old-weights DIR"
        )
    proc = subprocess.run([git, *args], cwd=repo, capture_output=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise OldWeightsError(f"`git {' '.join(args)}` failed in {repo}: {err}")
    return proc.stdout


def extract_weights(dest: Path, rev: str = OLD_REV, repo: Path = ROOT) -> list[Path]:
    """Write the weight files committed at ``rev`` into ``dest``; the paths written."""
    names = _git(["ls-tree", "--name-only", f"{rev}:{WEIGHTS}"], repo).decode().split()
    if not names:
        raise OldWeightsError(f"no files under {WEIGHTS} at {rev}")
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        target = dest / name
        target.write_bytes(_git(["show", f"{rev}:{WEIGHTS}/{name}"], repo))
        out.append(target)
    return out


__all__ = ["OLD_REV", "WEIGHTS", "OldWeightsError", "extract_weights"]
