# ruff: noqa: E501  (HTML templates: long lines are markup, not code)
"""Jinja2 templates of the evaluation reports (inline CSS and SVG, nothing external)."""

CSS = """
.wbe{font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:14px;color:#1d2733;max-width:1200px}
.wbe h1{font-size:22px;margin:8px 0}.wbe h2{font-size:17px;margin:22px 0 6px;border-bottom:1px solid #d9dee5}
.wbe table{border-collapse:collapse;margin:6px 0 12px}.wbe td,.wbe th{border:1px solid #d9dee5;padding:3px 7px;text-align:right;vertical-align:top}
.wbe th{background:#f2f5f8}.wbe td.l,.wbe th.l{text-align:left}.wbe .ci{color:#6b7785;font-size:12px}
.wbe .muted{color:#6b7785}.wbe .pos{color:#1a7f37}.wbe .neg{color:#b42318}.wbe .txt{max-width:620px;white-space:pre-wrap;text-align:left;font-family:ui-monospace,monospace;font-size:12px}
.wbe tr.policy td{font-weight:600;background:#fafbfc}
"""

METRIC_ROWS = """
<table><tr><th class="l">dataset</th><th class="l">role</th><th class="l">check</th><th>n</th><th>support</th>
<th>TP</th><th>FP</th><th>FN</th><th>TN</th><th>precision</th><th>recall</th><th>F1</th><th>FPR</th><th>accuracy</th></tr>
{% for r in rows %}<tr class="{{ 'policy' if r.check == policy_label else '' }}"><td class="l">{{ r.dataset }}</td>
<td class="l">{{ r.role }}</td><td class="l">{{ r.check }}</td><td>{{ r.n }}</td><td>{{ r.support }}</td>
<td>{{ r.tp }}</td><td>{{ r.fp }}</td><td>{{ r.fn }}</td><td>{{ r.tn }}</td>
{% for m in ('precision','recall','f1','fpr') %}<td>{{ fmt(r[m]) }}<br><span class="ci">[{{ fmt(r[m ~ '_low']) }}, {{ fmt(r[m ~ '_high']) }}]</span></td>{% endfor %}
<td>{{ fmt(r.accuracy) }}</td></tr>{% endfor %}</table>
"""

RESULT = (
    """
{% if standalone %}<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Guardrail evaluation: {{ r.policy_id }}</title><style>{{ css }}</style></head><body>{% else %}<style>{{ css }}</style>{% endif %}
<div class="wbe">
<h1>Guardrail evaluation: policy <code>{{ r.policy_id }}</code></h1>
<p class="muted">policy hash {{ r.policy_hash or '-' }} &middot; caught = decision in {{ r.positive|join(', ') }}
&middot; {{ r.timing.items }} items in {{ fmt(r.timing.wall_s) }} s ({{ fmt(r.timing.s_per_item, 4) }} s/item)
&middot; 95% bootstrap CIs, {{ r.resamples }} resamples, seed {{ r.seed }}</p>
<h2>Datasets</h2>
<table><tr><th class="l">name</th><th class="l">role</th><th class="l">stage</th><th>rows</th><th>positives</th><th class="l">files (sha256)</th><th class="l">note</th></tr>
{% for s in r.sets %}<tr><td class="l">{{ s.name }}</td><td class="l">{{ s.role }}</td><td class="l">{{ s.stage }}</td><td>{{ s.rows }}</td><td>{{ s.positives }}</td>
<td class="l">{% for f in s.files %}{{ f.path }} <span class="ci">{{ f.sha256[:12] }}</span><br>{% endfor %}</td><td class="l">{{ s.note }}</td></tr>{% endfor %}</table>
<h2>The policy</h2>
{{ chart }}
"""
    + METRIC_ROWS.replace("rows", "policy_rows", 1).replace("in rows", "in policy_rows")
    + """
<h2>Per check</h2>
"""
    + METRIC_ROWS.replace("in rows", "in check_rows")
    + """
{% if sub_rows %}<h2>Subgroups</h2>
<table><tr><th class="l">dataset</th><th class="l">subgroup</th><th class="l">value</th><th>n</th><th>support</th><th>TP</th><th>FP</th><th>FN</th><th>TN</th><th>precision</th><th>recall</th><th>F1</th><th>FPR</th></tr>
{% for x in sub_rows %}<tr><td class="l">{{ x.dataset }}</td><td class="l">{{ x.subgroup }}</td><td class="l">{{ x.value }}</td><td>{{ x.n }}</td><td>{{ x.support }}</td>
<td>{{ x.tp }}</td><td>{{ x.fp }}</td><td>{{ x.fn }}</td><td>{{ x.tn }}</td>
{% for m in ('precision','recall','f1','fpr') %}<td>{{ fmt(x[m]) }} <span class="ci">[{{ fmt(x[m ~ '_low']) }}, {{ fmt(x[m ~ '_high']) }}]</span></td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
<h2>Latency per item</h2>
<table><tr><th class="l">check</th><th class="l">stage</th><th>items</th><th>p50 ms</th><th>p95 ms</th><th>mean ms</th></tr>
{% for x in lat_rows %}<tr><td class="l">{{ x.check }}</td><td class="l">{{ x.stage }}</td><td>{{ x.n }}</td><td>{{ fmt(x.p50_ms) }}</td><td>{{ fmt(x.p95_ms) }}</td><td>{{ fmt(x.mean_ms) }}</td></tr>{% endfor %}</table>
<h2>Examples</h2>
{% for kind, title in (('fn', 'Missed (false negatives)'), ('fp', 'Wrongly caught (false positives)')) %}
<h3>{{ title }}</h3><table><tr><th class="l">dataset</th><th class="l">id</th><th class="l">decision</th><th class="l">checks fired</th><th class="l">text</th></tr>
{% for x in examples[kind] %}<tr><td class="l">{{ x.dataset }}</td><td class="l">{{ x.id }}</td><td class="l">{{ x.decision }}</td><td class="l">{{ x.fired|join(', ') }}</td><td class="txt">{{ x.text|truncate(400) }}</td></tr>
{% else %}<tr><td class="l muted" colspan="5">none</td></tr>{% endfor %}</table>{% endfor %}
</div>{% if standalone %}</body></html>{% endif %}
"""
)

COMPARISON = """
{% if standalone %}<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Guardrail comparison: {{ c.a.policy_id }} vs {{ c.b.policy_id }}</title><style>{{ css }}</style></head><body>{% else %}<style>{{ css }}</style>{% endif %}
<div class="wbe">
<h1>Policy comparison: <code>{{ c.a.policy_id }}</code> (A) vs <code>{{ c.b.policy_id }}</code> (B)</h1>
<p class="muted">same {{ c.a.items.height }} items &middot; delta = B &minus; A with a paired 95% bootstrap CI ({{ c.a.resamples }} resamples, seed {{ c.a.seed }})
&middot; A {{ fmt(c.a.timing.s_per_item, 4) }} s/item, B {{ fmt(c.b.timing.s_per_item, 4) }} s/item</p>
<h2>Deltas</h2>
<table><tr><th class="l">dataset</th><th class="l">check</th><th class="l">metric</th><th>A</th><th>B</th><th>B &minus; A</th><th>95% CI</th></tr>
{% for x in delta_rows %}<tr><td class="l">{{ x.dataset }}</td><td class="l">{{ x.check }}</td><td class="l">{{ x.metric }}</td><td>{{ fmt(x.a) }}</td><td>{{ fmt(x.b) }}</td>
<td class="{{ x.tone }}">{{ fmt(x.delta, 3, True) }}</td><td class="ci">[{{ fmt(x.low, 3, True) }}, {{ fmt(x.high, 3, True) }}]</td></tr>{% endfor %}</table>
<h2>Where they disagree ({{ n_disagree }} items)</h2>
<table><tr><th class="l">dataset</th><th class="l">id</th><th>label</th><th class="l">A</th><th class="l">B</th><th class="l">right</th><th class="l">A fired</th><th class="l">B fired</th><th class="l">text</th></tr>
{% for x in dis_rows %}<tr><td class="l">{{ x.dataset }}</td><td class="l">{{ x.id }}</td><td>{{ x.label }}</td><td class="l">{{ x.decision_a }}</td><td class="l">{{ x.decision_b }}</td>
<td class="l">{{ x.right }}</td><td class="l">{{ x.fired_a|join(', ') }}</td><td class="l">{{ x.fired_b|join(', ') }}</td><td class="txt">{{ x.text|truncate(300) }}</td></tr>
{% else %}<tr><td class="l muted" colspan="9">none</td></tr>{% endfor %}</table>
</div>{% if standalone %}</body></html>{% endif %}
"""

__all__ = ["COMPARISON", "CSS", "RESULT"]
