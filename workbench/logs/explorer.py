"""Pages of the log for the log explorer: filters, text search, check name, LIMIT/OFFSET."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._db import consistent
from ._files import requests_source
from ._filters import Filters, Values, quote_ident
from ._time import TimeLike
from .access import PAGE_COLUMNS, TEXT_COLUMNS, Page, _root

if TYPE_CHECKING:
    import duckdb
    import polars as pl

_MAX_LIMIT = 10_000


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
    Returns the rows and the total number of matches (for remote pagination). The
    LIMIT/OFFSET run inside DuckDB; the two queries see the same files.
    """
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc': {order!r}")
    if not 0 < limit <= _MAX_LIMIT or offset < 0:
        raise ValueError(f"need 0 < limit <= {_MAX_LIMIT} and offset >= 0")
    f = Filters.of(since, until, workspace, key, model, status)
    where, params = f.sql()
    select = "*" if columns is None else ", ".join(quote_ident(c) for c in columns)

    def run(cur: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, int]:
        src = requests_source(_root(root), f.window)
        available = set(cur.sql(f"SELECT * FROM {src} LIMIT 0").columns)
        extra, extra_params = _conditions(available, text, check)
        cond = " AND ".join([where, *extra])
        args = [*params, *extra_params]
        count = cur.sql(f"SELECT count(*) AS n FROM {src} WHERE {cond}", params=args)
        total = count.fetchall()
        rows = cur.sql(
            f"SELECT {select} FROM {src} WHERE {cond} "
            f"ORDER BY received_at {order.upper()}, request_id LIMIT ? OFFSET ?",
            params=[*args, int(limit), int(offset)],
        ).pl()
        return rows, int(total[0][0]) if total else 0

    rows, total = consistent(_root(root), run)
    return Page(rows=rows, total=total, offset=offset, limit=limit)
