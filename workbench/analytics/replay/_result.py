"""What a replay returns: per-request old vs new, the flip matrix, breakdowns, deltas."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.analytics.replay._outcome import KINDS, cell, drivers

if TYPE_CHECKING:
    import polars as pl

    from workbench.analytics.replay._runner import Replayed, Skipped

EXAMPLES = 5  # example request ids kept per flip-matrix cell


@dataclass
class Flip:
    """One cell of the flip matrix."""

    cell: str
    old: str
    new: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def rows_of(done: list[Replayed]) -> list[dict[str, Any]]:
    """The per-request rows of the result frame."""
    out = []
    for r in done:
        out.append(
            {
                "request_id": r.request_id,
                "workspace": r.workspace,
                "model": r.model,
                "old": r.old.kind,
                "new": r.new.kind,
                "cell": cell(r.old, r.new),
                "checks_old": r.old.checks,
                "checks_new": r.new.checks,
                "drivers": drivers(r.old, r.new),
                "cost_old": r.old.cost,
                "cost_new": r.new.cost,
                "guard_ms_old": round(r.old.guard_ms, 3),
                "guard_ms_new": round(r.new.guard_ms, 3),
                "approximate": r.approximate,
                "notes": r.notes,
            }
        )
    return out


def _flips(rows: list[dict[str, Any]]) -> dict[str, Flip]:
    flips: dict[str, Flip] = {}
    for r in rows:
        name = r["cell"]
        if name is None:
            continue
        f = flips.setdefault(name, Flip(name, r["old"], r["new"]))
        f.count += 1
        if len(f.examples) < EXAMPLES:
            f.examples.append(r["request_id"])
    order = {k: i for i, k in enumerate(KINDS)}
    return dict(sorted(flips.items(), key=lambda kv: (order[kv[1].old], order[kv[1].new], kv[0])))


def _by(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    groups: dict[Any, dict[str, Any]] = {}
    for r in rows:
        g = groups.setdefault(
            r[key],
            {key: r[key], "requests": 0, "changed": 0, "cost_old": 0.0, "cost_new": 0.0},
        )
        g["requests"] += 1
        g["changed"] += r["cell"] is not None
        for k in KINDS:
            g.setdefault(f"{k}_old", 0)
            g.setdefault(f"{k}_new", 0)
        g[f"{r['old']}_old"] += 1
        g[f"{r['new']}_new"] += 1
        g["cost_old"] += r["cost_old"] or 0.0
        g["cost_new"] += r["cost_new"] or 0.0
    return sorted(groups.values(), key=lambda g: (-g["changed"], str(g[key])))


def _by_check(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    fired_old: Counter[str] = Counter()
    fired_new: Counter[str] = Counter()
    drove: Counter[str] = Counter()
    for r in rows:
        fired_old.update({c.split(":")[0] for c in r["checks_old"]})
        fired_new.update({c.split(":")[0] for c in r["checks_new"]})
        drove.update(r["drivers"])
    names = sorted(set(fired_old) | set(fired_new) | set(drove))
    out = [
        {"check": n, "fired_old": fired_old[n], "fired_new": fired_new[n], "drove_flips": drove[n]}
        for n in names
    ]
    return sorted(out, key=lambda d: (-d["drove_flips"], d["check"]))


def _deltas(rows: list[dict[str, Any]]) -> dict[str, Any]:
    old = [r["guard_ms_old"] for r in rows]
    new = [r["guard_ms_new"] for r in rows]
    cost_old = sum(r["cost_old"] or 0.0 for r in rows)
    cost_new = sum(r["cost_new"] or 0.0 for r in rows)
    return {
        "cost_old_usd": cost_old,
        "cost_new_usd": cost_new,
        "cost_delta_usd": cost_new - cost_old,
        "guard_ms_old": {"mean": sum(old) / len(old) if old else None, "p95": _pct(old, 0.95)},
        "guard_ms_new": {"mean": sum(new) / len(new) if new else None, "p95": _pct(new, 0.95)},
    }


@dataclass
class ReplayResult:
    """The outcome of a replay. ``frame`` has one row per replayed request."""

    rows: list[dict[str, Any]]
    flips: dict[str, Flip]
    skipped: dict[str, int]
    skipped_examples: list[str]
    seconds: float
    policy_id: str | None
    policy_hash: str | None
    stats: dict[str, Any]
    _frame: pl.DataFrame | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        done: list[Replayed],
        skipped: list[Skipped],
        *,
        seconds: float,
        policy: Any,
        policy_hash: str | None,
        stats: dict[str, Any],
    ) -> ReplayResult:
        """Summarise the replayed requests."""
        return cls.from_rows(
            rows_of(done),
            [(s.request_id, s.reason) for s in skipped],
            seconds=seconds,
            policy=policy,
            policy_hash=policy_hash,
            stats=stats,
        )

    @classmethod
    def from_rows(
        cls,
        rows: list[dict[str, Any]],
        skipped: list[tuple[str, str]],
        *,
        seconds: float,
        policy: Any,
        policy_hash: str | None,
        stats: dict[str, Any],
    ) -> ReplayResult:
        """Summarise per-request rows (from :func:`rows_of`, e.g. merged from workers) and
        the ``(request id, reason)`` of the rows that could not be replayed."""
        return cls(
            rows=rows,
            flips=_flips(rows),
            skipped=dict(Counter(reason for _, reason in skipped)),
            skipped_examples=[rid for rid, _ in skipped[:EXAMPLES]],
            seconds=seconds,
            policy_id=getattr(policy, "id", None),
            policy_hash=policy_hash,
            stats=stats,
        )

    @property
    def frame(self) -> pl.DataFrame:
        """Per request: old vs new outcome, checks, drivers, cost, guardrail latency."""
        import polars as pl

        if self._frame is not None:
            return self._frame
        schema: dict[str, Any] = {
            "request_id": pl.String,
            "workspace": pl.String,
            "model": pl.String,
            "old": pl.String,
            "new": pl.String,
            "cell": pl.String,
            "checks_old": pl.List(pl.String),
            "checks_new": pl.List(pl.String),
            "drivers": pl.List(pl.String),
            "cost_old": pl.Float64,
            "cost_new": pl.Float64,
            "guard_ms_old": pl.Float64,
            "guard_ms_new": pl.Float64,
            "approximate": pl.Boolean,
            "notes": pl.List(pl.String),
        }
        columns = {c: [r[c] for r in self.rows] for c in schema}
        self._frame = pl.DataFrame(columns, schema=schema)
        return self._frame

    @property
    def replayed(self) -> int:
        """Requests replayed."""
        return len(self.rows)

    @property
    def not_replayable(self) -> int:
        """Logged requests that could not be replayed (see ``skipped`` for why)."""
        return sum(self.skipped.values())

    @property
    def changed(self) -> int:
        """Requests whose outcome changed."""
        return sum(f.count for f in self.flips.values())

    def matrix(self) -> dict[str, dict[str, int]]:
        """Counts by old kind, then new kind (unchanged requests on the diagonal)."""
        m = {o: dict.fromkeys(KINDS, 0) for o in KINDS}
        for r in self.rows:
            m[r["old"]][r["new"]] += 1
        return m

    def by(self, key: str) -> list[dict[str, Any]]:
        """Breakdown by ``workspace``, ``model`` or ``check``."""
        return _by_check(self.rows) if key == "check" else _by(self.rows, key)

    def deltas(self) -> dict[str, Any]:
        """Cost and guardrail-latency totals and deltas, old vs new."""
        return _deltas(self.rows)

    def summary(self) -> dict[str, Any]:
        """The headline figures."""
        n = len(self.rows)
        return {
            "policy_id": self.policy_id,
            "policy_hash": self.policy_hash,
            "replayed": n,
            "changed": self.changed,
            "not_replayable": self.not_replayable,
            "not_replayable_reasons": self.skipped,
            "approximate": sum(1 for r in self.rows if r["approximate"]),
            "seconds": round(self.seconds, 3),
            "requests_per_s": round(n / self.seconds, 1) if self.seconds > 0 else None,
            **self.stats,
        }

    def as_dict(self, *, rows: bool = True) -> dict[str, Any]:
        """Everything, JSON-ready."""
        out: dict[str, Any] = {
            "summary": self.summary(),
            "flips": [f.__dict__ for f in self.flips.values()],
            "matrix": self.matrix(),
            "by_workspace": self.by("workspace"),
            "by_model": self.by("model"),
            "by_check": self.by("check"),
            "deltas": self.deltas(),
            "skipped_examples": self.skipped_examples,
        }
        if rows:
            out["requests"] = self.rows
        return out

    def to_json(self, path: str | Path | None = None, *, rows: bool = True) -> str:
        """The result as JSON (also written to ``path`` when given)."""
        text = json.dumps(self.as_dict(rows=rows), indent=1, default=str)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        """A self-contained HTML report (also written to ``path`` when given)."""
        from workbench.analytics.replay._report import render

        html = render(self, full=True)
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html

    def _repr_html_(self) -> str:
        from workbench.analytics.replay._report import render

        return render(self, full=False)

    def flip_lines(self) -> list[str]:
        """The flip matrix as text lines (what the CLI prints)."""
        s = self.summary()
        lines = [
            f"replayed {s['replayed']} requests in {s['seconds']} s "
            f"({s['requests_per_s']} req/s); changed {s['changed']}; "
            f"not replayable {s['not_replayable']}; approximate {s['approximate']}"
        ]
        for f in self.flips.values():
            lines.append(f"  {f.cell:<22} {f.count:>7}   e.g. {', '.join(f.examples[:3])}")
        if not self.flips:
            lines.append("  no outcome changed")
        return lines
