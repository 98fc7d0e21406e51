"""Compliance reports: a parameterised notebook executed with papermill and rendered as
static HTML (no code, no JavaScript; charts as PNG images), PDF where Chromium exists,
and a scheduler that keeps a dated archive. ::

    from workbench import reports

    data = reports.collect(since="7d", workspaces=["support"])   # the report's sections
    data.summary()                                               # its summary figures
    run = reports.execute("compliance", {"since": "7d"})         # papermill, in a temp dir
    reports.render_html(run.notebook, Path("report.html"))
    reports.compliance_report(Path("report.html"), since="7d", pdf=True)  # both steps
    reports.run_once(Path("archive"), since="7d")               # one scheduled cycle

Modules: ``_run`` (papermill), ``_render`` (nbconvert, Chromium), ``_schedule`` (the loop
and the archive), ``_compliance``/``_data`` (what the report reads: library calls only),
``_display`` (static tables and charts). Imports are lazy: ``import workbench.reports``
loads none of papermill, nbconvert, polars or matplotlib.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "ComplianceData": "_compliance",
    "RETENTION_NOTE": "_compliance",
    "collect": "_compliance",
    "Period": "_data",
    "anomalies_in_period": "_data",
    "key_activity": "_data",
    "policies_in_force": "_data",
    "policy_events": "_data",
    "retention_status": "_retention",
    "Html": "_display",
    "bar_chart": "_display",
    "note": "_display",
    "table": "_display",
    "REPORTS": "_run",
    "Executed": "_run",
    "ReportError": "_run",
    "execute": "_run",
    "notebook_path": "_run",
    "RenderError": "_render",
    "find_chromium": "_render",
    "render_html": "_render",
    "render_pdf": "_render",
    "ReportFiles": "_schedule",
    "compliance_report": "_schedule",
    "next_run": "_schedule",
    "run_once": "_schedule",
    "schedule": "_schedule",
    "write_index": "_schedule",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, {n: f"{__name__}.{m}" for n, m in _LAZY.items()})
