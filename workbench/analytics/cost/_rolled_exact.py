"""The exact-cache figures from the cost rollup (whole hours) and per-request rows (edges).

The merge across hours: a key's ``n`` and ``cost`` are sums; its first request (the one
that fills the cache entry) is the row with the smallest ``first_at``, and among rows
at that instant the smallest ``first_cost`` (the order ``(received_at, cost,
request_id)`` every path uses). Saving = the sum over keys seen more than once of
``cost - first_cost``, exactly what :func:`~.caching.exact_repeats` sums over the raw
rows. Examples: the first two requests of the three keys with the largest saving (ties
by key), read back from the few files that hold them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ._rolled import Plan, source, window_sql
from ._window import Window

if TYPE_CHECKING:
    import duckdb
    import polars as pl

_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class ExactTotals:
    """What the exact-cache suggestion reports."""

    usd: float
    hits: int
    distinct_repeated: int
    examples: list[str]


def key_hex(hi: int, lo: int) -> str:
    """The first 32 hex digits of the exact key from its two signed halves."""
    return f"{hi & _MASK:016x}{lo & _MASK:016x}"


def _singles(
    cur: duckdb.DuckDBPyConnection, window: Window, p: Plan, raw: pl.DataFrame
) -> pl.DataFrame:
    """Per-request rows ``key_hi, key_lo, at, c, id`` of the edge and unrolled hours."""
    import polars as pl

    from workbench.logstore._rollup_cost_compute import _keys

    parts = []
    if p.edge:
        where, params = window_sql(window, '"at"')
        sql = (
            'SELECT * FROM (SELECT key_hi, key_lo, unnest("at") AS "at", unnest(costs) AS c, '
            f"unnest(ids) AS id FROM {source(p.edge)} WHERE kind = 'key') WHERE {where}"
        )
        parts.append(cur.sql(sql, params=params).pl())
    if p.unrolled and raw.height:
        names = {f.name for f in p.unrolled}
        mine = raw.filter(pl.col("_file").is_in(names)) if "_file" in raw.columns else raw
        keyed = _keys(mine)
        parts.append(
            keyed.select(
                "key_hi",
                "key_lo",
                pl.col("received_at").alias("at"),
                "c",
                pl.col("request_id").alias("id"),
            )  # fmt: skip
        )
    parts = [x for x in parts if x.height]
    if not parts:
        return pl.DataFrame(
            schema={
                "key_hi": pl.Int64,
                "key_lo": pl.Int64,
                "at": pl.Datetime("us", "UTC"),
                "c": pl.Float64,
                "id": pl.String,
            }  # fmt: skip
        )
    return pl.concat([x.with_columns(pl.col("at").dt.convert_time_zone("UTC")) for x in parts])


def _whole_rows(cur: duckdb.DuckDBPyConnection, p: Plan) -> pl.DataFrame:
    import polars as pl

    if not p.whole:
        return pl.DataFrame(
            schema={
                "key_hi": pl.Int64,
                "key_lo": pl.Int64,
                "n": pl.Int64,
                "cost": pl.Float64,
                "first_at": pl.Datetime("us", "UTC"),
                "first_cost": pl.Float64,
                "f": pl.Int64,
            }  # fmt: skip
        )
    sql = (
        "SELECT key_hi, key_lo, n, cost, first_at, first_cost, file_index::BIGINT AS f "
        f"FROM {source(p.whole)} WHERE kind = 'key'"
    )
    return cur.sql(sql).pl().with_columns(pl.col("first_at").dt.convert_time_zone("UTC"))


def _examples(
    cur: duckdb.DuckDBPyConnection, p: Plan, rows: pl.DataFrame, singles: pl.DataFrame,
    keys: list[tuple[int, int]],
) -> list[str]:  # fmt: skip
    """The first two request ids of each key, in the order of ``keys``; one read of the
    few rollup files that can hold them."""
    import polars as pl

    want = pl.DataFrame(keys, schema={"key_hi": pl.Int64, "key_lo": pl.Int64}, orient="row")
    mine = rows.filter(pl.col("f") >= 0).join(want, on=["key_hi", "key_lo"])
    files: set[int] = set()
    for part in mine.sort("first_at", "first_cost").partition_by("key_hi", "key_lo"):
        if part.height > 2:  # the rows that can hold the first two (ties included)
            part = part.filter(pl.col("first_at") <= part["first_at"][1])
        files.update(part["f"].to_list())
    cands = [
        singles.join(want, on=["key_hi", "key_lo"]).select("key_hi", "key_lo", "at", "c", "id")
    ]
    if files:
        cond = " OR ".join("(key_hi = ? AND key_lo = ?)" for _ in keys)
        sql = (
            'SELECT key_hi, key_lo, unnest("at") AS "at", unnest(costs) AS c, unnest(ids) AS id '
            f"FROM {source([p.whole[f] for f in sorted(files)])} WHERE kind = 'key' AND ({cond})"
        )
        got = cur.sql(sql, params=[v for k in keys for v in k]).pl()
        cands.append(got.with_columns(pl.col("at").dt.convert_time_zone("UTC")))
    allc = pl.concat([c for c in cands if c.height]).sort("at", "c", "id")
    out: list[str] = []
    for hi, lo in keys:
        ids = allc.filter((pl.col("key_hi") == hi) & (pl.col("key_lo") == lo))["id"]
        out += ids.head(2).to_list()
    return out


def _repeated(rows: pl.DataFrame) -> pl.DataFrame:
    """Per key seen more than once: ``key_hi``, ``key_lo``, ``n``, ``saving``.

    A row whose ``key_hi`` no other row has is a key on its own (no merge: most keys
    live in one hour or day); only the rest are grouped by the full key.
    """
    import polars as pl

    shared = rows.select(pl.col("key_hi").is_duplicated()).to_series()
    alone = rows.filter(~shared).select("key_hi", "key_lo", "n", "cost", "first_cost")
    merged = (
        rows.filter(shared)
        .group_by("key_hi", "key_lo")
        .agg(
            pl.col("n").sum(),
            pl.col("cost").sum(),
            pl.col("first_cost").sort_by("first_at", "first_cost").first(),
        )
    )
    keys = pl.concat([alone, merged.select(alone.columns)])
    return keys.filter(pl.col("n") > 1).select(
        "key_hi", "key_lo", "n", (pl.col("cost") - pl.col("first_cost")).alias("saving")
    )


def exact_totals(
    cur: duckdb.DuckDBPyConnection, window: Window, p: Plan, raw: pl.DataFrame
) -> ExactTotals:
    """The exact-cache figures of the window (see the module docstring)."""
    import polars as pl

    singles = _singles(cur, window, p, raw)
    whole = _whole_rows(cur, p)
    rows = pl.concat(
        [
            whole,
            singles.select(
                "key_hi",
                "key_lo",
                pl.lit(1, pl.Int64).alias("n"),
                pl.col("c").alias("cost"),
                pl.col("at").alias("first_at"),
                pl.col("c").alias("first_cost"),
                pl.lit(-1, pl.Int64).alias("f"),
            ),  # fmt: skip
        ]
    )
    rep = _repeated(rows)
    if rep.is_empty():
        return ExactTotals(0.0, 0, 0, [])
    top = rep.with_columns(
        pl.col("key_hi").reinterpret(signed=False).alias("_hu"),
        pl.col("key_lo").reinterpret(signed=False).alias("_lu"),
    ).sort(["saving", "_hu", "_lu"], descending=[True, False, False])
    keys = [(int(hi), int(lo)) for hi, lo in top.select("key_hi", "key_lo").head(3).iter_rows()]
    examples = _examples(cur, p, rows, singles, keys)
    return ExactTotals(
        usd=float(rep["saving"].sum()),
        hits=int(rep["n"].sum() - rep.height),
        distinct_repeated=rep.height,
        examples=examples,
    )


def rolled_files(p: Plan) -> list[Path]:
    """Every cost-rollup file the plan reads."""
    return [*p.whole, *p.edge]
