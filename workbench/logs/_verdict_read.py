"""Failed-verdict counts from the verdict rollup for whole hours, raw rows for the rest.

An hour the window covers whole whose verdict-rollup files mirror its requests files
(:mod:`workbench.logstore._rollup_verdicts`) is read from those few rows; an hour cut by
the window's edges, or whose rollup is missing or behind, has its raw rows' verdicts
parsed. Both give per-group ``verdicts`` and ``requests`` that add up (a request lives in
one file), so the result equals the raw-row answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ._db import consistent
from ._files import hour_partitions, parquet_source
from ._filters import Filters
from ._rollup_read import _root, covers_hour

if TYPE_CHECKING:
    import duckdb
    import polars as pl

VERDICT_TYPE = (
    '[{"check": "VARCHAR", "validator": "VARCHAR", "stage": "VARCHAR", "passed": "BOOLEAN", '
    '"action": "VARCHAR", "mode": "VARCHAR", "spans": [{"reason": "VARCHAR"}]}]'
)
# one row per failed verdict of the raw rows of ``r``
FAILED = (
    'SELECT * EXCLUDE (v), v."check" AS "check", v.validator AS validator, v.stage AS stage, '
    "v.action AS action, coalesce(v.mode, 'enforce') AS mode, v.spans AS spans FROM ("
    "SELECT *, unnest(from_json(guardrail_verdicts, '" + VERDICT_TYPE + "')) AS v FROM r "
    "WHERE guardrail_verdicts IS NOT NULL AND contains(guardrail_verdicts, 'false')) "
    "WHERE NOT v.passed"
)
_KEYS = '"check", validator, stage, action, mode'


def plan(root: Path, f: Filters) -> tuple[list[Path], list[Path]]:
    """(verdict-rollup files, raw requests files) that answer the window of ``f``."""
    from workbench.logstore._rollup_verdicts import mirrored

    rolled: list[Path] = []
    raw: list[Path] = []
    end = f.window.end
    for date, hour, files in hour_partitions(root / "requests", f.window):
        start = datetime.strptime(date, "%Y-%m-%d").replace(hour=hour, tzinfo=UTC)
        if end is not None and start >= end:
            continue  # listed because the window ends on its first instant: no rows
        got = None
        if covers_hour(f, date, hour):
            got = mirrored(root, date, hour, [p.name for p in files])
        if got is None:
            raw += files
        else:
            rolled += got
    return rolled, raw


def _workspace_sql(f: Filters) -> tuple[str, list[object]]:
    if f.workspace is None:
        return "TRUE", []
    return f"workspace IN ({', '.join('?' for _ in f.workspace)})", list(f.workspace)


FLAGGED_SQL = "(action = 'flag' OR mode <> 'enforce')"
"""A failed verdict that flags without blocking (the review queue)."""


def _parts(
    f: Filters, rolled: list[Path], raw: list[Path], kind: str
) -> list[tuple[str, list[object]]]:
    """The partial-count queries of ``kind`` rows: rollup rows of whole hours, parsed raw
    rows of the rest."""
    parts: list[tuple[str, list[object]]] = []
    keys = f"{_KEYS}, " if kind == "check" else ""
    if rolled:
        where, params = _workspace_sql(f)
        src = parquet_source(rolled, union_by_name=False)
        sql = f"SELECT {keys}verdicts, requests FROM {src} WHERE kind = ? AND {where}"
        parts.append((sql, [kind, *params]))
    if raw:
        where, params = f.sql()
        src = parquet_source(raw, union_by_name=True)
        cols = "request_id, workspace, guardrail_verdicts, date, hour, received_at"
        failed = FAILED.replace("FROM r ", f"FROM (SELECT {cols} FROM {src} WHERE {where}) ")
        cond = f" WHERE {FLAGGED_SQL}" if kind == "flagged" else ""
        sql = (
            f"SELECT {keys}count(*) AS verdicts, count(DISTINCT request_id) AS requests "
            f"FROM ({failed}){cond}{' GROUP BY ALL' if keys else ''}"
        )
        parts.append((sql, params))
    return parts


def failed_counts(root: Path | None, f: Filters, *, kind: str = "check") -> pl.DataFrame:
    """Failed verdicts of the window with ``verdicts`` and ``requests``: per check,
    validator, stage, action and mode, most requests first (``kind="check"``), or one
    row: every failed verdict (``"any"``) or those that flag without blocking
    (``"flagged"``)."""
    if kind not in ("check", "any", "flagged"):
        raise ValueError(f"kind must be 'check', 'any' or 'flagged', not {kind!r}")
    base = _root(root)
    keys = f"{_KEYS}, " if kind == "check" else ""

    def run(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame:
        rolled, raw = plan(base, f)
        parts = _parts(f, rolled, raw, kind) or [(_empty_sql(keys), [])]
        union = " UNION ALL ".join(f"({sql})" for sql, _ in parts)
        args = [a for _, params in parts for a in params]
        group = ' GROUP BY ALL ORDER BY requests DESC, "check", action' if keys else ""
        text = (
            f"SELECT {keys}CAST(coalesce(sum(verdicts), 0) AS BIGINT) AS verdicts, "
            f"CAST(coalesce(sum(requests), 0) AS BIGINT) AS requests FROM ({union}){group}"
        )
        return cur.sql(text, params=args).pl()

    return consistent(base, run)


def _empty_sql(keys: str) -> str:
    cols = "".join(f"NULL::VARCHAR AS {k.strip()}, " for k in keys.split(",") if k.strip())
    return f"SELECT {cols}0::BIGINT AS verdicts, 0::BIGINT AS requests WHERE FALSE"


def hours_newest_first(root: Path | None, f: Filters) -> list[tuple[datetime, datetime]]:
    """The ``[start, end)`` of each hour of the window that holds requests files (cut to
    the window), newest first: where the newest examples are looked for first."""
    from datetime import timedelta

    out = []
    w = f.window
    for date, hour, _ in reversed(hour_partitions(_root(root) / "requests", w)):
        start = datetime.strptime(date, "%Y-%m-%d").replace(hour=hour, tzinfo=UTC)
        lo, hi = start, start + timedelta(hours=1)
        lo = max(lo, w.start) if w.start else lo
        hi = min(hi, w.end) if w.end else hi
        if lo < hi:
            out.append((lo, hi))
    return out
