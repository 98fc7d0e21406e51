"""Pages of the log for the log explorer: filters, text search, check name, offset/limit.

A page does not sort the whole range: it walks the hour partitions newest first (oldest
first for ``order="asc"``; partitions split the log by ``received_at``, so their order is
the rows' order) and reads only the hours that hold the page's rows.

- Filters on time, workspace, key, model and status: each hour's match count comes from
  the rollups (:mod:`workbench.logs._page_count`), so the total is exact and cheap, and
  the page query reads exactly the hours between the offset and the page's end.
- A ``text`` or ``check`` search: the hours are read in growing batches (1, 2, 4, ...
  hours) until the page is full; counting stops at :data:`COUNT_CAP` matches
  (``Page.exact`` False, shown ``"10,000+"``). A rare term over a long range still reads
  every hour to count its matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ._db import EMPTY_TABLE, consistent
from ._files import hour_partitions, parquet_source
from ._filters import Filters, Values, quote_ident
from ._page_count import Hour, hour_counts
from ._time import TimeLike
from .access import PAGE_COLUMNS, TEXT_COLUMNS, Page, _root

if TYPE_CHECKING:
    import duckdb
    import polars as pl

_MAX_LIMIT = 10_000
COUNT_CAP = 10_000
"""A text or check search counts matches up to this many (then ``Page.exact`` is False)."""


def _conditions(
    available: set[str], text: str | None, check: str | None
) -> tuple[list[str], list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if text:
        cols = [c for c in TEXT_COLUMNS if c in available]
        if not cols:
            return ["FALSE"], []
        clauses.append("(" + " OR ".join(f"contains(lower({c}), ?)" for c in cols) + ")")
        params += [text.lower()] * len(cols)
    if check:
        clauses.append(
            "(contains(guardrail_verdicts, ?) AND list_contains("
            "CAST(json_extract_string(guardrail_verdicts, '$[*].check') AS VARCHAR[]), ?))"
        )
        params += [check, check]
    return clauses, params


@dataclass
class _Query:
    """The parts of a page query that do not depend on which hours it reads."""

    f: Filters
    select: str
    order: str
    text: str | None
    check: str | None

    def where(self, cur: duckdb.DuckDBPyConnection, src: str) -> tuple[str, list[object]]:
        where, params = self.f.sql()
        available: set[str] = set()
        if self.text:  # which body columns these files have
            available = set(cur.sql(f"SELECT * FROM {src} LIMIT 0").columns)
        extra, extra_params = _conditions(available, self.text, self.check)
        return " AND ".join([where, *extra]), [*params, *extra_params]

    def rows(
        self, cur: duckdb.DuckDBPyConnection, hours: list[Hour], limit: int, skip: int = 0
    ) -> pl.DataFrame:
        """Up to ``limit`` matching rows of ``hours`` in page order, after ``skip``."""
        src = _source(hours)
        cond, args = self.where(cur, src)
        return cur.sql(
            f"SELECT {self.select} FROM {src} WHERE {cond} "
            f"ORDER BY received_at {self.order}, request_id LIMIT ? OFFSET ?",
            params=[*args, int(limit), int(skip)],
        ).pl()


def _source(hours: list[Hour]) -> str:
    files = [p for _, _, fs in hours for p in fs]
    return parquet_source(files, union_by_name=True) if files else EMPTY_TABLE


def _counted(
    cur: duckdb.DuckDBPyConnection,
    root: Path,
    q: _Query,
    hours: list[Hour],
    offset: int,
    limit: int,
) -> tuple[pl.DataFrame, int, bool]:
    """Rows and exact total, reading only the hours that hold rows of the page."""
    counts = hour_counts(cur, root, q.f, hours)
    cum, skip = 0, 0
    chosen: list[Hour] = []
    for hour, n in zip(hours, counts, strict=True):
        if cum + n <= offset:  # wholly before the page
            cum += n
            continue
        if not chosen:
            skip = offset - cum
        chosen.append(hour)
        cum += n
        if cum >= offset + limit:
            break
    rows = q.rows(cur, chosen or hours[:1], limit if chosen else 0, skip)
    return rows, sum(counts), True


def _walked(
    cur: duckdb.DuckDBPyConnection, q: _Query, hours: list[Hour], offset: int, limit: int
) -> tuple[pl.DataFrame, int, bool]:
    """Rows by walking hour batches (1, 2, 4, ... hours); the count stops at
    :data:`COUNT_CAP`."""
    import polars as pl

    parts: list[pl.DataFrame] = []
    seen = counted = i = 0
    size, capped, end = 1, False, offset + limit
    while i < len(hours) and (seen < end or not capped):
        batch = hours[i : i + size]
        i, size = i + size, size * 2
        n: int | None = None
        if seen < end:
            got = q.rows(cur, batch, end - seen)
            parts.append(got)
            if got.height < end - seen:
                n = got.height  # the batch's every match
            seen += got.height
        if not capped:
            left = COUNT_CAP - counted
            if n is None:
                n = _count(cur, q, batch, left + 1)
            capped = n > left
            counted = COUNT_CAP if capped else counted + n
    rows = pl.concat(parts, how="diagonal_relaxed") if parts else q.rows(cur, hours[:1], 0)
    return rows.slice(offset, limit), counted, not capped and i >= len(hours)


def _count(cur: duckdb.DuckDBPyConnection, q: _Query, hours: list[Hour], cap: int) -> int:
    src = _source(hours)
    cond, args = q.where(cur, src)
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {src} WHERE {cond} LIMIT ?)"
    got = cur.sql(sql, params=[*args, int(cap)]).fetchall()
    return int(got[0][0])


def page(
    since: TimeLike = None,
    until: TimeLike = None,
    workspace: Values = None,
    key: Values = None,
    model: Values = None,
    status: Values = None,
    text: str | None = None,
    check: str | None = None,
    offset: int = 0,
    limit: int = 50,
    order: str = "desc",
    columns: Sequence[str] | None = PAGE_COLUMNS,
    root: Path | None = None,
) -> Page:
    """One page of matching records, newest first (``order="asc"``: oldest first).

    ``text``: case-insensitive substring of the request or response body (or the
    original request); ``check``: records whose ``guardrail_verdicts`` name that check.
    ``columns``: what each row holds (default :data:`PAGE_COLUMNS`; ``None`` for all).
    Returns the rows and the number of matches (``Page.total``): exact for filters on
    time, workspace, key, model and status (counted from the rollups); with ``text`` or
    ``check`` it stops at :data:`COUNT_CAP` (``Page.exact`` False). Every query of a
    page sees the same files (re-run if a compaction swapped some meanwhile).
    """
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc': {order!r}")
    if not 0 < limit <= _MAX_LIMIT or offset < 0:
        raise ValueError(f"need 0 < limit <= {_MAX_LIMIT} and offset >= 0")
    f = Filters.of(since, until, workspace, key, model, status)
    select = "*" if columns is None else ", ".join(quote_ident(c) for c in columns)
    q = _Query(f, select, order.upper(), text, check)
    base = _root(root)

    def run(cur: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, int, bool]:
        hours: list[Hour] = hour_partitions(base / "requests", f.window)
        if order == "desc":
            hours.reverse()
        if not hours:
            return q.rows(cur, [], limit), 0, True
        if not text and not check:
            return _counted(cur, base, q, hours, offset, limit)
        return _walked(cur, q, hours, offset, limit)

    rows, total, exact = consistent(base, run)
    return Page(rows=rows, total=total, offset=offset, limit=limit, exact=exact)
