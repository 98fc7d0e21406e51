"""Executed notebook -> static HTML (no code, no prompts, no JavaScript, images inline)
and, where Chromium is installed, PDF."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from workbench.errors import WorkbenchError

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)
_REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


class RenderError(WorkbenchError):
    """The report could not be rendered (HTML or PDF)."""


def render_html(notebook: Path, out: Path, title: str = "Compliance report") -> Path:
    """Render an executed notebook as self-contained static HTML at ``out``: outputs only
    (no input cells, no prompts), PNG charts embedded as data URIs, no ``<script>`` and
    no remote links. Returns ``out``."""
    import nbformat
    from nbconvert import HTMLExporter

    templates = resources.files("workbench.reports") / "templates"
    exporter = HTMLExporter(
        template_name="static_report",
        extra_template_basedirs=[str(templates)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    nb = nbformat.read(str(notebook), as_version=4)
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    if _SCRIPT.search(body) or _REMOTE.search(body):
        raise RenderError("the rendered report contains a script or a remote link; not written")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, out)
    return out


def find_chromium() -> str | None:
    """A Chromium/Chrome binary on this machine (``$WORKBENCH_CHROMIUM`` first), or None."""
    env = os.environ.get("WORKBENCH_CHROMIUM")
    for candidate in ([env] if env else []) + list(CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium")
    return found


def render_pdf(html: Path, out: Path, chromium: str | None = None, timeout: float = 120) -> Path:
    """Print ``html`` to ``out`` with headless Chromium (no network). Raises
    :class:`RenderError` when no Chromium is installed or printing fails."""
    binary = chromium or find_chromium()
    if binary is None:
        raise RenderError(
            "no PDF converter: Chromium is not installed (apt-get install chromium); "
            "the HTML report was written"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--no-pdf-header-footer", f"--print-to-pdf={out.resolve()}", html.resolve().as_uri(),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RenderError(f"Chromium could not print the PDF ({proc.returncode}): {tail[0]}")
    return out
