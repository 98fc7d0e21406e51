"""One report run (execute, render HTML, optionally PDF), the dated archive with its
index, and the built-in scheduler loop (``workbench report schedule``)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ._render import RenderError, render_html, render_pdf
from ._run import execute

log = logging.getLogger(__name__)

ARCHIVE_PREFIX = "compliance-"


@dataclass
class ReportFiles:
    """What one report run wrote: the HTML, the PDF (or why there is none), the summary."""

    html: Path
    pdf: Path | None = None
    pdf_skipped: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def compliance_report(
    out: Path,
    *,
    since: str = "7d",
    until: str | None = None,
    workspaces: list[str] | None = None,
    log_dir: Path | None = None,
    max_examples: int = 10,
    pdf: bool = False,
    detect_anomalies: bool = True,
    keep: Path | None = None,
) -> ReportFiles:
    """Execute the compliance notebook (in a temporary directory, or ``keep``) and render
    it to ``out``; with ``pdf`` also ``out`` with a ``.pdf`` suffix when Chromium exists
    (else ``pdf_skipped`` says why). Raises ``ReportError`` when a cell fails."""
    params: dict[str, Any] = {
        "since": since, "until": until, "workspaces": list(workspaces or []),
        "max_examples": int(max_examples), "home": os.environ.get("WORKBENCH_HOME"),
        "log_dir": str(Path(log_dir).resolve()) if log_dir is not None else None,
        "detect_anomalies": detect_anomalies,
    }  # fmt: skip
    work = keep or Path(tempfile.mkdtemp(prefix="wb-report-"))
    run = execute("compliance", params, work)  # a failing cell leaves ``work`` for a look
    title = f"Compliance report {run.summary.get('period', '')}".strip()
    files = ReportFiles(render_html(run.notebook, out, title=title), summary=run.summary)
    if keep is None:
        shutil.rmtree(work, ignore_errors=True)
    if pdf:
        try:
            files.pdf = render_pdf(files.html, out.with_suffix(".pdf"))
        except RenderError as exc:
            files.pdf_skipped = str(exc)
    return files


def next_run(now: datetime, every: timedelta, at: time | None = None) -> datetime:
    """The first run time after ``now``: today's (or the next day's) ``at`` (UTC), or
    ``now`` itself when no time of day is set."""
    if at is None:
        return now
    first = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return first if first > now else first + timedelta(days=1)


def _dated_path(archive: Path, day: str) -> Path:
    """``compliance-<day>.html``, or ``-2``, ``-3``... when that day already has one
    (an earlier report is never overwritten)."""
    path = archive / f"{ARCHIVE_PREFIX}{day}.html"
    n = 2
    while path.exists():
        path = archive / f"{ARCHIVE_PREFIX}{day}-{n}.html"
        n += 1
    return path


def run_once(
    archive: Path, *, every: timedelta = timedelta(days=1), now: datetime | None = None,
    **kwargs: Any,
) -> ReportFiles:  # fmt: skip
    """One scheduled cycle: the report of the last ``every`` into a dated file in
    ``archive`` (its summary beside it as JSON), then the archive's index.html."""
    when = now or datetime.now(UTC)
    archive.mkdir(parents=True, exist_ok=True)
    out = _dated_path(archive, when.strftime("%Y-%m-%d"))
    files = compliance_report(out, since=(when - every).isoformat(), until=when.isoformat(),
                              **kwargs)  # fmt: skip
    meta = {"file": out.name, "generated_at": when.isoformat(timespec="seconds"),
            "pdf": files.pdf.name if files.pdf else None, "summary": files.summary}  # fmt: skip
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str))
    write_index(archive)
    return files


_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Compliance reports</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccd;padding:4px 10px;text-align:left}th{background:#eef}</style>
</head><body><h1>Compliance reports</h1>
{% if rows %}<table><thead><tr><th>Report</th><th>Period</th><th>Requests</th>
<th>Denied</th><th>PII incidents</th><th>Redaction coverage</th><th>PDF</th></tr></thead><tbody>
{% for r in rows %}<tr><td><a href="{{ r.file }}">{{ r.file }}</a></td><td>{{ r.period }}</td>
<td>{{ r.requests }}</td><td>{{ r.denied }}</td><td>{{ r.pii }}</td><td>{{ r.coverage }}</td>
<td>{% if r.pdf %}<a href="{{ r.pdf }}">{{ r.pdf }}</a>{% endif %}</td></tr>
{% endfor %}</tbody></table>{% else %}<p>No reports yet.</p>{% endif %}
</body></html>
"""


def write_index(archive: Path) -> Path:
    """(Re)write ``archive/index.html``: every dated report, newest first, with its
    period and headline figures (from the JSON beside it)."""
    import jinja2

    rows = []
    for page in sorted(archive.glob(f"{ARCHIVE_PREFIX}*.html"), reverse=True):
        meta_path = page.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        s = meta.get("summary") or {}
        rows.append({
            "file": page.name, "period": s.get("period", ""), "requests": s.get("requests", ""),
            "denied": s.get("denied by a guardrail", ""),
            "pii": s.get("PII / secret incidents (requests)", ""),
            "coverage": s.get("redaction coverage", ""), "pdf": meta.get("pdf"),
        })  # fmt: skip
    env = jinja2.Environment(autoescape=True)
    index = archive / "index.html"
    index.write_text(env.from_string(_INDEX).render(rows=rows), encoding="utf-8")
    return index


def schedule(
    archive: Path,
    every: timedelta,
    at: time | None = None,
    *,
    once: bool = False,
    sleep: Callable[[float], None] = _time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_report: Callable[[ReportFiles], None] | None = None,
    **kwargs: Any,
) -> None:
    """Run the report every ``every`` (first at ``at`` UTC, if set) into ``archive``
    until interrupted; ``once`` runs one cycle now and returns (errors propagate). In
    the loop a failed cycle is logged and the next one still runs; cycles missed while
    the machine slept are skipped, not run in a burst. (``sleep``/``clock``: for tests.)"""
    if once:
        files = run_once(archive, every=every, **kwargs)
        if on_report:
            on_report(files)
        return
    due = next_run(clock(), every, at)
    while True:
        wait = (due - clock()).total_seconds()
        if wait > 0:
            sleep(min(wait, 3600.0))
            continue
        late = clock() - due
        if late >= every:  # slept through whole cycles: run the latest one only
            due += every * (late // every)
        try:
            files = run_once(archive, every=every, now=due, **kwargs)
            if on_report:
                on_report(files)
        except Exception as exc:  # one bad cycle must not stop the schedule
            log.error("scheduled report failed: %s", exc)
        due += every
