"""Two policies on the same items: metric deltas with paired bootstrap CIs, and the
items where their decisions differ."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._sync import run_blocking
from workbench.analytics.evaluation._api import PolicyLike, SetsLike, evaluate_async, resolve_sets
from workbench.analytics.evaluation._bootstrap import CI_METRICS, paired_bootstrap
from workbench.analytics.evaluation._result import EvalResult, finite, records, save_text
from workbench.analytics.evaluation._tables import ALL, POLICY, check_column

if TYPE_CHECKING:
    import polars as pl


@dataclass
class Comparison:
    """Policy A and policy B evaluated on the same items (B - A in every delta)."""

    a: EvalResult
    b: EvalResult

    def __post_init__(self) -> None:
        keys_a = self.a.items.select("dataset", "id").rows()
        keys_b = self.b.items.select("dataset", "id").rows()
        if keys_a != keys_b:
            raise ValueError("the two results are not on the same items in the same order")

    def _pair(self, mask_data: Any, check: str) -> dict[str, dict[str, Any]]:
        col = "predicted" if check == POLICY else check_column(check)
        y = self.a.items["label"].to_numpy()[mask_data]
        pa = self.a.items[col].to_numpy()[mask_data]
        pb = self.b.items[col].to_numpy()[mask_data]
        return paired_bootstrap(y, pa, pb, resamples=self.a.resamples, seed=self.a.seed)

    @cached_property
    def deltas(self) -> pl.DataFrame:
        """Per dataset (and pooled), for the policy and every check both share: per metric
        A, B, delta = B - A and its paired 95% bootstrap bounds ``low``/``high``."""
        import polars as pl

        ds = self.a.items["dataset"].to_numpy()
        names = list(dict.fromkeys(ds.tolist()))
        groups = [(n, ds == n) for n in names]
        if len(names) > 1:
            groups.append((ALL, ds == ds))
        shared = [c for c in self.a.checks if c in set(self.b.checks)]
        rows = []
        for name, mask in groups:
            for check in [POLICY, *shared]:
                for metric, d in self._pair(mask, check).items():
                    rows.append({"dataset": name, "check": check, "metric": metric, **d})
        return pl.DataFrame(rows)

    @cached_property
    def disagreements(self) -> pl.DataFrame:
        """Items the two policies decide differently (caught vs not): label, both
        decisions and fired checks, which side is right, and the text."""
        import polars as pl

        a, b = self.a.items, self.b.items
        df = pl.DataFrame(
            {
                "dataset": a["dataset"],
                "id": a["id"],
                "label": a["label"],
                "caught_a": a["predicted"],
                "caught_b": b["predicted"],
                "decision_a": a["decision"],
                "decision_b": b["decision"],
                "fired_a": a["fired"],
                "fired_b": b["fired"],
                "text": a["text"],
            }
        ).filter(pl.col("caught_a") != pl.col("caught_b"))
        right = pl.when(pl.col("caught_b") == (pl.col("label") == 1)).then(pl.lit("B"))
        return df.with_columns(right=right.otherwise(pl.lit("A")))

    def summary(self) -> pl.DataFrame:
        """The policy's deltas only, one row per (dataset, metric)."""
        import polars as pl

        return self.deltas.filter(pl.col("check") == POLICY)

    def to_dict(self, examples: int = 20) -> dict[str, Any]:
        """Both results' policy metrics, the deltas and example disagreements."""
        import polars as pl

        pol = pl.col("check") == POLICY
        return finite(
            {
                "a": {
                    "policy": self.a.policy_id,
                    "hash": self.a.policy_hash,
                    "metrics": records(self.a.metrics.filter(pol)),
                    "timing": self.a.timing,
                },
                "b": {
                    "policy": self.b.policy_id,
                    "hash": self.b.policy_hash,
                    "metrics": records(self.b.metrics.filter(pol)),
                    "timing": self.b.timing,
                },
                "datasets": self.a.sets,
                "ci_metrics": list(CI_METRICS),
                "deltas": records(self.deltas),
                "disagreements": self.disagreements.height,
                "examples": records(self.disagreements.head(examples)),
            }
        )

    def to_json(self, path: str | Path | None = None, examples: int = 20) -> str:
        """Strict JSON; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(examples), indent=2, allow_nan=False, default=str)
        save_text(path, text + "\n")
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        """A self-contained HTML report; also written to ``path`` when given."""
        from workbench.analytics.evaluation._html import render_comparison

        html = render_comparison(self, standalone=True)
        save_text(path, html)
        return html

    def _repr_html_(self) -> str:
        from workbench.analytics.evaluation._html import render_comparison

        return render_comparison(self, standalone=False, examples=10)


async def compare_async(
    policy_a: PolicyLike, policy_b: PolicyLike, datasets: SetsLike = None, **kw: Any
) -> Comparison:
    """The async twin of :func:`compare`."""
    sets = resolve_sets(datasets, kw.pop("limit", None), kw.get("seed", 0))
    a = await evaluate_async(policy_a, sets, **kw)
    b = await evaluate_async(policy_b, sets, **kw)
    return Comparison(a, b)


def compare(
    policy_a: PolicyLike, policy_b: PolicyLike, datasets: SetsLike = None, **kw: Any
) -> Comparison:
    """Evaluate two policies on the same items (datasets and options as
    :func:`~workbench.analytics.evaluation.evaluate`) and compare them: deltas B - A with
    paired bootstrap CIs, and the items where they disagree."""
    return run_blocking(lambda: compare_async(policy_a, policy_b, datasets, **kw))


__all__ = ["Comparison", "compare", "compare_async"]
