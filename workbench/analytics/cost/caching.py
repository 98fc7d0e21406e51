"""What an exact cache and a semantic cache would have saved on the logged traffic.

Both use :mod:`workbench.cache.match`, the definition the gateway's caches use.

Exact cache: requests sharing an exact key; the first of each key is a miss (it fills
the entry), every later one a hit. Saving: the logged cost of the hits. No TTL or size
bound is applied, so this is the most an exact cache could have saved in the window.

Semantic cache: the first request of each exact key that the near-duplicate rule lets
a semantic cache serve (eligible, same scope, cosine >= threshold on the MiniLM
embeddings of the normalised conversations, second stage passed) from an entry stored
earlier. Entries are simulated in time order: a request that is served does not store
an entry of its own, one that is not served stores one. Saving: the logged cost of the
served requests. Later repeats of a served key count as exact hits, never twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.cache.match import NearDupRule, Signature, signature

from ._neighbours import earlier_neighbours
from ._types import Suggestion, per_month

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

Encode = Callable[[list[str]], "np.ndarray"]


def first_two(ex: list[dict[str, Any]]) -> list[str]:
    """The ids of the first two requests among ``{at, c, id}`` entries."""
    return [e["id"] for e in sorted(ex, key=lambda e: (e["at"], e["c"], e["id"]))[:2]]


def exact_repeats(keyed: pl.DataFrame, window_days: float) -> Suggestion | None:
    """The exact-cache suggestion from :func:`~._traffic.by_key` rows (None: no repeat)."""
    import polars as pl

    rep = keyed.filter(pl.col("n") > 1).with_columns(
        (pl.col("cost") - pl.col("first_cost")).alias("saving")
    )
    if rep.is_empty():
        return None
    top = rep.sort(["saving", "key"], descending=[True, False])
    examples = [i for ex in top["ex"].head(3).to_list() for i in first_two(ex)]
    hits = int(rep["n"].sum() - rep.height)
    return exact_suggestion(float(rep["saving"].sum()), hits, rep.height, examples, window_days)


def exact_suggestion(
    usd: float, hits: int, distinct: int, examples: list[str], window_days: float
) -> Suggestion | None:
    """The exact-cache suggestion from its figures (None: no repeat)."""
    if hits <= 0:
        return None
    return Suggestion(
        kind="exact_cache",
        title=f"Exact cache: {hits} repeated identical requests",
        detail=(
            f"{hits} requests repeated one of {distinct} earlier requests exactly (same "
            "workspace, model, policy, messages and answer-changing parameters). An exact "
            "cache would have answered them without an upstream call. Upper bound: no TTL "
            "or size limit assumed."
        ),
        usd_window=usd,
        usd_per_month=per_month(usd, window_days),
        billed=True,
        requests=hits,
        examples=examples,
        data={"distinct_repeated_requests": distinct},
    )


def _embed(texts: list[str], encode: Encode, batch: int = 4096) -> np.ndarray:
    import numpy as np

    parts = [encode(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)


def _scope_units(keyed: pl.DataFrame, max_texts: int) -> tuple[pl.DataFrame, int]:
    """Eligible units in scopes with at least two texts, largest scopes first, capped."""
    import polars as pl

    units = keyed.filter(pl.col("text").is_not_null())
    sizes = units.group_by("scope").agg(pl.len().alias("m")).filter(pl.col("m") > 1)
    sizes = sizes.sort("m", descending=True).with_columns(pl.col("m").cum_sum().alias("upto"))
    taken = sizes.filter(pl.col("upto") <= max_texts)
    chosen = units.join(taken.select("scope"), on="scope", how="semi")
    return chosen.sort("scope", "first_at"), int(sizes["m"].sum())


def _simulate(
    idx: Sequence[int],
    vecs: np.ndarray,
    texts: list[str],
    rule: NearDupRule,
    sigs: dict[int, Signature],
    stats: dict[str, int],
) -> list[int]:
    """Time-ordered cache simulation of one scope; returns the positions served."""
    stored: set[int] = set()
    served: list[int] = []
    found = {i: (js, cs) for i, js, cs in earlier_neighbours(vecs, rule.threshold)}
    for i in range(len(idx)):
        hit = False
        js, cs = found.get(i, ((), ()))
        for j, c in zip(js, cs, strict=True):
            if int(j) not in stored:
                continue
            stats["candidates"] += 1
            a = sigs.setdefault(idx[i], signature(texts[idx[i]]))
            b = sigs.setdefault(idx[int(j)], signature(texts[idx[int(j)]]))
            if rule.matches(float(c), a, b):
                hit = True
                break
            stats["second_stage_rejected"] += 1
        if hit:
            served.append(i)
        else:
            stored.add(i)
    return served


def near_duplicates(
    keyed: pl.DataFrame,
    window_days: float,
    encode: Encode,
    rule: NearDupRule,
    max_texts: int = 50_000,
) -> Suggestion | None:
    """The semantic-cache suggestion from :func:`~._traffic.by_key` rows."""
    import numpy as np
    import polars as pl

    units, eligible_texts = _scope_units(keyed, max_texts)
    if units.is_empty():
        return None
    distinct = units.select("text").unique(maintain_order=True)["text"].to_list()
    pos = {t: i for i, t in enumerate(distinct)}
    vectors = _embed(distinct, encode)
    stats = {"candidates": 0, "second_stage_rejected": 0}
    sigs: dict[int, Signature] = {}
    served_rows: list[int] = []
    offset = 0
    for part in units.partition_by("scope", maintain_order=True):
        tids = [pos[t] for t in part["text"].to_list()]
        served = _simulate(tids, vectors[np.asarray(tids)], distinct, rule, sigs, stats)
        served_rows += [offset + i for i in served]
        offset += part.height
    if not served_rows:
        return None
    hit = units.with_row_index("_r").filter(pl.col("_r").is_in(served_rows))
    usd = float(hit["first_cost"].sum())
    examples = [ids[0] for ids in hit.sort("first_cost", descending=True)["examples"].head(5)]
    covered = units.height
    return Suggestion(
        kind="semantic_cache",
        title=f"Semantic cache: {hit.height} near-duplicate requests",
        detail=(
            f"{hit.height} requests were near duplicates of an earlier request in the same "
            f"workspace, model and parameters (MiniLM cosine >= {rule.threshold}, second "
            "stage: numbers, dates, units, negations and names equal; temperature <= "
            f"{rule.max_temperature}; no tool calls) and not exact repeats. A semantic cache "
            "would have answered them. Checked "
            f"{covered} of {eligible_texts} eligible distinct requests."
        ),
        usd_window=usd,
        usd_per_month=per_month(usd, window_days),
        billed=True,
        requests=hit.height,
        examples=examples,
        data={
            "threshold": rule.threshold,
            "texts_embedded": len(distinct),
            "eligible_distinct_requests": eligible_texts,
            "checked_distinct_requests": covered,
            **stats,
        },
    )


def summarise(keyed: pl.DataFrame) -> dict[str, Any]:
    """Counts for the report notes."""
    return {"distinct_requests": keyed.height, "requests": int(keyed["n"].sum() or 0)}
