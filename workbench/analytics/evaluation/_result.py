""":class:`EvalResult`: what an evaluation found, as polars frames, JSON and HTML."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.analytics.evaluation._tables import (
    ALL,
    POLICY,
    check_column,
    latency_table,
    metrics_table,
    subgroup_table,
)

if TYPE_CHECKING:
    import polars as pl


def save_text(path: str | Path | None, text: str) -> None:
    """Write a report to ``path`` (its folder created); nothing when ``path`` is None."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")


def finite(v: Any) -> Any:
    """NaN/inf -> None, recursively (strict JSON)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [finite(x) for x in v]
    return v


def records(df: pl.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-ready row dicts (NaN as None)."""
    return [finite(r) for r in df.to_dicts()]


@dataclass
class EvalResult:
    """One policy (or set of checks) evaluated on labelled sets.

    ``items``: one row per item (``dataset``, ``id``, ``text``, ``label``, subgroup
    columns, the policy's ``decision``, ``predicted``, the checks that ``fired``, and a
    ``fired:<check>`` column per check); ``verdicts``: one row per verdict the engine
    returned. :attr:`metrics`, :attr:`by_subgroup` and :attr:`latency` are computed from
    them on first use.
    """

    policy_id: str
    policy_hash: str | None
    positive: tuple[str, ...]
    sets: list[dict[str, Any]]
    items: pl.DataFrame
    verdicts: pl.DataFrame
    checks: list[str]
    resamples: int = 1000
    seed: int = 0
    timing: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def metrics(self) -> pl.DataFrame:
        """Per dataset (and pooled, ``(all)``) and per check (the policy first, check
        ``(policy)``): n, support, confusion counts, precision/recall/F1/FPR/accuracy and
        95% bootstrap bounds ``<metric>_low/_high``."""
        roles = {s["name"]: s["role"] for s in self.sets}
        return metrics_table(
            self.items, self.checks, roles, resamples=self.resamples, seed=self.seed
        )

    @cached_property
    def by_subgroup(self) -> pl.DataFrame:
        """The same metrics per value of each dataset's subgroup columns."""
        subs = {s["name"]: s["subgroups"] for s in self.sets}
        return subgroup_table(
            self.items, self.checks, subs, resamples=self.resamples, seed=self.seed
        )

    @cached_property
    def latency(self) -> pl.DataFrame:
        """Per check: p50/p95/mean ms per item from the engine's verdict latencies."""
        return latency_table(self.verdicts, self.items)

    def policy_metrics(self) -> pl.DataFrame:
        """The policy's rows of :attr:`metrics` (one per dataset)."""
        import polars as pl

        return self.metrics.filter(pl.col("check") == POLICY)

    def confusion(self, check: str = POLICY, dataset: str = ALL) -> dict[str, int]:
        """``{tp, fp, fn, tn}`` of a check (or the policy) on a dataset (or all)."""
        import polars as pl

        m = self.metrics.filter((pl.col("check") == check) & (pl.col("dataset") == dataset))
        if not m.height and dataset == ALL:
            m = self.metrics.filter(pl.col("check") == check).head(1)
        if not m.height:
            raise KeyError(f"no metrics for check {check!r} on dataset {dataset!r}")
        row = m.row(0, named=True)
        return {k: int(row[k]) for k in ("tp", "fp", "fn", "tn")}

    def examples(
        self, kind: str = "fn", check: str = POLICY, dataset: str | None = None, n: int = 5
    ) -> pl.DataFrame:
        """Up to ``n`` items of one kind: ``fn`` (missed), ``fp`` (wrongly caught),
        ``tp`` or ``tn``, for a check or the policy."""
        import polars as pl

        col = "predicted" if check == POLICY else check_column(check)
        want_label, want_pred = {
            "tp": (1, True),
            "fp": (0, True),
            "fn": (1, False),
            "tn": (0, False),
        }[kind]
        df = self.items.filter((pl.col("label") == want_label) & (pl.col(col) == want_pred))
        if dataset is not None:
            df = df.filter(pl.col("dataset") == dataset)
        return df.select("dataset", "id", "label", "decision", "fired", "text").head(n)

    # ------------------------------------------------------------------ outputs
    def to_dict(self, examples: int = 5) -> dict[str, Any]:
        """Everything but the per-item rows, JSON-ready (NaN as None)."""
        return finite(
            {
                "policy": {"id": self.policy_id, "hash": self.policy_hash},
                "positive": list(self.positive),
                "datasets": self.sets,
                "checks": self.checks,
                "bootstrap": {"resamples": self.resamples, "seed": self.seed, "level": 0.95},
                "timing": self.timing,
                "metrics": records(self.metrics),
                "by_subgroup": records(self.by_subgroup),
                "latency": records(self.latency),
                "examples": {
                    k: records(self.examples(k, n=examples).drop("fired")) for k in ("fn", "fp")
                },
            }
        )

    def to_json(self, path: str | Path | None = None, examples: int = 5) -> str:
        """The result as strict JSON; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(examples), indent=2, allow_nan=False, default=str)
        save_text(path, text + "\n")
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        """A self-contained HTML report; also written to ``path`` when given."""
        from workbench.analytics.evaluation._html import render_result

        html = render_result(self, standalone=True)
        save_text(path, html)
        return html

    def _repr_html_(self) -> str:
        from workbench.analytics.evaluation._html import render_result

        return render_result(self, standalone=False)

    def __repr__(self) -> str:
        names = [s["name"] for s in self.sets]
        return f"EvalResult(policy={self.policy_id!r}, items={self.items.height}, datasets={names})"


__all__ = ["EvalResult", "finite", "records"]
