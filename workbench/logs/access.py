"""The log lake as lazy DuckDB relations and polars frames; one record; explorer pages.

Everything here reads the Parquet files read-only (no lock, never in the LogSink's way)
and never runs an event loop, so it works inside Jupyter. Time filters are also applied
to the ``date``/``hour`` partition columns, so only the files of the hours in range are
opened. Values are always bound as SQL parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._db import consistent, cursor
from ._files import requests_source
from ._filters import Filters, Values, quote_ident
from ._time import TimeLike

if TYPE_CHECKING:
    import duckdb
    import polars as pl

Sample = float | int | None
SAMPLE_SEED = 42
_SAMPLE_SCALE = 1_000_000

PAGE_COLUMNS: tuple[str, ...] = (
    "received_at",
    "request_id",
    "workspace",
    "key_id",
    "user",
    "endpoint",
    "model_requested",
    "model_served",
    "status",
    "http_status",
    "error_code",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "cache_status",
    "stream",
)
"""The columns :func:`page` returns by default (no bodies: open one with :func:`get`)."""

TEXT_COLUMNS: tuple[str, ...] = ("request_body", "response_body", "request_original")
"""The columns :func:`page`'s ``text`` search looks in (those the lake has)."""


def _root(root: Path | None) -> Path:
    from workbench.home import logs_dir

    return (Path(root) if root is not None else logs_dir()).resolve()


def _select(columns: Sequence[str] | None) -> str:
    if columns is None:
        return "*"
    if isinstance(columns, str):
        columns = [columns]
    return ", ".join(quote_ident(c) for c in columns)


def _sample_sql(sql: str, params: list[object], sample: Sample) -> tuple[str, list[object]]:
    """Reproducible sampling by a hash of ``request_id`` (the same rows every time)."""
    if sample is None:
        return sql, params
    if isinstance(sample, bool) or not isinstance(sample, int | float) or sample <= 0:
        raise ValueError(f"sample must be a fraction in (0, 1] or a row count >= 1: {sample!r}")
    if isinstance(sample, float):
        if sample > 1:
            raise ValueError(f"a fractional sample must be at most 1: {sample!r}")
        cut = int(round(sample * _SAMPLE_SCALE))
        return (
            f"SELECT * FROM ({sql}) WHERE hash(request_id, ?::BIGINT) % {_SAMPLE_SCALE} < ?",
            [*params, SAMPLE_SEED, cut],
        )
    return (
        f"SELECT * FROM ({sql}) ORDER BY hash(request_id, ?::BIGINT) LIMIT ?",
        [*params, SAMPLE_SEED, int(sample)],
    )


def relation(
    since: TimeLike = None,
    until: TimeLike = None,
    workspace: Values = None,
    key: Values = None,
    model: Values = None,
    status: Values = None,
    sample: Sample = None,
    columns: Sequence[str] | None = None,
    root: Path | None = None,
) -> duckdb.DuckDBPyRelation:
    """The log as a lazy DuckDB relation (nothing is read until you ask for rows).

    ``since``/``until``: datetimes, ISO strings or durations before now (``"24h"``,
    ``"7d"``, ``"15m"``), half-open ``[since, until)``. ``workspace``/``key``/``model``
    (requested or served)/``status``: a value or a list. ``sample``: a fraction in
    ``(0, 1]`` or a row count, chosen by a hash of ``request_id`` (reproducible).
    ``columns``: the columns to keep (default all, plus ``date`` and ``hour``).

    Chain DuckDB operations on it (``.filter``, ``.aggregate``, ``.pl()``, ``.df()``...).
    It reads the files when executed: a compaction that swapped an hour's files between
    creating and running it raises ``duckdb.IOException``; build it again.
    """
    f = Filters.of(since, until, workspace, key, model, status)
    where, params = f.sql()
    cur = cursor()
    source = requests_source(_root(root), f.window)
    sql, params = _sample_sql(f"SELECT * FROM {source} WHERE {where}", params, sample)
    return cur.sql(f"SELECT {_select(columns)} FROM ({sql})", params=params)


def _polars_schema() -> pl.Schema:
    import polars as pl

    from workbench.logstore import schema

    base = pl.from_arrow(schema().empty_table())
    assert isinstance(base, pl.DataFrame)
    return pl.Schema({**base.schema, "date": pl.String(), "hour": pl.Int32()})


def scan(
    since: TimeLike = None,
    until: TimeLike = None,
    workspace: Values = None,
    key: Values = None,
    model: Values = None,
    status: Values = None,
    sample: Sample = None,
    columns: Sequence[str] | None = None,
    root: Path | None = None,
) -> pl.LazyFrame:
    """The log as a lazy polars frame (``pl.scan_parquet`` with hive partitions).

    Same arguments as :func:`relation`. Filters are pushed down (the partition filter
    prunes whole hours); files written before a migration read the new columns as null;
    an empty lake gives an empty frame with the full schema. Like any lazy scan, a
    compaction between building and collecting it may remove a file it listed: collect
    again.
    """
    import polars as pl

    requests = _root(root) / "requests"
    full = _polars_schema()
    if not any(requests.glob("**/*.parquet")):
        lf = pl.LazyFrame(schema=full)
    else:
        file_schema = pl.Schema({k: v for k, v in full.items() if k not in ("date", "hour")})
        lf = pl.scan_parquet(
            str(requests / "**" / "*.parquet"),
            hive_partitioning=True,
            hive_schema={"date": pl.String(), "hour": pl.Int32()},
            schema=file_schema,
            missing_columns="insert",
            extra_columns="ignore",
            hidden_file_prefix=".",
        )
    lf = lf.filter(Filters.of(since, until, workspace, key, model, status).expr())
    if sample is not None:
        lf = _sample_lazy(lf, sample)
    if columns is not None:
        lf = lf.select([columns] if isinstance(columns, str) else list(columns))
    return lf


def _sample_lazy(lf: pl.LazyFrame, sample: float | int) -> pl.LazyFrame:
    import polars as pl

    if isinstance(sample, bool) or not isinstance(sample, int | float) or sample <= 0:
        raise ValueError(f"sample must be a fraction in (0, 1] or a row count >= 1: {sample!r}")
    h = pl.col("request_id").hash(seed=SAMPLE_SEED)
    if isinstance(sample, float):
        if sample > 1:
            raise ValueError(f"a fractional sample must be at most 1: {sample!r}")
        return lf.filter(h % _SAMPLE_SCALE < int(round(sample * _SAMPLE_SCALE)))
    return lf.sort(h).head(int(sample))


def get(
    request_id: str,
    since: TimeLike = None,
    until: TimeLike = None,
    root: Path | None = None,
) -> dict[str, Any] | None:
    """One record as a dict (all columns), or ``None``. ``since``/``until`` narrow the
    hours searched when you know roughly when it happened."""
    f = Filters.of(since, until)
    where, params = f.sql()

    def run(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame:
        source = requests_source(_root(root), f.window)
        sql = f"SELECT * FROM {source} WHERE request_id = ? AND {where} LIMIT 1"
        return cur.sql(sql, params=[request_id, *params]).pl()

    df = consistent(_root(root), run)
    rows = df.to_dicts()
    return rows[0] if rows else None


@dataclass(frozen=True)
class Page:
    """One page of the log explorer: its rows and how many rows match in all.

    ``exact`` is False when ``total`` is a lower bound: a ``text`` or ``check`` search
    stops counting at :data:`workbench.logs.explorer.COUNT_CAP` matches (shown as
    ``"10,000+"`` by :attr:`total_label`).
    """

    rows: pl.DataFrame
    total: int
    offset: int
    limit: int
    exact: bool = True

    @property
    def total_label(self) -> str:
        """The total for display: ``"1,234"``, or ``"10,000+"`` when it is a lower bound."""
        return f"{self.total:,}" if self.exact else f"{self.total:,}+"
