"""The replay report as self-contained HTML (inline CSS and SVG, no script, no CDN)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analytics.replay._outcome import KINDS

if TYPE_CHECKING:
    from workbench.analytics.replay._result import ReplayResult

MAX_ROWS = 500  # changed requests listed in the full report

_TEMPLATE = """\
{% if full %}<!doctype html><html><head><meta charset="utf-8">
<title>Replay: {{ s.policy_id or "candidate" }}</title></head><body>{% endif %}
<div class="wb-replay">
<style>
.wb-replay{font-family:system-ui,sans-serif;font-size:14px;color:#222;max-width:1100px}
.wb-replay table{border-collapse:collapse;margin:6px 0 16px}
.wb-replay th,.wb-replay td{border:1px solid #ddd;padding:3px 8px;text-align:right}
.wb-replay th{background:#f4f4f4}.wb-replay td.l,.wb-replay th.l{text-align:left}
.wb-replay td.diag{color:#999}.wb-replay td.hot{background:#fde2e2;font-weight:600}
.wb-replay h2{font-size:18px;margin:8px 0}.wb-replay h3{font-size:15px;margin:12px 0 4px}
.wb-replay .muted{color:#777}
</style>
<h2>Replay against {{ s.policy_id or "candidate" }}
 <span class="muted">({{ (s.policy_hash or "")[:12] }})</span></h2>
<p>{{ s.replayed }} requests replayed in {{ s.seconds }} s ({{ s.requests_per_s }} req/s);
<b>{{ s.changed }}</b> changed outcome; {{ s.not_replayable }} not replayable;
{{ s.approximate }} approximate.</p>
<h3>Flip matrix (rows: old outcome, columns: new)</h3>
<table><tr><th class="l">old \\ new</th>{% for k in kinds %}<th>{{ k }}</th>{% endfor %}</tr>
{% for o in kinds %}<tr><th class="l">{{ o }}</th>{% for n in kinds %}
{% set v = matrix[o][n] %}<td class="{{ 'diag' if o == n else ('hot' if v else '') }}">{{ v }}</td>
{% endfor %}</tr>{% endfor %}</table>
<h3>Changes</h3>
{% if flips %}<svg width="640" height="{{ 22 * flips|length + 4 }}" role="img">
{% for f in flips %}<text x="0" y="{{ 22 * loop.index0 + 15 }}" font-size="12">{{ f.cell }}</text>
<rect x="170" y="{{ 22 * loop.index0 + 3 }}" height="16" fill="#c0392b"
 width="{{ (400 * f.count / top)|round(1) }}"></rect>
<text x="{{ 176 + (400 * f.count / top)|round(1) }}" y="{{ 22 * loop.index0 + 15 }}"
 font-size="12">{{ f.count }}</text>{% endfor %}</svg>
<table><tr><th class="l">change</th><th>requests</th><th class="l">examples</th></tr>
{% for f in flips %}<tr><td class="l">{{ f.cell }}</td><td>{{ f.count }}</td>
<td class="l">{{ f.examples|join(", ") }}</td></tr>{% endfor %}</table>
{% else %}<p>No outcome changed.</p>{% endif %}
{% if full %}
<h3>Checks</h3>
<table><tr><th class="l">check</th><th>fired (old)</th><th>fired (new)</th><th>drove flips</th></tr>
{% for c in by_check %}<tr><td class="l">{{ c.check }}</td><td>{{ c.fired_old }}</td>
<td>{{ c.fired_new }}</td><td>{{ c.drove_flips }}</td></tr>{% endfor %}</table>
{% for title, key, groups in breakdowns %}<h3>By {{ title }}</h3>
<table><tr><th class="l">{{ title }}</th><th>requests</th><th>changed</th>
<th>deny old</th><th>deny new</th><th>cost old $</th><th>cost new $</th></tr>
{% for g in groups %}<tr><td class="l">{{ g[key] }}</td><td>{{ g.requests }}</td>
<td>{{ g.changed }}</td><td>{{ g.deny_old }}</td><td>{{ g.deny_new }}</td>
<td>{{ "%.6f"|format(g.cost_old) }}</td><td>{{ "%.6f"|format(g.cost_new) }}</td></tr>
{% endfor %}</table>{% endfor %}
<h3>Cost and guardrail latency</h3>
<table><tr><th class="l"></th><th>old</th><th>new</th></tr>
<tr><td class="l">cost (USD)</td><td>{{ "%.6f"|format(d.cost_old_usd) }}</td>
<td>{{ "%.6f"|format(d.cost_new_usd) }}</td></tr>
<tr><td class="l">guardrail ms, mean</td><td>{{ fmt(d.guard_ms_old.mean) }}</td>
<td>{{ fmt(d.guard_ms_new.mean) }}</td></tr>
<tr><td class="l">guardrail ms, p95</td><td>{{ fmt(d.guard_ms_old.p95) }}</td>
<td>{{ fmt(d.guard_ms_new.p95) }}</td></tr></table>
{% if skipped %}<h3>Not replayable</h3><table>
{% for reason, n in skipped.items() %}<tr><td class="l">{{ reason }}</td><td>{{ n }}</td></tr>
{% endfor %}</table>{% endif %}
<h3>Changed requests{% if changed|length >= max_rows %} (first {{ max_rows }}){% endif %}</h3>
<table><tr><th class="l">request</th><th class="l">workspace</th><th class="l">model</th>
<th class="l">old</th><th class="l">new</th><th class="l">drivers</th>
<th class="l">checks (old)</th><th class="l">checks (new)</th><th class="l">notes</th></tr>
{% for r in changed %}<tr><td class="l">{{ r.request_id }}</td><td class="l">{{ r.workspace }}</td>
<td class="l">{{ r.model }}</td><td class="l">{{ r.old }}</td><td class="l">{{ r.new }}</td>
<td class="l">{{ r.drivers|join(", ") }}</td><td class="l">{{ r.checks_old|join(", ") }}</td>
<td class="l">{{ r.checks_new|join(", ") }}</td><td class="l">{{ r.notes|join("; ") }}</td></tr>
{% endfor %}</table>
{% endif %}
</div>
{% if full %}</body></html>{% endif %}
"""


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(result: ReplayResult, *, full: bool) -> str:
    """The report (``full``: a whole page with every section; else the notebook summary)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    flips = list(result.flips.values())
    changed = [r for r in result.rows if r["cell"] is not None][:MAX_ROWS]
    return env.from_string(_TEMPLATE).render(
        full=full,
        s=result.summary(),
        kinds=KINDS,
        matrix=result.matrix(),
        flips=flips,
        top=max((f.count for f in flips), default=1),
        by_check=result.by("check"),
        breakdowns=[
            ("workspace", "workspace", result.by("workspace")),
            ("model", "model", result.by("model")),
        ],
        d=result.deltas(),
        fmt=_fmt,
        skipped=result.skipped,
        changed=changed,
        max_rows=MAX_ROWS,
    )
